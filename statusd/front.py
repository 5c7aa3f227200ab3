"""A thin ASGI layer that answers ``GET``/``HEAD /api`` itself and passes the rest to Quart.

/api is the hot path during an outage. Its answer is a choice between three ready byte
strings (plain, gzip, 304), so going through Quart's request and response objects would
cost more than the answer itself. Everything else (and every other method on /api) goes to
the Quart app, which answers /api identically for tests and for ``OPTIONS``.
"""

from __future__ import annotations

import trio
from hypercorn.typing import (
    ASGIFramework,
    ASGIReceiveCallable,
    ASGISendCallable,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    HTTPScope,
    Scope,
)

from statusd.http_cache import header_value, negotiate
from statusd.metrics import Metrics
from statusd.state import StateHolder


class FrontApp:
    """ASGI app: /api from the state's ready bytes, everything else from ``inner``."""

    def __init__(self, state: StateHolder, inner: ASGIFramework, metrics: Metrics) -> None:
        self._state = state
        self._inner = inner
        self._metrics = metrics

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == "/api"
            and scope["method"] in ("GET", "HEAD")
            and not _has_body(scope)
        ):
            await self._serve_api(scope, send)
            return
        await self._inner(scope, receive, send)

    async def _serve_api(self, scope: HTTPScope, send: ASGISendCallable) -> None:
        view = self._state.view
        headers = scope["headers"]
        status, response_headers, body = negotiate(
            view.document,
            if_none_match=header_value(headers, b"if-none-match"),
            accept_encoding=header_value(headers, b"accept-encoding"),
            max_age=view.seconds_until_next_collection(trio.current_time()),
        )
        start: HTTPResponseStartEvent = {
            "type": "http.response.start",
            "status": status,
            "headers": response_headers,
        }
        await send(start)
        content: HTTPResponseBodyEvent = {
            "type": "http.response.body",
            "body": b"" if scope["method"] == "HEAD" else body,
            "more_body": False,
        }
        await send(content)
        self._metrics.request_served("/api", status)


def _has_body(scope: HTTPScope) -> bool:
    """A request that declares a body; left to Quart, which refuses it."""
    for name, value in scope["headers"]:
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0"):
            return True
    return False
