"""The SMTP relay: one email to one recipient per send, from worker threads (SPEC §8).

``smtplib`` blocks, so each send runs in a thread (``trio.to_thread.run_sync``) under a
``CapacityLimiter`` of ``smtp_connections``: a slow relay occupies at most that many threads.
A thread cannot be cancelled, so every socket operation is bounded by a timeout computed
from the caller's deadline (``trio.current_effective_deadline()``).

Connections are kept between sends (at most one per limiter slot, each reused for up to
``MAX_PER_CONNECTION`` messages and dropped after ``IDLE_SECONDS`` unused): opening one costs
a TCP (and TLS) handshake, the greeting and EHLO, several times the cost of the message
itself. A kept connection that the relay has closed meanwhile is noticed at ``MAIL FROM``,
before anything was sent, and replaced once. After any error a connection is closed, never
reused.

Every send has exactly one recipient (the outbox holds one entry per subscriber), so a
relay refusing one address cannot hold back the others. The reply decides:
``accepted`` (2xx), ``temporary`` (4xx, connection refused or lost, timeout, TLS or login
failure, a refused sender — the relay's configuration, not this recipient: retry) and
``permanent`` (5xx for this recipient or this message: give up).
"""

from __future__ import annotations

import contextlib
import email.policy
import smtplib
import socket
import ssl
import time
from dataclasses import dataclass, field
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from io import BytesIO
from typing import Literal
from urllib.parse import unquote, urlsplit

import trio

Security = Literal["plain", "starttls", "tls"]
SendOutcome = Literal["accepted", "temporary", "permanent"]

SCHEMES: dict[str, tuple[Security, int]] = {
    "smtp": ("plain", 25),
    "smtp+starttls": ("starttls", 587),
    "smtps": ("tls", 465),
}
DEFAULT_TIMEOUT = 30.0
"""Bound of one send when the caller has no deadline."""
MAX_PER_CONNECTION = 100
"""Messages sent over one connection before it is closed (relays limit this too)."""
IDLE_SECONDS = 30.0
"""A kept connection unused for this long is closed rather than reused."""


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: SendOutcome
    detail: str
    """The relay's reply (``250 2.0.0 Ok``) or what went wrong."""


@dataclass(frozen=True, slots=True)
class RelayAddress:
    """Where the relay is and how to talk to it, from ``smtp_url``."""

    security: Security
    host: str
    port: int
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, url: str) -> RelayAddress:
        """``smtp://host[:25]``, ``smtp+starttls://user:pass@host[:587]``,
        ``smtps://host[:465]``; user and password are percent-decoded."""
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES or not parts.hostname:
            raise ValueError(f"not an SMTP URL: {parts.scheme}://{parts.hostname or ''}")
        security, default_port = SCHEMES[parts.scheme]
        user = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password is not None else None
        return cls(security, parts.hostname, parts.port or default_port, user, password)


@dataclass(slots=True)
class _Kept:
    connection: smtplib.SMTP
    sent: int
    idle_since: float


class _Refused(Exception):
    """A reply that ends this send: its outcome and text."""

    def __init__(self, outcome: SendOutcome, detail: str) -> None:
        super().__init__(detail)
        self.outcome: SendOutcome = outcome
        self.detail = detail


class _Stale(Exception):
    """A connection the relay has closed or is closing (421) at MAIL FROM: a kept one is
    replaced by a new one."""


class SmtpRelay:
    """Sends ``EmailMessage``s through one relay with at most ``connections`` at a time."""

    def __init__(
        self,
        address: RelayAddress,
        *,
        connections: int = 4,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        reuse: bool = True,
        local_hostname: str | None = None,
    ) -> None:
        self.address = address
        self.timeout = timeout
        self.reuse = reuse
        self._ssl = ssl_context or ssl.create_default_context()
        self._local_hostname = local_hostname or socket.gethostname() or "localhost"
        self._limiter = trio.CapacityLimiter(connections)
        # The threads get a limiter of their own of the same size: a task holding a slot of
        # ``_limiter`` always finds a thread, and trio's default thread limiter is not used.
        self._threads = trio.CapacityLimiter(connections)
        self._kept: list[_Kept] = []

    @classmethod
    def from_url(
        cls,
        smtp_url: str,
        *,
        connections: int = 4,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        reuse: bool = True,
    ) -> SmtpRelay:
        return cls(
            RelayAddress.parse(smtp_url),
            connections=connections,
            ssl_context=ssl_context,
            timeout=timeout,
            reuse=reuse,
        )

    async def send(self, message: EmailMessage) -> SendResult:
        """Send ``message`` (envelope from its ``From``, to its one ``To``) before the
        caller's deadline (or ``timeout``); never raises for the relay's answers or faults."""
        sender = parseaddr(str(message["From"] or ""))[1]
        recipients = [a for _, a in getaddresses([str(v) for v in message.get_all("To", [])])]
        if not sender or len(recipients) != 1 or not recipients[0]:
            return SendResult("permanent", "message needs one From and exactly one To address")
        async with self._limiter:
            remaining = trio.current_effective_deadline() - trio.current_time()
            remaining = min(remaining, self.timeout)
            if remaining <= 0:
                return SendResult("temporary", "deadline passed before sending")
            kept = self._take_kept()
            result, back = await trio.to_thread.run_sync(
                self._transfer,
                kept,
                sender,
                recipients[0],
                message,
                time.monotonic() + remaining,
                limiter=self._threads,
            )
            if back is not None and self.reuse and back.sent < MAX_PER_CONNECTION:
                back.idle_since = time.monotonic()
                self._kept.append(back)
            elif back is not None:
                _close(back.connection)
            return result

    def close(self) -> None:
        """Close the kept connections (without QUIT: the relay sees the socket close)."""
        while self._kept:
            _close(self._kept.pop().connection)

    def _take_kept(self) -> _Kept | None:
        now = time.monotonic()
        while self._kept:
            kept = self._kept.pop()
            if now - kept.idle_since < IDLE_SECONDS:
                return kept
            _close(kept.connection)
        return None

    # -- in the worker thread ---------------------------------------------------------------

    def _transfer(
        self,
        kept: _Kept | None,
        sender: str,
        recipient: str,
        message: EmailMessage,
        deadline: float,
    ) -> tuple[SendResult, _Kept | None]:
        """One message over a kept or a new connection; the connection comes back only
        when it is in a clean state (after a reply and RSET, not after an error)."""
        current = kept
        try:
            if current is not None:
                try:
                    return self._envelope(current, sender, recipient, message, deadline)
                except _Stale:
                    # The relay closed the kept connection while it was idle; nothing of
                    # this message was sent yet (MAIL FROM is the first command).
                    _close(current.connection)
                    current = None
            current = _Kept(self._connect(deadline), 0, 0.0)
            return self._envelope(current, sender, recipient, message, deadline)
        except (_Refused, _Stale, smtplib.SMTPException, OSError) as error:
            if current is not None:
                _close(current.connection)
            if isinstance(error, _Refused):
                return SendResult(error.outcome, error.detail), None
            return SendResult("temporary", _describe(error)), None

    def _connect(self, deadline: float) -> smtplib.SMTP:
        host, port = self.address.host, self.address.port
        timeout = _remaining(deadline)
        connection: smtplib.SMTP
        if self.address.security == "tls":
            connection = smtplib.SMTP_SSL(
                host,
                port,
                local_hostname=self._local_hostname,
                timeout=timeout,
                context=self._ssl,
            )
        else:
            connection = smtplib.SMTP(
                host, port, local_hostname=self._local_hostname, timeout=timeout
            )
        try:
            _set_timeout(connection, deadline)
            connection.ehlo()
            if self.address.security == "starttls":
                connection.starttls(context=self._ssl)
                connection.ehlo()
            if self.address.user is not None:
                connection.login(self.address.user, self.address.password or "")
        except BaseException:
            _close(connection)
            raise
        return connection

    def _envelope(
        self,
        kept: _Kept,
        sender: str,
        recipient: str,
        message: EmailMessage,
        deadline: float,
    ) -> tuple[SendResult, _Kept | None]:
        """MAIL FROM, RCPT TO, DATA; raises ``_Stale`` when the connection is found closed
        at MAIL FROM, ``_Refused`` before any command, SMTP/OS errors after."""
        connection = kept.connection
        international = not (sender + recipient).isascii()
        if international and not connection.has_extn("smtputf8"):
            raise _Refused("permanent", "the relay does not accept international addresses")
        data = _message_bytes(message, utf8=international)
        options: list[str] = ["SMTPUTF8"] if international else []
        if not data.isascii() and connection.has_extn("8bitmime"):
            options.append("BODY=8BITMIME")
        try:
            _set_timeout(connection, deadline)
            code, reply = connection.mail(sender, options)
        except (smtplib.SMTPServerDisconnected, ConnectionError) as error:
            raise _Stale(_describe(error)) from None
        if code == 421:
            raise _Stale(f"{code} {_text(reply)}")
        if code >= 300:
            # A refused sender is the relay's configuration (mail_from, login), not this
            # recipient: retry.
            detail = f"MAIL FROM refused: {code} {_text(reply)}"
            return self._after_reply(kept, "temporary", detail, deadline)
        _set_timeout(connection, deadline)
        code, reply = connection.rcpt(recipient)
        if code >= 300:
            detail = f"RCPT TO refused: {code} {_text(reply)}"
            return self._after_reply(kept, _refusal(code), detail, deadline)
        _set_timeout(connection, deadline)
        answer: bytes | str
        try:
            code, answer = connection.data(data)
        except smtplib.SMTPDataError as error:
            code, answer = error.smtp_code, error.smtp_error
        kept.sent += 1
        if code >= 300:
            detail = f"DATA refused: {code} {_text(answer)}"
            return self._after_reply(kept, _refusal(code), detail, deadline)
        return SendResult("accepted", f"{code} {_text(answer)}"), kept

    @staticmethod
    def _after_reply(
        kept: _Kept, outcome: SendOutcome, detail: str, deadline: float
    ) -> tuple[SendResult, _Kept | None]:
        """A refusal: the result stands; the connection is kept only if RSET succeeds."""
        try:
            _set_timeout(kept.connection, deadline)
            code, _ = kept.connection.rset()
        except (smtplib.SMTPException, OSError):
            code = 0
        if code != 250:
            _close(kept.connection)
            return SendResult(outcome, detail), None
        return SendResult(outcome, detail), kept


def _refusal(code: int) -> SendOutcome:
    return "permanent" if code >= 500 else "temporary"


def _message_bytes(message: EmailMessage, *, utf8: bool) -> bytes:
    """The message with CRLF line ends under its own policy (as ``smtplib.send_message``
    does): a message built to keep long headers on one line (``notify.messages``: RFC 8058
    wants ``List-Unsubscribe`` unfolded) is not refolded at 78 into RFC 2047 words."""
    out = BytesIO()
    own = message.policy
    wire = (
        own.clone(linesep="\r\n", utf8=utf8)
        if isinstance(own, email.policy.EmailPolicy)
        else email.policy.SMTPUTF8
        if utf8
        else email.policy.SMTP
    )
    BytesGenerator(out, policy=wire).flatten(message)
    return out.getvalue()


def _remaining(deadline: float) -> float:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("deadline passed")
    return remaining


def _set_timeout(connection: smtplib.SMTP, deadline: float) -> None:
    if connection.sock is None:
        raise smtplib.SMTPServerDisconnected("not connected")
    connection.sock.settimeout(_remaining(deadline))


def _close(connection: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError):
        connection.close()


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def _describe(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{error.smtp_code} {_text(error.smtp_error)}"
    if isinstance(error, _Stale):
        return str(error)
    if isinstance(error, TimeoutError | socket.timeout):
        return "timed out"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
