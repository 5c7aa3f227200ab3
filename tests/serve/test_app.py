"""Routes of SPEC §4 through Quart's test client: bodies, status codes and headers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trio
import trio.testing
from quart_trio import QuartTrio

from statusd.collect.outcome import CollectionOutcome
from statusd.config import Settings
from statusd.metrics import Metrics
from statusd.serve.app import create_app, resolve_static
from statusd.state.holder import StateHolder
from tests.fakes import outcome
from tests.serve.conftest import NAMES


@pytest.fixture
def web_dir(tmp_path: Path) -> Path:
    web = tmp_path / "web"
    web.mkdir()
    (web / "index.html").write_text("<!doctype html><title>status</title>")
    (web / "app.js").write_text("export {};")
    (web / ".hidden").write_text("secret")
    (web / "sub").mkdir()
    (tmp_path / "outside.txt").write_text("outside")
    (web / "link-out").symlink_to(tmp_path / "outside.txt")
    return web


@pytest.fixture
def app(
    holder: tuple[StateHolder, trio.MemorySendChannel[CollectionOutcome]], web_dir: Path
) -> QuartTrio:
    return create_app(holder[0], Settings(web_dir=web_dir), Metrics(list(NAMES)))


async def feed(
    holder: tuple[StateHolder, trio.MemorySendChannel[CollectionOutcome]],
) -> None:
    await holder[1].send(outcome("a", [1]))
    await holder[1].send(outcome("b", {"x": "<b>"}))
    await trio.testing.wait_all_tasks_blocked()


async def test_api_serves_error_document_then_data(
    app: QuartTrio, holder: tuple[StateHolder, trio.MemorySendChannel[CollectionOutcome]]
) -> None:
    client = app.test_client()
    response = await client.get("/api")
    assert response.status_code == 200
    assert await response.get_json() == {
        "status": False,
        "data": None,
        "error": "Error on collect data",
    }
    await feed(holder)
    response = await client.get("/api")
    assert (await response.get_json())["data"] == {"a": [1], "b": {"x": "<b>"}}
    etag = response.headers["ETag"]
    not_modified = await client.get("/api", headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert await not_modified.get_data() == b""


async def test_api_for_a_version_this_replica_has_not_made_is_404(
    app: QuartTrio, holder: tuple[StateHolder, trio.MemorySendChannel[CollectionOutcome]]
) -> None:
    """/api?v=<ETag>: the current document for the current or an earlier version (a page that
    is behind catches up), 404 no-store for a version not made here (yet)."""
    client = app.test_client()
    earlier = (await client.get("/api")).headers["ETag"]
    await feed(holder)
    current = await client.get("/api")
    for version in (earlier, current.headers["ETag"]):
        response = await client.get("/api", query_string={"v": version.strip('"')})
        assert response.status_code == 200
        assert await response.get_data() == await current.get_data()
    unknown = await client.get("/api", query_string={"v": "0123abcd"})
    assert unknown.status_code == 404
    assert unknown.headers["Cache-Control"] == "no-store"
    assert (await unknown.get_json())["error"].startswith("version not served here")


async def test_readyz_turns_200_with_data(
    app: QuartTrio, holder: tuple[StateHolder, trio.MemorySendChannel[CollectionOutcome]]
) -> None:
    client = app.test_client()
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert (await response.get_json())["waiting_for"] == ["a", "b"]
    await feed(holder)
    assert (await client.get("/readyz")).status_code == 200


async def test_healthz_and_sources(
    app: QuartTrio, holder: tuple[StateHolder, trio.MemorySendChannel[CollectionOutcome]]
) -> None:
    client = app.test_client()
    await feed(holder)
    await holder[1].send(outcome("a", None, error="HTTP 500"))
    await trio.testing.wait_all_tasks_blocked()
    health = await (await client.get("/healthz")).get_json()
    assert health["status"] == "ok"
    assert health["sources"]["a"]["error"] == "HTTP 500"
    response = await client.get("/api/sources")
    assert response.headers["Cache-Control"] == "public, max-age=1"  # a cache in front keeps it
    sources = (await response.get_json())["sources"]
    assert sources["a"]["ok"] is False
    assert sources["a"]["fresh"] is True
    assert sources["a"]["error"] == "HTTP 500"
    assert sources["a"]["last_success"].endswith("Z")
    assert sources["b"]["ok"] is True
    assert set(sources["b"]) == {
        "ok",
        "fresh",
        "last_success",
        "last_attempt",
        "age_seconds",
        "error",
        "records",
        "skipped",
        "duration_ms",
    }


async def test_unknown_route_is_404_json(app: QuartTrio) -> None:
    response = await app.test_client().get("/nope/nothing")
    assert response.status_code == 404
    assert await response.get_json() == {"error": "not found"}


async def test_wrong_method_is_405_with_allow(app: QuartTrio) -> None:
    response = await app.test_client().post("/api")
    assert response.status_code == 405
    assert await response.get_json() == {"error": "method not allowed"}
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


async def test_cors_preflight(app: QuartTrio) -> None:
    response = await app.test_client().options(
        "/api", headers={"Origin": "null", "Access-Control-Request-Method": "GET"}
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in response.headers["Access-Control-Allow-Methods"]
    assert "If-None-Match" in response.headers["Access-Control-Allow-Headers"]


async def test_page_has_security_headers(app: QuartTrio) -> None:
    response = await app.test_client().get("/")
    assert response.status_code == 200
    assert b"<title>status</title>" in await response.get_data()
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    script = await app.test_client().get("/app.js")
    assert script.headers["Content-Type"].startswith("text/javascript")


@pytest.mark.parametrize(
    "path",
    [
        "/../outside.txt",
        "/%2e%2e/outside.txt",
        "/%2e%2e%2foutside.txt",
        "/sub/../../outside.txt",
        "/link-out",
        "/.hidden",
        "/sub",
        "/sub/",
        "//etc/passwd",
        "/%00index.html",
        "/index.html%00",
    ],
)
async def test_nothing_outside_web_is_served(app: QuartTrio, path: str) -> None:
    response = await app.test_client().get(path)
    assert response.status_code == 404, path
    assert b"outside" not in await response.get_data()


def test_resolve_static_rejects_escapes(web_dir: Path) -> None:
    assert resolve_static(web_dir, "") == (web_dir / "index.html").resolve()
    for name in ("../outside.txt", "/etc/passwd", "a\x00b", "link-out", ".hidden", "sub", "x\\y"):
        assert resolve_static(web_dir, name) is None, name


async def test_request_bodies_are_refused(app: QuartTrio) -> None:
    """A GET with a body is a 400 (no route takes one), not a 413."""
    response = await app.test_client().get(
        "/healthz", data=b"x" * 10, headers={"Content-Length": "10"}
    )
    assert response.status_code == 400
    assert await response.get_json() == {"error": "this route takes no request body"}


async def test_post_with_a_small_body_is_405_not_413(app: QuartTrio) -> None:
    """The method is decided before the body is looked at (SPEC §4)."""
    response = await app.test_client().post("/api", data=b"{}", headers={"Content-Length": "2"})
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


async def test_unknown_path_is_404_for_any_method(app: QuartTrio) -> None:
    """The static catch-all takes only existing files: POST /nowhere is 404, not 405."""
    client = app.test_client()
    assert (
        await client.post("/nowhere", data=b"{}", headers={"Content-Length": "2"})
    ).status_code == 404
    missing = await client.delete("/nope/nothing")
    assert await missing.get_json() == {"error": "not found"}
    assert (await client.post("/app.js")).headers["Allow"] == "GET, HEAD, OPTIONS"


async def test_metrics_count_requests(app: QuartTrio) -> None:
    client = app.test_client()
    await client.get("/healthz")
    body = await (await client.get("/metrics")).get_data()
    assert b'statusd_http_requests_total{route="/healthz",status="200"} 1.0' in body


async def test_events_stream_sends_current_etag_then_changes(
    app: QuartTrio, holder: tuple[StateHolder, trio.MemorySendChannel[CollectionOutcome]]
) -> None:
    """SSE: the current ETag first, then one event per change of the document."""
    state = holder[0]
    from statusd.serve.app import sse_stream
    from statusd.serve.streams import EventStreams

    streams = EventStreams(1)
    stream = sse_stream(state, streams)
    first = await stream.__anext__()
    assert streams.open == 1
    assert first.endswith(b"data: " + state.view.document.etag.encode() + b"\n\n")
    await feed(holder)
    with trio.fail_after(1):
        second = await stream.__anext__()
    assert second == b"data: " + state.view.document.etag.encode() + b"\n\n"
    state.close()
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()
    await stream.aclose()
    assert streams.open == 0
    assert json.loads(state.view.document.body)["status"] is True


async def test_the_page_gets_one_languages_catalog(app: QuartTrio) -> None:
    """``GET /i18n/page.json?want=…``: the first wanted language statusd has a catalog for
    (English otherwise), its ``page.*`` entries only; revalidated with an ETag; CORS ``*``
    for the page opened as a file."""
    client = app.test_client()
    response = await client.get("/i18n/page.json?want=de-DE,ru-RU,en")
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Cache-Control"] == "no-cache"
    words = json.loads(await response.get_data())
    assert words["lang"] == "ru"
    assert words["languages"][0] == "en"
    assert words["entries"]["page.region.title"] == "Ваш регион"
    assert not [key for key in words["entries"] if not key.startswith("page.")]
    etag = response.headers["ETag"]
    again = await client.get("/i18n/page.json?want=de-DE,ru-RU,en", headers={"If-None-Match": etag})
    assert again.status_code == 304
    fallback = json.loads(await (await client.get("/i18n/page.json?want=xx")).get_data())
    assert fallback["lang"] == "en"
    assert fallback["entries"]["page.region.title"] == "Your region"
