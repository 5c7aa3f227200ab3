"""A thin ASGI layer that answers ``GET``/``HEAD /api`` (and ``/api/sources``) itself and
passes the rest to Quart.

/api is the hot path during an outage. Its answer is a choice between three ready byte
strings (plain, gzip, 304), so going through Quart's request and response objects would
cost more than the answer itself; even the response headers are built once per document
version and max-age (``AnswerCache``), and the request headers are read in one pass.
Everything else (and every other method on /api, and ``/api?v=`` naming a version this
replica has not made: ``404``) goes to the Quart app, which answers /api identically for
tests and for ``OPTIONS``. ``/api/sources``, which every open page asks for every 10 s, is
answered from ``statusd.serve.source_status.SourcesBody`` the same way.
"""

from __future__ import annotations

from collections.abc import Iterable

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

from statusd.body.spill import SPAN_CHUNK_BYTES, Part
from statusd.metrics import Metrics
from statusd.serve.http_cache import AnswerCache, asks_unknown_version
from statusd.serve.source_status import SourcesBody
from statusd.state.holder import StateHolder


class FrontApp:
    """ASGI app: /api from the state's ready bytes, everything else from ``inner``."""

    def __init__(
        self,
        state: StateHolder,
        inner: ASGIFramework,
        metrics: Metrics,
        sources: SourcesBody | None = None,
    ) -> None:
        self._state = state
        self._sources = sources
        self._inner = inner
        self._metrics = metrics
        self._answers = AnswerCache()
        self._in_flight = 0
        self._idle = trio.Event()
        self._idle.set()

    @property
    def in_flight(self) -> int:
        """HTTP requests being answered right now (long SSE streams included)."""
        return self._in_flight

    async def wait_idle(self) -> None:
        """Return once no HTTP request is being answered (at once when none is)."""
        while self._in_flight:
            await self._idle.wait()

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] != "http":
            await self._inner(scope, receive, send)
            return
        if self._in_flight == 0:
            self._idle = trio.Event()
        self._in_flight += 1
        try:
            if (
                scope["path"] == "/api"
                and scope["method"] in _FRONT_METHODS
                and not asks_unknown_version(scope["query_string"], self._state.view.knows)
            ):
                conditions = _read_headers(scope["headers"])
                if conditions is not None:
                    await self._serve_api(scope, send, *conditions)
                    return
            elif (
                scope["path"] == "/api/sources"
                and self._sources is not None
                and scope["method"] in _FRONT_METHODS
                and _read_headers(scope["headers"]) is not None
            ):
                await self._sources.send(send, head=scope["method"] == "HEAD")
                self._metrics.request_served("/api/sources", 200)
                return
            await self._inner(scope, receive, send)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def _serve_api(
        self, scope: HTTPScope, send: ASGISendCallable, if_none_match: str, accept_encoding: str
    ) -> None:
        view = self._state.view
        status, response_headers, body = self._answers.answer(
            view.document,
            if_none_match=if_none_match,
            accept_encoding=accept_encoding,
            max_age=view.seconds_until_next_collection(trio.current_time()),
        )
        start: HTTPResponseStartEvent = {
            "type": "http.response.start",
            "status": status,
            "headers": response_headers,
        }
        await send(start)
        parts = () if scope["method"] == "HEAD" else body
        last = len(parts) - 1
        for index, part in enumerate(parts):
            await _send_part(send, part, more=index < last)
        if not parts:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        self._metrics.request_served("/api", status)


async def _send_part(send: ASGISendCallable, part: Part, *, more: bool) -> None:
    """One part of a body: bytes in one message; a span of a spill file (a big source's
    value) read in a thread a chunk at a time, so a cold page cache never stalls the loop."""
    if isinstance(part, bytes) or not part:
        await _send_chunk(send, part if isinstance(part, bytes) else b"", more=more)
        return
    offsets = range(0, len(part), SPAN_CHUNK_BYTES)
    for offset in offsets:
        chunk = await trio.to_thread.run_sync(part.read_chunk, offset)
        await _send_chunk(send, chunk, more=more or offset != offsets[-1])


async def _send_chunk(send: ASGISendCallable, chunk: bytes, *, more: bool) -> None:
    content: HTTPResponseBodyEvent = {
        "type": "http.response.body",
        "body": chunk,
        "more_body": more,
    }
    await send(content)


_FRONT_METHODS = frozenset({"GET", "HEAD"})


def _read_headers(headers: Iterable[tuple[bytes, bytes]]) -> tuple[str, str] | None:
    """``If-None-Match`` and ``Accept-Encoding`` (repeats joined), in one pass; None for a
    request that declares a body, which is left to Quart (``400``: /api takes none)."""
    if_none_match: list[str] = []
    accept_encoding: list[str] = []
    for name, value in headers:
        if name == b"if-none-match":
            if_none_match.append(value.decode("latin-1"))
        elif name == b"accept-encoding":
            accept_encoding.append(value.decode("latin-1"))
        elif name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0"):
            return None
    return ", ".join(if_none_match), ", ".join(accept_encoding)
