"""A real SMTP server for the tests: ``aiosmtpd`` in its controller thread on a free port of
127.0.0.1, recording what it accepted and refusing the recipients a test names.

Two ways in: ``smtp_server(sink)`` serves a ``Sink`` for one block (the delivery tests);
``SmtpSink`` (and the ``smtp_sink`` fixture) is a relay an end-to-end test points statusd at
and can stop and start again on the same port::

    def test_something(smtp_sink: SmtpSink) -> None:
        env = {"STATUSD_SMTP_URL": smtp_sink.url, "STATUSD_MAIL_FROM": "status@example.com"}
        smtp_sink.refuse("gone@example.com")      # 550 to that recipient
        smtp_sink.stop(); smtp_sink.start()       # relay down, back on the same port
        smtp_sink.wait_for(lambda got: len(got) >= 2, timeout=20)
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, Literal

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.support.certs import Certificates
from tests.support.ports import free_port

REFUSED = "550 5.1.1 No such user"
"""The reply ``SmtpSink.refuse`` gives by default: a permanent refusal of the recipient."""


@dataclass(frozen=True, slots=True)
class Received:
    mail_from: str
    recipients: tuple[str, ...]
    message: EmailMessage
    peer: tuple[str, int]
    """The client's address and port: one per connection."""
    raw: bytes = b""
    """The message as it came over the wire (headers exactly as the client folded them)."""

    @property
    def message_id(self) -> str:
        """The ``Message-ID`` without the whitespace a folded header keeps."""
        return str(self.message["Message-ID"] or "").strip()


@dataclass
class Sink:
    """The handler: accepted messages in order; ``refuse`` maps recipients to a reply;
    ``delay`` seconds pass before each message is accepted (a slow relay)."""

    refuse: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    delay: float = 0.0

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)  # aiosmtpd's own loop, in its thread
        content = envelope.original_content or b""
        parsed = message_from_bytes(content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        peer: Any = session.peer  # (host, port) for TCP; typed as a string by aiosmtpd
        with self.lock:
            self.received.append(
                Received(
                    str(envelope.mail_from),
                    tuple(envelope.rcpt_tos),
                    parsed,
                    (peer[0], peer[1]),
                    content,
                )
            )
        return "250 2.0.0 Message accepted"

    def messages(self) -> list[Received]:
        with self.lock:
            return list(self.received)


def _controller(
    sink: Sink,
    port: int,
    *,
    security: Literal["plain", "starttls", "tls"] = "plain",
    certificates: Certificates | None = None,
    login: tuple[str, str] | None = None,
) -> Controller:
    options: dict[str, Any] = {}
    if security != "plain":
        assert certificates is not None
        context = certificates.server_context()
        if security == "starttls":
            options.update(tls_context=context, require_starttls=True)
        else:
            options["ssl_context"] = context
    if login is not None:

        def authenticate(
            server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
        ) -> AuthResult:
            ok = isinstance(data, LoginPassword) and (
                (data.login.decode(), data.password.decode()) == login
            )
            return AuthResult(success=ok, handled=False)

        options.update(authenticator=authenticate, auth_required=True)
    return Controller(sink, hostname="127.0.0.1", port=port, **options)


@contextmanager
def smtp_server(
    sink: Sink,
    *,
    port: int | None = None,
    security: Literal["plain", "starttls", "tls"] = "plain",
    certificates: Certificates | None = None,
    login: tuple[str, str] | None = None,
) -> Iterator[int]:
    """Serve ``sink`` until the block ends; yields the port. ``starttls`` requires STARTTLS
    before anything else; ``login`` requires AUTH with that user and password."""
    port = port or free_port()
    controller = _controller(sink, port, security=security, certificates=certificates, login=login)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


class SmtpSink:
    """A plain SMTP relay on one port for a whole test: it can go down and come back."""

    def __init__(self, port: int | None = None, *, delay: float = 0.0) -> None:
        self.port = port or free_port()
        self.handler = Sink(delay=delay)
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        """statusd's ``smtp_url`` for this relay."""
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        """Serve on ``port`` (again); the messages received so far are kept."""
        if self._controller is None:
            controller = _controller(self.handler, self.port)
            controller.start()
            self._controller = controller

    def stop(self) -> None:
        """Close the port: connections are refused until ``start``."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def refuse(self, address: str, reply: str = REFUSED) -> None:
        """Answer ``RCPT TO:<address>`` with ``reply`` (default a permanent 550)."""
        self.handler.refuse[address] = reply

    def accept(self, address: str) -> None:
        """Take ``address`` again."""
        self.handler.refuse.pop(address, None)

    def messages(self) -> list[Received]:
        return self.handler.messages()

    def to(self, address: str) -> list[Received]:
        """The messages accepted for ``address``."""
        return [r for r in self.messages() if address in r.recipients]

    def wait_for(
        self, condition: Callable[[list[Received]], bool], *, timeout: float, why: str = ""
    ) -> list[Received]:
        """Poll the received messages every 20 ms until ``condition`` holds; fail after
        ``timeout`` seconds with what arrived."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.messages()
            if condition(got):
                return got
            if time.monotonic() > deadline:
                last = [(r.recipients, str(r.message["Subject"])) for r in got[-5:]]
                raise AssertionError(
                    f"sink: {why or 'condition'} not met in {timeout} s; "
                    f"{len(got)} messages, the last: {last}"
                )
            time.sleep(0.02)


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A running ``SmtpSink`` on a free port, stopped after the test."""
    sink = SmtpSink()
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()
