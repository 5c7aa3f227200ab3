"""/api/sources (``statusd.serve.source_status``): one body per second or per change of state,
answered by the front layer and by Quart alike."""

from __future__ import annotations

import json
from typing import Any

import pytest
import trio
import trio.testing

from statusd.config import Settings
from statusd.metrics import Metrics
from statusd.serve.app import create_app
from statusd.serve.fastpath import FrontApp
from statusd.serve.source_status import SourcesBody
from tests.fakes import outcome
from tests.serve.asgi import Inner, http_scope, no_receive
from tests.serve.conftest import NAMES, Holder


async def collected(holder: Holder, name: str, error: str | None = None) -> None:
    await holder[1].send(outcome(name, None if error else [1], error=error))
    await trio.testing.wait_all_tasks_blocked()


async def test_the_body_is_kept_for_a_second_unless_the_state_changes(
    holder: Holder, autojump_clock: trio.testing.MockClock
) -> None:
    await collected(holder, "a")
    bodies = SourcesBody(holder[0], stale_after=90)
    first = bodies.current()
    await trio.sleep(0.5)
    assert bodies.current() is first  # half a second later: the same bytes
    await trio.sleep(0.6)
    aged = bodies.current()
    assert aged is not first  # a second later: built again, the ages have moved on
    assert json.loads(aged)["sources"]["a"]["age_seconds"] == pytest.approx(1.1, abs=0.01)
    await collected(holder, "a", error="HTTP 500")
    assert json.loads(bodies.current())["sources"]["a"]["error"] == "HTTP 500"  # at once


async def test_the_front_layer_answers_like_the_quart_route(holder: Holder) -> None:
    await collected(holder, "a")
    state = holder[0]
    bodies = SourcesBody(state, stale_after=90)
    inner, metrics = Inner(), Metrics(list(NAMES))
    front = FrontApp(state, inner, metrics, bodies)
    quart = create_app(state, Settings(), metrics, sources=bodies).test_client()
    for method in ("GET", "HEAD"):
        sent: list[Any] = []

        async def send(message: Any, sent: list[Any] = sent) -> None:
            sent.append(message)

        with trio.fail_after(5):
            await front(http_scope("/api/sources", method), no_receive, send)
        start, body = sent
        headers = {name.decode(): value.decode() for name, value in start["headers"]}
        expected = await (quart.get if method == "GET" else quart.head)("/api/sources")
        assert start["status"] == expected.status_code == 200
        assert await expected.get_data() == bodies.current()
        assert body["body"] == (bodies.current() if method == "GET" else b"")
        assert headers["cache-control"] == expected.headers["Cache-Control"] == "public, max-age=1"
        assert headers["content-length"] == str(len(bodies.current()))
        assert headers["content-type"] == expected.headers["Content-Type"] == "application/json"
    assert inner.calls == []  # Quart never saw them
    options: list[Any] = []

    async def keep(message: Any) -> None:
        options.append(message)

    inner.release.set()
    await front(http_scope("/api/sources", "OPTIONS"), no_receive, keep)
    assert inner.calls == ["/api/sources"]  # everything else is Quart's
