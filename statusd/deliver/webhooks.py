"""Webhook deliveries: one signed POST to a checked address (SPEC §8).

The URL is a visitor's input, so each delivery checks it again (``check_webhook_url``: DNS
answers change) and then connects to one of the *checked addresses*, never to the name
again; the name goes in ``Host`` and as the TLS server name (SNI), and the certificate is
verified for that name. No redirect is followed (a 3xx is a failure), at most
``MAX_ANSWER_BYTES`` of an answer are read, and the whole exchange has a deadline.

The request is written with h11 over ``trio.open_tcp_stream(address)`` and
``trio.SSLStream(server_hostname=name)``: one request per connection, no pool, no proxy
settings, no redirect logic to turn off, and the address used is the one in the code
rather than a network backend hook inside an HTTP client.

An answer is classified by its status: 2xx ``delivered`` (as soon as the status and headers
are in: the receiver has accepted, its body does not matter), 410 ``gone`` (unsubscribe),
anything else — other statuses, a refused URL, a connection or TLS error, a malformed
answer, the deadline — ``retry``.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import h11
import trio
from standardwebhooks import Webhook

from statusd.subscriptions.webhook_url import (
    CheckedUrl,
    Resolver,
    WebhookUrlError,
    check_webhook_url,
    resolve_host,
)

WebhookOutcome = Literal["delivered", "gone", "retry"]

DEFAULT_TIMEOUT = 10.0
"""Deadline of one delivery: resolving, connecting, TLS, sending, the answer's head."""
MAX_ANSWER_BYTES = 4096
"""Of an answer's body, at most this much is read (for the error note)."""
MAX_HEAD_BYTES = 8192
"""An answer whose status line and headers are longer is malformed."""
USER_AGENT = "statusd-webhooks"


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    outcome: WebhookOutcome
    detail: str
    status: int | None = None


def signed_headers(secret: str, message_id: str, body: bytes, at: float) -> dict[str, str]:
    """The Standard Webhooks headers of ``body``: ``webhook-id``, ``webhook-timestamp``
    (``at``, UNIX seconds) and ``webhook-signature`` (``v1,<base64 HMAC-SHA256>``)."""
    timestamp = datetime.fromtimestamp(int(at), tz=UTC)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at)),
        "webhook-signature": Webhook(secret).sign(message_id, timestamp, body),
    }


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """One delivery to make: ``body`` to ``url``, signed with ``secret``."""

    url: str
    secret: str
    message_id: str
    """The ``webhook-id``: the outbox entry's stable message id."""
    body: bytes
    content_type: str


@dataclass(slots=True)
class _Answer:
    status: int | None = None
    reason: str = ""
    head_of_body: bytes = b""


async def deliver_webhook(
    checked: CheckedUrl,
    body: bytes,
    headers: Mapping[str, str],
    *,
    content_type: str = "application/json",
    ssl_context: ssl.SSLContext | None = None,
    deadline: float,
) -> DeliveryResult:
    """POST ``body`` to ``checked`` (at one of its checked addresses) before ``deadline``
    (trio time); never raises for the receiver's answers or faults. Whatever part of the
    answer arrived by the deadline decides (a status without its whole body counts) —
    provided no enclosing cancel scope expires at the same time (it would take the
    cancellation and the partial answer with it)."""
    answer = _Answer()
    try:
        with trio.move_on_at(deadline):
            await _exchange(checked, body, headers, content_type, ssl_context, answer)
    except (OSError, trio.BrokenResourceError, h11.ProtocolError) as error:
        if answer.status is None:
            return DeliveryResult("retry", _describe(error))
    return _classify(answer)


def _classify(answer: _Answer) -> DeliveryResult:
    status = answer.status
    if status is None:
        return DeliveryResult("retry", "timed out")
    detail = f"{status} {answer.reason}".strip()
    if 200 <= status < 300:
        return DeliveryResult("delivered", detail, status)
    if status == 410:
        return DeliveryResult("gone", detail, status)
    if 300 <= status < 400:
        detail += " (redirects are not followed)"
    snippet = answer.head_of_body[:200].decode("utf-8", "replace").strip()
    return DeliveryResult("retry", f"{detail}: {snippet}" if snippet else detail, status)


async def _exchange(
    checked: CheckedUrl,
    body: bytes,
    headers: Mapping[str, str],
    content_type: str,
    ssl_context: ssl.SSLContext | None,
    answer: _Answer,
) -> None:
    """Send the request and fill ``answer`` as far as it gets (the caller's deadline may
    stop it at any point)."""
    url = checked.parsed
    tcp = await _connect(checked)
    stream: trio.abc.Stream = tcp
    try:
        if url.scheme == "https":
            tls = trio.SSLStream(
                tcp,
                ssl_context or ssl.create_default_context(),
                server_hostname=url.host,
                https_compatible=True,
            )
            await tls.do_handshake()
            stream = tls
        connection = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)
        request = h11.Request(
            method="POST",
            target=url.target,
            headers=[
                ("Host", _host_header(url.host, url.port, url.scheme)),
                ("User-Agent", USER_AGENT),
                ("Content-Type", content_type),
                ("Content-Length", str(len(body))),
                ("Connection", "close"),
                *headers.items(),
            ],
        )
        data = connection.send(request) or b""
        data += connection.send(h11.Data(data=body)) or b""
        data += connection.send(h11.EndOfMessage()) or b""
        await stream.send_all(data)
        while True:
            event = await _next_event(connection, stream)
            if isinstance(event, h11.Response):
                answer.status, answer.reason = event.status_code, event.reason.decode("latin-1")
                break
            if not isinstance(event, h11.InformationalResponse):
                raise h11.RemoteProtocolError(f"unexpected {type(event).__name__}")
        if 200 <= event.status_code < 300 or event.status_code == 410:
            return
        while len(answer.head_of_body) < MAX_ANSWER_BYTES:
            event = await _next_event(connection, stream)
            if not isinstance(event, h11.Data):
                return
            answer.head_of_body += bytes(event.data)[: MAX_ANSWER_BYTES - len(answer.head_of_body)]
    finally:
        await trio.aclose_forcefully(stream)


async def _connect(checked: CheckedUrl) -> trio.SocketStream:
    """A TCP connection to the first checked address that answers."""
    failure: OSError | None = None
    for address in checked.addresses:
        try:
            return await trio.open_tcp_stream(address, checked.parsed.port)
        except OSError as error:
            failure = error
    raise failure or OSError("no address to connect to")


async def _next_event(connection: h11.Connection, stream: trio.abc.Stream) -> object:
    while True:
        event = connection.next_event()
        if event is not h11.NEED_DATA:
            return event
        connection.receive_data(bytes(await stream.receive_some(MAX_HEAD_BYTES)))


def _host_header(host: str, port: int, scheme: str) -> str:
    name = f"[{host}]" if ":" in host else host
    default = 443 if scheme == "https" else 80
    return name if port == default else f"{name}:{port}"


def _describe(error: BaseException) -> str:
    """The underlying error: the TLS error under a broken stream, the refusal under
    trio's "all attempts to connect failed"."""
    shown = error
    cause = error.__cause__
    if isinstance(cause, BaseExceptionGroup) and cause.exceptions:
        shown = cause.exceptions[0]
    elif isinstance(error, trio.BrokenResourceError) and cause is not None:
        shown = cause
    text = str(shown)
    return f"{type(shown).__name__}: {text}" if text else type(shown).__name__


class WebhookClient:
    """Checks a webhook URL again and delivers to it, with at most ``concurrency``
    deliveries at a time; the deadline covers the DNS check and the request. Signatures
    are timestamped with ``now`` (the real UNIX time: receivers compare it with theirs)."""

    def __init__(
        self,
        *,
        allow_http: bool = False,
        allow_private: bool = False,
        concurrency: int = 16,
        timeout: float = DEFAULT_TIMEOUT,
        ssl_context: ssl.SSLContext | None = None,
        resolve: Resolver = resolve_host,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.allow_http = allow_http
        self.allow_private = allow_private
        self.timeout = timeout
        self._ssl = ssl_context or ssl.create_default_context()
        self._resolve = resolve
        self._now = now
        self._limiter = trio.CapacityLimiter(concurrency)

    async def post(self, request: WebhookRequest) -> DeliveryResult:
        """Check ``request.url`` again, sign the body and deliver it."""
        async with self._limiter:
            deadline = trio.current_time() + self.timeout
            checked: CheckedUrl | None = None
            # Only the check under this scope: deliver_webhook keeps what part of the
            # answer arrived by the same deadline, which an enclosing scope would discard.
            with trio.move_on_at(deadline):
                try:
                    checked = await check_webhook_url(
                        request.url,
                        allow_http=self.allow_http,
                        allow_private=self.allow_private,
                        resolve=self._resolve,
                    )
                except WebhookUrlError as error:
                    return DeliveryResult("retry", f"refused: {error}")
            if checked is None:
                return DeliveryResult("retry", "timed out resolving the host")
            headers = signed_headers(request.secret, request.message_id, request.body, self._now())
            return await deliver_webhook(
                checked,
                request.body,
                headers,
                content_type=request.content_type,
                ssl_context=self._ssl,
                deadline=deadline,
            )
