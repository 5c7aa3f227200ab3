"""Helpers for the ASGI-level tests of serve/: a Quart stand-in that can be held mid-request."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import trio
from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable, Scope

from statusd.metrics import Metrics
from statusd.serve.fastpath import FrontApp
from statusd.state.holder import StateHolder


class Inner:
    """An inner ASGI app that answers 204 once ``release`` is set, counting its calls."""

    def __init__(self) -> None:
        self.release = trio.Event()
        self.entered = trio.Event()
        self.calls: list[str] = []

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        assert scope["type"] == "http"
        self.calls.append(scope["path"])
        self.entered.set()
        await self.release.wait()
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def http_scope(
    path: str, method: str = "GET", headers: Sequence[tuple[bytes, bytes]] = (), query: bytes = b""
) -> Any:
    return {
        "type": "http",
        "path": path,
        "method": method,
        "headers": list(headers),
        "query_string": query,
    }


async def no_receive() -> Any:
    raise AssertionError("the front layer reads no request body")


def front_app() -> tuple[FrontApp, Inner]:
    inner = Inner()
    state = StateHolder(["sms"], 90.0)
    return FrontApp(state, inner, Metrics(["sms"])), inner
