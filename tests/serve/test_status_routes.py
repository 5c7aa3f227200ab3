"""The SPEC §7 routes wired as the daemon wires them: PublicState + register_public_routes."""

from __future__ import annotations

import csv
import io
import time
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import feedparser
import pytest
import trio
from quart_trio import QuartTrio

import statusd.verdicts.live as public_module
from statusd.body.document import ERROR_DOCUMENT, Document
from statusd.history.reader import HistoryReader
from statusd.history.writer import HistoryInbox
from statusd.serve.badges import CONTENT_TYPE as SVG_TYPE
from statusd.serve.feed import CONTENT_TYPE as ATOM_TYPE
from statusd.serve.status_routes import RecentAnswers, register_public_routes
from statusd.state.holder import SourceStatus, StateView
from statusd.verdicts import statuspage
from statusd.verdicts.cells import VerdictSet
from statusd.verdicts.live import PublicState
from tests.support.public_state import RECORDS, open_public_state

NOW = time.time()


@pytest.fixture
def wired(tmp_path: Path) -> Iterator[tuple[QuartTrio, PublicState, HistoryInbox]]:
    path = tmp_path / "history.sqlite3"
    store, public, inbox = open_public_state(path, NOW)
    app = QuartTrio(__name__)
    register_public_routes(app, public, HistoryReader(path), "http://127.0.0.1:8080")
    yield app, public, inbox
    store.close()


async def test_statuspage_documents_with_etag_and_cors(
    wired: tuple[QuartTrio, PublicState, HistoryInbox],
) -> None:
    """/api/v2/summary.json is served from the built bytes, with CORS, ETag and 304."""
    app, _, _ = wired
    client = app.test_client()
    with trio.fail_after(10):
        response = await client.get("/api/v2/summary.json")
        assert response.status_code == 200
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        body = await response.get_json()
        assert body["status"] == {"indicator": "major", "description": "Partial System Outage"}
        again = await client.get(
            "/api/v2/summary.json", headers={"If-None-Match": response.headers["ETag"]}
        )
        assert again.status_code == 304
        assert (await client.get("/api/v2/nothing.json")).status_code == 404
        verdicts = await (await client.get("/api/verdicts")).get_json()
        assert verdicts["cells"][0]["key"] == "DE"


async def test_history_routes(wired: tuple[QuartTrio, PublicState, HistoryInbox]) -> None:
    """History JSON and CSV come from the database; bad queries are 400/404 JSON."""
    app, _, _ = wired
    client = app.test_client()
    with trio.fail_after(10):
        response = await client.get("/api/history?product=sms&country=RU&days=2")
        assert response.status_code == 200
        body = await response.get_json()
        degraded = sum(b["seconds"]["degraded_performance"] for b in body["buckets"])
        assert degraded >= 599  # since the snapshot 10 minutes ago, up to now
        assert body["uptime"] == 1.0
        bad = await client.get("/api/history?product=sms&country=XX")
        assert (bad.status_code, (await bad.get_json())["error"]) == (404, "unknown country 'XX'")
        assert (await client.get("/api/history?product=sms&country=DE&days=999")).status_code == 400
        export = await client.get("/api/history.csv")
        assert export.headers["Content-Type"] == "text/csv; charset=utf-8"
        rows = list(csv.reader(io.StringIO(await export.get_data(as_text=True))))
        assert {(row[1], row[2]) for row in rows[1:]} >= {("sms", "DE"), ("billing", "payout")}
        assert (await client.get("/api/history.csv?month=2026-13")).status_code == 400


async def test_feed_and_badges(wired: tuple[QuartTrio, PublicState, HistoryInbox]) -> None:
    """The feed parses cleanly; badges are SVG; unknown badge paths are 404 JSON."""
    app, _, _ = wired
    client = app.test_client()
    with trio.fail_after(10):
        feed = await client.get("/feed.atom")
        assert feed.headers["Content-Type"] == ATOM_TYPE
        parsed = feedparser.parse(await feed.get_data())
        assert not parsed.bozo
        assert {e.title for e in parsed.entries} >= {"SMS Russian Federation: degraded performance"}
        assert (await client.get("/feed.atom?country=ZZ")).status_code == 404
        russian = feedparser.parse(await (await client.get("/feed.atom?lang=ru")).get_data())
        assert {e.title for e in russian.entries} >= {"SMS — Россия: снижение производительности"}
        unknown = await (await client.get("/feed.atom?lang=zz")).get_data()
        assert unknown == await feed.get_data()  # English
        badge = await client.get("/badge/billing/payout.svg")
        assert badge.headers["Content-Type"] == SVG_TYPE
        assert ET.fromstring(await badge.get_data()).tag == "{http://www.w3.org/2000/svg}svg"
        assert (await client.get("/badge/support.svg")).status_code == 200
        assert (await client.get("/badge/overall.svg")).status_code == 200
        assert (await client.get("/badge/sms/FR.svg")).status_code == 404
        assert (await client.get("/badge/fax.svg")).status_code == 404


def test_state_changes_reach_the_inbox_and_the_documents(
    wired: tuple[QuartTrio, PublicState, HistoryInbox],
) -> None:
    """Each update offers the verdicts to the history and rebuilds the documents."""
    _, public, inbox = wired
    before = public.documents["/api/v2/status.json"].etag
    public.update(
        RECORDS,
        stale=frozenset({"billing"}),
        source_times={},
        document_ok=False,
        now=NOW,
    )
    [snapshot] = inbox.take()
    assert snapshot.verdicts["billing:payout"] == "unknown"
    assert public.documents["/api/v2/status.json"].etag != before
    assert public.verdicts.indicator == "critical"
    assert isinstance(public.verdicts, VerdictSet)


async def test_documents_are_encoded_once_per_view_and_only_when_asked(
    wired: tuple[QuartTrio, PublicState, HistoryInbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Concurrent readers share one encoding; a new view is encoded again, lazily."""
    _, public, _ = wired
    calls: list[float] = []
    real = statuspage.public_documents

    def counted(*args: Any) -> dict[str, dict[str, Any]]:
        calls.append(args[-1])
        return real(*args)

    monkeypatch.setattr(public_module, "public_documents", counted)
    public.update(RECORDS, stale=frozenset(), source_times={}, document_ok=True, now=NOW + 1)
    assert calls == []  # nobody asked yet
    seen: list[Any] = []

    async def read() -> None:
        seen.append(await public.document("/api/v2/summary.json"))

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            for _ in range(5):
                nursery.start_soon(read)
    assert calls == [NOW + 1]
    assert all(document is seen[0] for document in seen)
    assert await public.document("/api/v2/nothing.json") is None
    public.update(RECORDS, stale=frozenset(), source_times={}, document_ok=False, now=NOW + 2)
    assert (await public.document("/api/v2/summary.json")) is not seen[0]
    assert calls == [NOW + 1, NOW + 2]


async def test_a_burst_of_state_changes_makes_one_rebuild(
    wired: tuple[QuartTrio, PublicState, HistoryInbox], autojump_clock: trio.abc.Clock
) -> None:
    """Changes within SETTLE_SECONDS (the sources of one round) are taken together."""
    _, public, inbox = wired
    inbox.take()
    view = StateView(ERROR_DOCUMENT, {}, frozenset(), True, 0, NOW)
    async with trio.open_nursery() as nursery:
        await nursery.start(public.run)
        for _ in range(7):
            public.observe(view)
            await trio.sleep(public_module.SETTLE_SECONDS / 10)
        await trio.sleep(1)
        assert len(inbox.take()) == 1
        public.observe(view)
        await trio.sleep(1)
        assert len(inbox.take()) == 1
        nursery.cancel_scope.cancel()


async def test_recent_answers_are_reused_for_a_second_then_rebuilt(
    autojump_clock: trio.abc.Clock,
) -> None:
    recent = RecentAnswers(seconds=1.0, entries=2)
    built: list[str] = []

    def builder(text: str) -> Callable[[], Awaitable[Document]]:
        async def build() -> Document:
            built.append(text)
            return Document.of(text.encode())

        return build

    first = await recent.get("a", builder("a"))
    assert await recent.get("a", builder("a")) is first
    await trio.sleep(1.0)
    assert await recent.get("a", builder("a")) is not first
    await recent.get("b", builder("b"))
    await recent.get("c", builder("c"))  # over two entries: the oldest ("a") goes
    await recent.get("a", builder("a"))
    assert built == ["a", "a", "b", "c", "a"]


async def test_while_one_request_rebuilds_the_others_get_the_previous_answer(
    autojump_clock: trio.abc.Clock,
) -> None:
    recent = RecentAnswers(seconds=1.0, entries=4)
    release = trio.Event()
    builds: list[int] = []

    async def slow_build() -> Document:
        builds.append(len(builds))
        await release.wait()
        return Document.of(b"new")

    async def old_build() -> Document:
        return Document.of(b"old")

    await recent.get("k", old_build)
    await trio.sleep(2)  # expired
    answers: list[bytes] = []

    async def ask() -> None:
        answers.append((await recent.get("k", slow_build)).body)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(ask)
        await trio.sleep(0.1)  # the first asker is rebuilding
        await ask()
        await ask()
        assert answers == [b"old", b"old"]
        release.set()
    assert answers == [b"old", b"old", b"new"]
    assert builds == [0]
    assert (await recent.get("k", slow_build)).body == b"new"


async def test_a_reader_never_gets_verdicts_older_than_the_state_it_observed(
    wired: tuple[QuartTrio, PublicState, HistoryInbox],
) -> None:
    """The page fetches /api/verdicts as soon as /api changes: the view observed then is
    built for that request even though the run task (settling) has not got to it yet."""
    _, public, _ = wired
    assert public.verdicts.indicator != "critical"
    down = StateView(ERROR_DOCUMENT, {"sms": SourceStatus("sms")}, frozenset(), True, 1, NOW)
    public.observe(down)  # /api serves the error document now; no run task here
    document = await public.document("/api/v2/status.json")
    assert document is not None
    assert b'"indicator":"critical"' in document.body
    assert (await public.catch_up()).indicator == "critical"
