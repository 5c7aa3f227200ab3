"""A real SMTP server for the tests: ``aiosmtpd`` in its controller thread on a free port of
127.0.0.1, recording what it accepted and refusing the recipients a test names."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.deliver.certs import Certificates


@dataclass(frozen=True, slots=True)
class Received:
    mail_from: str
    recipients: tuple[str, ...]
    message: EmailMessage
    peer: tuple[str, int]
    """The client's address and port: one per connection."""
    raw: bytes = b""
    """The message as it came over the wire (dot-stuffing undone)."""


@dataclass
class Sink:
    """The handler: accepted messages in order; ``refuse`` maps recipients to a reply."""

    refuse: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


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
            ok = (
                isinstance(data, LoginPassword)
                and (
                    data.login.decode(),
                    data.password.decode(),
                )
                == login
            )
            return AuthResult(success=ok, handled=False)

        options.update(authenticator=authenticate, auth_required=True)
    controller = Controller(sink, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()
