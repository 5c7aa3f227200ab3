"""``GET /api/sources``: each source's freshness, one body per second at most.

Every open page asks for it every 10 s while its stream is up and after each change (5,000
pages: 500 requests a second). Built per request through Quart it cost about 0.5 ms, more
than /api. So the body is kept until the state changes or a second has passed (its ages are
then at most a second behind, as ``max-age=1`` tells a cache), and the front layer
(``statusd.serve.fastpath``) answers GET and HEAD with it, as it does /api; Quart answers
the rest (``OPTIONS``, a request with a body) with the same bytes.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import trio
from hypercorn.typing import ASGISendCallable, HTTPResponseBodyEvent, HTTPResponseStartEvent

from statusd.body.jsonpieces import encode_json
from statusd.serve.http_cache import COMMON_HEADERS, Headers
from statusd.state.holder import SourceStatus, StateHolder, StateView

SOURCES_MAX_AGE_SECONDS = 1

SOURCES_CACHE_CONTROL = f"public, max-age={SOURCES_MAX_AGE_SECONDS}".encode()
"""A second-old copy is good enough, and a micro-cache in front then sends one request per
second upstream instead of one per page (10,000 at once right after a change)."""


def rfc3339(wall: float | None) -> str | None:
    """UNIX seconds as RFC 3339 UTC with a ``Z``, or None."""
    if wall is None:
        return None
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def source_summary(status: SourceStatus, view: StateView, now: float) -> dict[str, Any]:
    """One entry of /api/sources."""
    good = status.good
    age = None if status.good_at is None else round(max(0.0, now - status.good_at), 3)
    return {
        "ok": status.name in view.fresh and status.error is None,
        "fresh": status.name in view.fresh,
        "last_success": rfc3339(good.wall_time if good else None),
        "last_attempt": rfc3339(status.last_attempt_wall),
        "age_seconds": age,
        "error": status.error,
        "records": good.record_count if good else 0,
        "skipped": dict(good.skipped) if good else {},
        "duration_ms": None if status.duration is None else round(status.duration * 1000, 1),
    }


class SourcesBody:
    """The /api/sources answer of ``state``, rebuilt when the state changed or it is
    ``SOURCES_MAX_AGE_SECONDS`` old (trio's clock for ages and for the memo, wall time for
    ``generated_at``)."""

    def __init__(self, state: StateHolder, stale_after: float) -> None:
        self._state = state
        self._stale_after = stale_after
        self._view: StateView | None = None
        self._until = 0.0
        self._body = b""

    def current(self) -> bytes:
        view, now = self._state.view, trio.current_time()
        if view is not self._view or now >= self._until:
            self._body = encode_json(
                {
                    "stale_after": self._stale_after,
                    "generated_at": rfc3339(time.time()),
                    "sources": {
                        name: source_summary(status, view, now)
                        for name, status in view.sources.items()
                    },
                }
            )
            self._view, self._until = view, now + SOURCES_MAX_AGE_SECONDS
        return self._body

    def headers(self, body: bytes) -> Headers:
        return [
            (b"content-type", b"application/json"),
            *COMMON_HEADERS,
            (b"cache-control", SOURCES_CACHE_CONTROL),
            (b"content-length", str(len(body)).encode()),
        ]

    async def send(self, send: ASGISendCallable, *, head: bool) -> None:
        """The answer as ASGI messages (``head``: headers only)."""
        body = self.current()
        start: HTTPResponseStartEvent = {
            "type": "http.response.start",
            "status": 200,
            "headers": self.headers(body),
        }
        content: HTTPResponseBodyEvent = {
            "type": "http.response.body",
            "body": b"" if head else body,
            "more_body": False,
        }
        await send(start)
        await send(content)
