"""The ceiling of the stack: a bare ASGI app on hypercorn's trio worker that returns the same
bytes as statusd's /api, with the same headers and hypercorn settings, and nothing else.

statusd's /api throughput is compared with this app's in the same run (bench/api_bench.py).
Run: ``python -m bench.bare_app --listen 127.0.0.1:PORT --plain F --gzip F --etag '"…"'``.
"""

from __future__ import annotations

import argparse
import signal
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import trio
from hypercorn.trio import serve
from hypercorn.typing import ASGIFramework, ASGIReceiveCallable, ASGISendCallable, Scope

from statusd.config import Settings, build_settings
from statusd.daemon import bind_listen_socket, hypercorn_config
from statusd.serve.http_cache import COMMON_HEADERS, Headers, gzip_etag


def fixed_responses(
    plain: bytes, gzipped: bytes, etag: str
) -> dict[str, tuple[int, Headers, bytes]]:
    """The three answers statusd gives for /api (plain, gzip, 304), built once."""

    def headers(tag: str, extra: Headers) -> Headers:
        return [
            *COMMON_HEADERS,
            (b"etag", tag.encode()),
            (b"cache-control", b"public, max-age=30"),
            (b"vary", b"Accept-Encoding"),
            *extra,
        ]

    json_type = (b"content-type", b"application/json")
    return {
        "plain": (200, headers(etag, [json_type, (b"content-length", b"%d" % len(plain))]), plain),
        "gzip": (
            200,
            headers(
                gzip_etag(etag),
                [
                    json_type,
                    (b"content-encoding", b"gzip"),
                    (b"content-length", b"%d" % len(gzipped)),
                ],
            ),
            gzipped,
        ),
        "304": (304, headers(etag, []), b""),
    }


class BareApp:
    """ASGI: any HTTP request gets one of three prepared answers, chosen by a header's presence."""

    def __init__(self, responses: dict[str, tuple[int, Headers, bytes]]) -> None:
        self._responses = responses

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        kind = "plain"
        for name, value in scope["headers"]:
            if name == b"if-none-match":
                kind = "304"
                break
            if name == b"accept-encoding" and b"gzip" in value:
                kind = "gzip"
        status, headers, body = self._responses[kind]
        await send(
            {"type": "http.response.start", "status": status, "headers": headers, "trailers": False}
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})


async def answer_lifespan(receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    """The ASGI lifespan protocol of an app with nothing to start or stop."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def serve_until_signal(app: ASGIFramework, settings: Settings) -> None:
    """Serve with statusd's own hypercorn settings until SIGTERM/SIGINT."""
    config = hypercorn_config(settings, bind_listen_socket(settings.listen).detach())
    stop = trio.Event()
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:

            async def watch() -> None:
                async for _ in signals:
                    stop.set()
                    return

            nursery.start_soon(watch)
            await serve(app, config, shutdown_trigger=stop.wait)
            nursery.cancel_scope.cancel()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listen", required=True, metavar="HOST:PORT")
    parser.add_argument("--plain", type=Path, required=True)
    parser.add_argument("--gzip", type=Path, required=True)
    parser.add_argument("--etag", required=True)
    args = parser.parse_args(argv)
    settings = build_settings([("flag", {"listen": args.listen})])
    app = BareApp(fixed_responses(args.plain.read_bytes(), args.gzip.read_bytes(), args.etag))
    trio.run(partial(serve_until_signal, app, settings))


if __name__ == "__main__":
    main()
