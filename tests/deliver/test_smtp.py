"""``statusd.deliver.smtp``: sends through a real SMTP server (aiosmtpd on a free port) in
plain, STARTTLS (with login) and implicit TLS, one recipient per send."""

from __future__ import annotations

import socket
from email import policy as email_policy
from email.message import EmailMessage

import pytest
import trio

from statusd.deliver.smtp import RelayAddress, SendResult, SmtpRelay
from statusd.notify.messages import EMAIL_POLICY
from tests.support.certs import Certificates
from tests.support.ports import free_port
from tests.support.smtp_sink import Sink, smtp_server

FROM = "status@example.com"


def email(to: str, subject: str = "SMS in Germany is degraded") -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Status <{FROM}>"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{subject.replace(' ', '.')}.{to}>"
    message.set_content("SMS in Germany: operational → degraded.\n.\nA line with a dot.\n")
    return message


def test_url_forms() -> None:
    assert RelayAddress.parse("smtp://relay") == RelayAddress("plain", "relay", 25)
    assert RelayAddress.parse("smtps://relay.example") == RelayAddress("tls", "relay.example", 465)
    address = RelayAddress.parse("smtp+starttls://me%40example.com:p%40ss%3Aw%2Frd@mx:2525")
    assert address == RelayAddress("starttls", "mx", 2525, "me@example.com", "p@ss:w/rd")
    assert RelayAddress.parse("smtp+starttls://mx").port == 587
    with pytest.raises(ValueError, match="not an SMTP URL"):
        RelayAddress.parse("http://relay")


async def test_plain_relay_gets_each_message_over_one_kept_connection() -> None:
    sink = Sink()
    with smtp_server(sink) as port:
        relay = SmtpRelay.from_url(f"smtp://127.0.0.1:{port}", connections=1)
        results = [await relay.send(email(f"user{i}@example.org")) for i in range(3)]
        relay.close()
    assert [r.outcome for r in results] == ["accepted"] * 3
    assert results[0].detail.startswith("250")
    received = sink.messages()
    assert [r.recipients for r in received] == [(f"user{i}@example.org",) for i in range(3)]
    assert {r.mail_from for r in received} == {FROM}
    assert received[0].message["Subject"] == "SMS in Germany is degraded"
    body = received[0].message.get_content().replace("\r\n", "\n")
    assert "operational → degraded" in body
    assert "\n.\nA line with a dot." in body  # dot-stuffing undone by the server
    assert len({r.peer for r in received}) == 1


async def test_a_message_keeps_its_own_line_length_on_the_wire() -> None:
    """The relay serialises with the message's policy (CRLF line ends): a notification's
    ``List-Unsubscribe`` (policy line length 998) arrives as one plain line, not folded at 78
    into RFC 2047 encoded words that mail providers do not read as RFC 8058."""
    url = "https://status.example.com/subscriptions/unsubscribe?token=" + "T" * 43
    message = email("user@example.org")
    message.policy = email_policy.default.clone(max_line_length=998)
    message["List-Unsubscribe"] = f"<{url}>"
    sink = Sink()
    with smtp_server(sink) as port:
        relay = SmtpRelay.from_url(f"smtp://127.0.0.1:{port}", connections=1)
        assert (await relay.send(message)).outcome == "accepted"
        relay.close()
    (received,) = sink.messages()
    assert f"\r\nList-Unsubscribe: <{url}>\r\n".encode() in received.raw
    assert b"\r\n\r\n" in received.raw
    assert b"\n" not in received.raw.replace(b"\r\n", b"")


async def test_one_connection_per_send_without_reuse() -> None:
    sink = Sink()
    with smtp_server(sink) as port:
        relay = SmtpRelay.from_url(f"smtp://127.0.0.1:{port}", reuse=False)
        for i in range(3):
            assert (await relay.send(email(f"user{i}@example.org"))).outcome == "accepted"
    assert len({r.peer for r in sink.messages()}) == 3


async def test_starttls_with_login(certificates: Certificates) -> None:
    sink = Sink()
    login = ("me@example.com", "p@ss:w/rd")
    with smtp_server(sink, security="starttls", certificates=certificates, login=login) as port:
        url = f"smtp+starttls://me%40example.com:p%40ss%3Aw%2Frd@localhost:{port}"
        relay = SmtpRelay.from_url(url, ssl_context=certificates.client_context())
        good = await relay.send(email("a@example.org"))
        wrong = SmtpRelay.from_url(
            f"smtp+starttls://me%40example.com:nope@localhost:{port}",
            ssl_context=certificates.client_context(),
        )
        refused_login = await wrong.send(email("b@example.org"))
        relay.close()
    assert good.outcome == "accepted"
    assert refused_login.outcome == "temporary"  # the relay's configuration: keep the entry
    assert "535" in refused_login.detail
    assert [r.recipients for r in sink.messages()] == [("a@example.org",)]


async def test_starttls_verifies_the_certificate(certificates: Certificates) -> None:
    sink = Sink()
    with smtp_server(sink, security="starttls", certificates=certificates) as port:
        relay = SmtpRelay.from_url(f"smtp+starttls://localhost:{port}")  # system CAs only
        result = await relay.send(email("a@example.org"))
    assert result.outcome == "temporary"
    assert "CERTIFICATE_VERIFY_FAILED" in result.detail
    assert sink.messages() == []


async def test_implicit_tls(certificates: Certificates) -> None:
    sink = Sink()
    with smtp_server(sink, security="tls", certificates=certificates) as port:
        relay = SmtpRelay.from_url(
            f"smtps://localhost:{port}", ssl_context=certificates.client_context()
        )
        result = await relay.send(email("a@example.org"))
        relay.close()
    assert result.outcome == "accepted"
    assert [r.recipients for r in sink.messages()] == [("a@example.org",)]


async def test_a_refused_recipient_does_not_hold_back_the_others() -> None:
    sink = Sink(
        refuse={
            "gone@example.org": "550 5.1.1 No such user",
            "full@example.org": "452 4.2.2 Mailbox full",
        }
    )
    addresses = ["a@example.org", "gone@example.org", "b@example.org", "full@example.org"]
    results: dict[str, SendResult] = {}
    with smtp_server(sink) as port:
        relay = SmtpRelay.from_url(f"smtp://127.0.0.1:{port}", connections=2)

        async def send(to: str) -> None:
            results[to] = await relay.send(email(to))

        async with trio.open_nursery() as nursery:
            for to in addresses:
                nursery.start_soon(send, to)
        after = await relay.send(email("c@example.org"))  # the kept connection still works
        relay.close()
    assert results["a@example.org"].outcome == "accepted"
    assert results["b@example.org"].outcome == "accepted"
    assert results["gone@example.org"] == SendResult(
        "permanent", "RCPT TO refused: 550 5.1.1 No such user"
    )
    assert results["full@example.org"].outcome == "temporary"
    assert after.outcome == "accepted"
    delivered = sorted(r.recipients[0] for r in sink.messages())
    assert delivered == ["a@example.org", "b@example.org", "c@example.org"]


async def test_relay_down_then_back() -> None:
    port = free_port()
    relay = SmtpRelay.from_url(f"smtp://127.0.0.1:{port}")
    down = await relay.send(email("a@example.org"))
    assert down.outcome == "temporary"
    assert "ConnectionRefusedError" in down.detail
    sink = Sink()
    with smtp_server(sink, port=port):
        back = await relay.send(email("a@example.org"))
        relay.close()
    assert back.outcome == "accepted"
    assert len(sink.messages()) == 1


async def test_a_kept_connection_closed_by_the_relay_is_replaced() -> None:
    port = free_port()
    sink = Sink()
    relay = SmtpRelay.from_url(f"smtp://127.0.0.1:{port}", connections=1)
    with smtp_server(sink, port=port):
        assert (await relay.send(email("a@example.org"))).outcome == "accepted"
    with smtp_server(sink, port=port):  # a restarted relay: the kept connection is dead
        assert (await relay.send(email("b@example.org"))).outcome == "accepted"
        relay.close()
    assert [r.recipients[0] for r in sink.messages()] == ["a@example.org", "b@example.org"]
    assert len({r.peer for r in sink.messages()}) == 2


async def test_a_silent_relay_is_bounded_by_the_deadline() -> None:
    with socket.socket() as silent:  # accepts connections (backlog), never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        relay = SmtpRelay.from_url(f"smtp://127.0.0.1:{port}")
        with trio.move_on_after(0.3):
            result = await relay.send(email("a@example.org"))
    assert result.outcome == "temporary"
    assert "timed out" in result.detail


async def test_a_message_without_one_recipient_is_refused_before_sending() -> None:
    relay = SmtpRelay.from_url("smtp://127.0.0.1:1")
    message = email("a@example.org, b@example.org")
    assert (await relay.send(message)).outcome == "permanent"


async def test_headers_keep_the_message_policy_on_the_wire() -> None:
    """A message built with a long-line policy (``notify.messages``: RFC 8058 headers must
    stay one line) goes out as built: neither folded nor turned into RFC 2047 words."""
    message = email("ana@example.org")
    message.policy = EMAIL_POLICY
    url = "https://status.example.com/subscriptions/unsubscribe?token=" + "T" * 43
    message["List-Unsubscribe"] = f"<{url}>"
    del message["Message-ID"]
    message["Message-ID"] = "<msg_0123456789abcdef01234567_sub_AbCdEfGhIjKlMnOpQrStUv@example.com>"
    sink = Sink()
    with smtp_server(sink) as port:
        relay = SmtpRelay.from_url(f"smtp://127.0.0.1:{port}")
        assert (await relay.send(message)).outcome == "accepted"
        relay.close()
    raw = sink.messages()[0].raw
    assert f"\r\nList-Unsubscribe: <{url}>\r\n".encode() in raw
    assert b"\r\nMessage-ID: <msg_0123456789abcdef01234567_sub_" in raw
    assert b"=?utf-8?" not in raw
    assert b"\n\n" not in raw.replace(b"\r\n", b"")  # CRLF line ends throughout
