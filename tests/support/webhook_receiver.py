"""A real webhook receiver for the tests: hypercorn (TLS with the test certificate, or plain
HTTP) serving a small ASGI app on a free port of 127.0.0.1. ``/hook`` verifies the Standard
Webhooks signature with the ``standardwebhooks`` package; other paths misbehave on purpose.

In a trio test it runs in the test's nursery (``receiving``); beside real processes, in a
synchronous test, in a thread of its own (``receiver_thread``)::

    receiver = Receiver()
    with receiver_thread(receiver) as port:
        ...subscribe f"http://127.0.0.1:{port}/hook"; receiver.secret = the answer's secret
        receiver.answer_next(500)            # the next /hook request gets 500, then normal
        receiver.wait_for(lambda r: len(r.deliveries) == 1, timeout=20)
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable, Scope
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.support.certs import Certificates

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@dataclass(frozen=True, slots=True)
class Delivery:
    headers: dict[str, str]
    body: bytes
    payload: Any
    """The body as ``Webhook.verify`` returned it (parsed JSON)."""


Answer = int | Literal["hang"]
"""A scripted answer of ``/hook``: a status code, or never answering."""


@dataclass
class Receiver:
    """``/hook`` → 200 when the signature verifies (401 otherwise), unless answers were
    scripted with ``answer_next``; ``/status/<code>`` → that status (``Location: /hook`` for
    3xx); ``/hang`` → never answers; ``/drip/<code>`` → that status, then a body of one byte
    per second. ``attempts`` has every request to ``/hook`` (headers, body), answered or not."""

    secret: str = SECRET
    deliveries: list[Delivery] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    hits: list[str] = field(default_factory=list)
    attempts: list[Delivery] = field(default_factory=list)
    script: deque[Answer] = field(default_factory=deque)

    def answer_next(self, *answers: Answer) -> None:
        """The next requests to ``/hook`` get these answers (a status or ``"hang"``), in
        order, whatever their signature; after them ``/hook`` verifies and answers 200."""
        self.script.extend(answers)

    def wait_for(self, condition: Callable[[Receiver], bool], *, timeout: float) -> None:
        """Poll (from another thread than the receiver's) every 20 ms until ``condition``."""
        deadline = time.monotonic() + timeout
        while not condition(self):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"receiver: condition not met in {timeout} s; hits {self.hits}, "
                    f"{len(self.deliveries)} deliveries, refused {self.refused}"
                )
            time.sleep(0.02)

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            assert message["type"] == "http.request"
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        path: str = scope["path"]
        self.hits.append(path)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if path == "/hook":
            self.attempts.append(Delivery(headers, body, None))
            if self.script:
                answer = self.script.popleft()
                if answer == "hang":
                    await trio.sleep_forever()
                else:
                    await _answer(send, answer, f"receiver says {answer}".encode())
                return
            try:
                payload = Webhook(self.secret).verify(body, headers)
            except WebhookVerificationError as error:
                self.refused.append(str(error))
                await _answer(send, 401, b"bad signature")
                return
            self.deliveries.append(Delivery(headers, body, payload))
            await _answer(send, 200, b"thanks")
        elif path.startswith("/status/"):
            status = int(path.rsplit("/", 1)[1])
            extra = [(b"location", b"/hook")] if 300 <= status < 400 else []
            await _answer(send, status, f"receiver says {status}".encode(), extra)
        elif path == "/hang":
            await trio.sleep_forever()
        elif path.startswith("/drip/"):
            status = int(path.rsplit("/", 1)[1])
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [(b"content-length", b"100000")],
                }
            )
            while True:
                await send({"type": "http.response.body", "body": b"x", "more_body": True})
                await trio.sleep(1)
        else:
            await _answer(send, 404, b"no such hook")


async def _answer(
    send: ASGISendCallable,
    status: int,
    body: bytes,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-length", str(len(body)).encode()), *(extra or [])],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


@asynccontextmanager
async def receiving(receiver: Receiver, certificates: Certificates | None) -> AsyncIterator[int]:
    """Serve ``receiver`` (HTTPS with ``certificates``, else HTTP) until the block ends;
    yields the port."""
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.graceful_timeout = 0.1
    if certificates is not None:
        config.certfile = str(certificates.cert_file)
        config.keyfile = str(certificates.key_file)
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        binds: list[str] = await nursery.start(
            lambda task_status: serve(
                receiver,
                config,
                shutdown_trigger=stop.wait,
                task_status=task_status,
            )
        )
        yield int(binds[0].rsplit(":", 1)[1])
        stop.set()
        nursery.cancel_scope.cancel()


async def drip_head(stream: trio.SocketStream) -> None:
    """A raw HTTP server that reads a request and answers its status line a byte a second."""
    await stream.receive_some(65536)
    for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n":
        await stream.send_all(bytes([byte]))
        await trio.sleep(1)


@contextmanager
def receiver_thread(
    receiver: Receiver, certificates: Certificates | None = None, *, timeout: float = 10.0
) -> Iterator[int]:
    """``receiving`` in a thread with its own trio loop, for synchronous tests; yields the
    port once it serves and stops the server (and a hanging request) when the block ends."""
    started: list[tuple[int, trio.lowlevel.TrioToken, trio.Event]] = []
    ready = threading.Event()
    failed: list[BaseException] = []

    async def main() -> None:
        stop = trio.Event()
        async with receiving(receiver, certificates) as port:
            started.append((port, trio.lowlevel.current_trio_token(), stop))
            ready.set()
            await stop.wait()

    def run() -> None:
        try:
            trio.run(main)
        except BaseException as error:  # reported by the test's thread
            failed.append(error)
            ready.set()

    thread = threading.Thread(target=run, name="webhook-receiver", daemon=True)
    thread.start()
    if not ready.wait(timeout) or failed:
        raise RuntimeError(f"the webhook receiver did not start: {failed}")
    port, token, stop = started[0]
    try:
        yield port
    finally:
        trio.from_thread.run_sync(stop.set, trio_token=token)
        thread.join(timeout)
        if thread.is_alive():
            raise RuntimeError(f"the webhook receiver did not stop within {timeout} s")
