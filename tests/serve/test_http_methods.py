"""Path, then method, then body (SPEC §4): every route × method × body, through the front
layer (which answers GET/HEAD /api itself) and through the Quart app alone."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trio
from hypercorn.typing import ASGIFramework, ASGIReceiveEvent, ASGISendEvent, Scope
from quart_trio import QuartTrio

from statusd.config import Settings
from statusd.history.reader import HistoryReader
from statusd.metrics import Metrics
from statusd.serve.app import create_app
from statusd.serve.fastpath import FrontApp
from statusd.serve.request_rules import NO_BODY_ERROR, read_body, takes_body
from statusd.serve.status_routes import register_public_routes
from statusd.state.holder import StateHolder
from tests.support.public_state import open_public_state

NOW = time.time()
METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "TRACE", "PROPFIND")
BODIES = {"none": None, "small": b"{}", "big": b"x" * (64 * 1024)}

SUBSCRIPTION_LIMIT = 16 * 1024  # SPEC §8

# Every route of the daemon's app: an example target and what GET answers with no body.
ROUTES: dict[str, tuple[str, int]] = {
    "/api": ("/api", 200),
    "/healthz": ("/healthz", 200),
    "/readyz": ("/readyz", 503),
    "/api/sources": ("/api/sources", 200),
    "/api/events": ("/api/events", 200),
    "/metrics": ("/metrics", 200),
    "/": ("/", 200),
    "/<webfile:path>": ("/app.js", 200),
    "/api/v2/<statuspage:name>.json": ("/api/v2/summary.json", 200),
    "/api/verdicts": ("/api/verdicts", 200),
    "/api/history": ("/api/history?product=sms&country=DE", 200),
    "/api/history.csv": ("/api/history.csv", 200),
    "/feed.atom": ("/feed.atom", 200),
    "/i18n/page.json": ("/i18n/page.json?want=ru", 200),
    "/badge/<product>/<key>.svg": ("/badge/sms/DE.svg", 200),
    "/badge/<name>.svg": ("/badge/overall.svg", 200),
}
UNKNOWN_PATHS = (
    "/nowhere",
    "/api/v2/nothing.json",
    "/api/nothing",
    "/app.js/more",
    "/.hidden",
    "/sub",
    "/badge",
)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    reached_quart: bool


class Recorder:
    """The Quart app, noting whether a request reached it."""

    def __init__(self, inner: QuartTrio) -> None:
        self.inner = inner
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        self.calls += 1
        await self.inner(scope, receive, send)


async def call(
    app: ASGIFramework,
    recorder: Recorder,
    method: str,
    target: str,
    body: bytes | None,
    *,
    chunked: bool = False,
) -> Answer:
    """One request through ``app`` as hypercorn would make it; an endless response (SSE)
    is cut after its first body message."""
    path, _, query = target.partition("?")
    headers = [(b"host", b"127.0.0.1")]
    if body is not None:
        framing = (
            (b"transfer-encoding", b"chunked")
            if chunked
            else (b"content-length", str(len(body)).encode())
        )
        headers.append(framing)
    scope: Any = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }
    pieces = [body[: len(body) // 2], body[len(body) // 2 :]] if body else [b""]
    sent: list[Any] = []
    done = trio.Event()
    calls_before = recorder.calls

    async def receive() -> ASGIReceiveEvent:
        if pieces:
            chunk = pieces.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(pieces)}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: ASGISendEvent) -> None:
        sent.append(message)
        if message["type"] == "http.response.body":
            start_headers = dict(sent[0]["headers"])
            stream = start_headers.get(b"content-type", b"").startswith(b"text/event-stream")
            if stream or not message.get("more_body", False):
                done.set()

    async def run() -> None:
        await app(scope, receive, send)
        done.set()

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run)
            await done.wait()
            nursery.cancel_scope.cancel()
    response_headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    body_out = b"".join(m.get("body", b"") for m in sent[1:])
    return Answer(sent[0]["status"], response_headers, body_out, recorder.calls > calls_before)


@pytest.fixture(scope="module")
def web_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    web = tmp_path_factory.mktemp("web")
    (web / "index.html").write_text("<!doctype html><title>status</title>")
    (web / "app.js").write_text("export {};")
    (web / ".hidden").write_text("secret")
    (web / "sub").mkdir()
    return web


def bodied_routes(app: QuartTrio) -> None:
    """A write route as SPEC §8's subscription routes will be: POST, a body up to 16 KiB."""

    @app.route("/test/subscriptions", methods=["POST"])
    @takes_body(SUBSCRIPTION_LIMIT)
    async def subscribe() -> dict[str, int]:
        return {"received": len(await read_body())}


@pytest.fixture(scope="module")
def apps(
    web_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, tuple[ASGIFramework, Recorder]]]:
    """The daemon's app (routes of SPEC §4 and §7), in front and alone, and one with a
    bodied route; requests change nothing in them, so one set serves every case."""
    path = tmp_path_factory.mktemp("history") / "history.sqlite3"
    store, public, _ = open_public_state(path, NOW)
    state = StateHolder(("a", "b"), stale_after=90)
    metrics = Metrics(["a", "b"])

    def public_routes(app: QuartTrio) -> None:
        register_public_routes(app, public, HistoryReader(path), "http://127.0.0.1:8080")

    quart = create_app(state, Settings(web_dir=web_dir), metrics, extra_routes=public_routes)
    recorder = Recorder(quart)
    writable = create_app(state, Settings(web_dir=web_dir), metrics, extra_routes=bodied_routes)
    writable_recorder = Recorder(writable)
    yield {
        "front": (FrontApp(state, recorder, metrics), recorder),
        "quart": (recorder, recorder),
        "writable": (writable_recorder, writable_recorder),
    }
    store.close()


def allowed_methods(app: QuartTrio, rule: str) -> set[str]:
    found = [r for r in app.url_map.iter_rules() if r.rule == rule]
    assert len(found) == 1, rule
    return set(found[0].methods or ())


def test_the_table_covers_every_route(apps: dict[str, tuple[Any, Recorder]]) -> None:
    """A new route must join ROUTES, so these tests keep covering every route."""
    quart = apps["quart"][1].inner
    assert {rule.rule for rule in quart.url_map.iter_rules()} == set(ROUTES)


@pytest.mark.parametrize("layer", ["front", "quart"])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("rule", list(ROUTES))
async def test_method_first_then_body(
    apps: dict[str, tuple[Any, Recorder]], layer: str, rule: str, method: str
) -> None:
    """A method the route lacks: 405 with Allow, whatever the body; an allowed method: the
    route's answer without a body, 400 (never 413: no route takes one) with a body."""
    app, recorder = apps[layer]
    target, get_status = ROUTES[rule]
    allowed = allowed_methods(recorder.inner, rule)
    for body, content in BODIES.items():
        answer = await call(app, recorder, method, target, content)
        if method not in allowed:
            assert answer.status == 405, (body, answer)
            assert answer.headers["allow"] == ", ".join(sorted(allowed))
            assert json.loads(answer.body) == {"error": "method not allowed"}
        elif content is not None:
            assert answer.status == 400, (body, answer)
            assert json.loads(answer.body) == {"error": NO_BODY_ERROR}
        elif method == "OPTIONS":
            assert answer.status == 204, answer
            assert answer.headers["access-control-allow-origin"] == "*"
        else:
            assert answer.status == get_status, answer
        in_front = rule == "/api" and method in ("GET", "HEAD") and content is None
        assert answer.reached_quart is not (layer == "front" and in_front), (body, answer)


@pytest.mark.parametrize("layer", ["front", "quart"])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("target", UNKNOWN_PATHS)
async def test_unknown_path_is_404_whatever_the_method(
    apps: dict[str, tuple[Any, Recorder]], layer: str, target: str, method: str
) -> None:
    """No route names the path (no such file, no such Statuspage document): 404 JSON for
    every method and body, never 405 from the static catch-all."""
    app, recorder = apps[layer]
    for body, content in BODIES.items():
        answer = await call(app, recorder, method, target, content)
        assert answer.status == 404, (body, answer)
        assert json.loads(answer.body) == {"error": "not found"}


BIG = b"x" * (64 * 1024)
WRITE_CASES = [
    ("POST", None, 200),
    ("POST", b"{}", 200),
    ("POST", b"x" * SUBSCRIPTION_LIMIT, 200),
    ("POST", b"x" * (SUBSCRIPTION_LIMIT + 1), 413),
    ("POST", BIG, 413),
    ("GET", None, 405),
    ("GET", BIG, 405),
    ("DELETE", b"{}", 405),
    ("OPTIONS", b"{}", 400),  # a preflight carries no body, even on a route that takes one
]


@pytest.mark.parametrize(
    ("method", "body", "status", "chunked"),
    [
        *((m, b, s, False) for m, b, s in WRITE_CASES),
        *((m, b, s, True) for m, b, s in WRITE_CASES if b is not None),
    ],
)
async def test_413_only_beyond_the_limit_of_a_route_that_takes_a_body(
    apps: dict[str, tuple[Any, Recorder]],
    method: str,
    body: bytes | None,
    status: int,
    chunked: bool,
) -> None:
    """A route declared with ``takes_body(16 KiB)`` reads bodies up to its limit and
    answers 413 beyond, framed by Content-Length or chunked; its other methods are 405
    first, whatever the body."""
    app, recorder = apps["writable"]
    answer = await call(app, recorder, method, "/test/subscriptions", body, chunked=chunked)
    assert answer.status == status, answer
    if status == 200:
        assert json.loads(answer.body) == {"received": len(body or b"")}
    if status == 413:
        assert json.loads(answer.body) == {"error": "request body over 16384 bytes"}
    if status == 405:
        assert answer.headers["allow"] == "OPTIONS, POST"
