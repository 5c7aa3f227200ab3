"""The page when statusd refuses its event stream (issue 16): against a real statusd with
``--max-event-streams 1`` whose only stream the test holds, the page gets ``503`` with
``Retry-After``, keeps current by polling ``/api`` with ``If-None-Match``, and tries the
stream again after a jittered wait (Playwright's clock jumps over the wait)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Browser, Page, Request, expect

from statusd.serve.streams import RETRY_AFTER_RANGE
from tests.browser.harness import TIMEOUT_MS, WEB, PageWatch
from tests.browser.test_page_e2e import Stack, regenerate_and_wait, wait_for_document
from tests.support.simulator_process import run_simulator
from tests.support.statusd_process import run_statusd

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

REFUSED = "status of 503"
"""Chromium logs a refused stream as a console error: expected here."""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """statusd with room for one event stream, collecting every second."""
    work = tmp_path_factory.mktemp("page-streams")
    data = work / "data"
    with (
        run_simulator(data, "--seed", "3") as sim,
        run_statusd(
            work,
            *("--data-dir", str(data), "--source-url", sim.url, "--interval", "1"),
            *("--deadline", "1", "--stale-after", "3", "--state-dir", str(work / "state")),
            *("--web-dir", str(WEB), "--max-event-streams", "1"),
        ) as statusd,
    ):
        yield Stack(sim, statusd)


def try_stream(stack: Stack) -> socket.socket | None:
    """An /api/events stream open once its first event arrived, or None when refused."""
    host, port = stack.statusd.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(b"GET /api/events HTTP/1.1\r\nHost: t\r\n\r\n")
    received = b""
    while b"data: " not in received and (chunk := sock.recv(4096)):
        received += chunk
    if received.startswith(b"HTTP/1.1 200"):
        return sock
    sock.close()
    assert received.startswith(b"HTTP/1.1 503"), received
    return None


def hold_stream(stack: Stack) -> socket.socket:
    """The one stream statusd allows (a page closed just before may still hold it until
    statusd has seen it go)."""
    held: list[socket.socket] = []

    def taken() -> bool:
        sock = try_stream(stack)
        held.extend([sock] if sock else [])
        return bool(held)

    stack.statusd.wait_until(taken, timeout=10)
    return held[0]


@contextmanager
def held_stream(stack: Stack) -> Iterator[socket.socket]:
    sock = hold_stream(stack)
    with sock:
        yield sock


@contextmanager
def refused_page(browser: Browser, stack: Stack) -> Iterator[tuple[Page, PageWatch, int]]:
    """The page (polling every second, fake clock) once its stream was refused; with the
    Retry-After it was given."""
    context = browser.new_context(locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        page.clock.install()
        watch = PageWatch(allowed_errors=(REFUSED,))
        watch.attach(page)
        with page.expect_response(lambda r: r.url.endswith("/api/events")) as refused:
            page.goto(stack.statusd.url + "/?poll=1")
        assert refused.value.status == 503
        retry_after = int(refused.value.headers["retry-after"])
        assert RETRY_AFTER_RANGE[0] <= retry_after <= RETRY_AFTER_RANGE[1]
        expect(page.locator("#connection")).to_have_attribute("data-mode", "polling")
        yield page, watch, retry_after
    finally:
        context.close()


@contextmanager
def live_page(
    browser: Browser,
    stack: Stack,
    query: str = "",
    *,
    clock: bool = True,
    allowed: tuple[str, ...] = (),
) -> Iterator[tuple[Page, PageWatch]]:
    """The page live on statusd's stream and showing its document (Playwright's clock
    installed unless ``clock`` is false); on a normal exit its watch must be clean."""
    context = browser.new_context(locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        if clock:
            page.clock.install()
        watch = PageWatch(allowed_errors=allowed)
        watch.attach(page)
        page.goto(stack.statusd.url + "/" + query)
        expect(page.locator("#connection")).to_have_attribute("data-mode", "live")
        wait_for_document(page, stack.api()[0])
        yield page, watch
        watch.assert_clean(stack.statusd.url)
    finally:
        context.close()


def wait_idle(page: Page) -> None:
    """Until the page's request queue is empty and nothing is in flight."""
    page.wait_for_function(
        "() => !StatusPage.app.client.running && StatusPage.app.client.jobs.size === 0"
    )


def bare(etag: str) -> str:
    """The document an ETag names, as the page sends it in ``/api?v=``."""
    return etag.strip('"').removesuffix("-gz")


def status_of(request: Request) -> int:
    response = request.response()
    assert response is not None, request.url
    return response.status


def retry_delays(page: Page) -> list[int]:
    delays: list[int] = page.evaluate("StatusPage.app.live.retryDelays")
    return delays


def test_retry_delay_bounds_with_an_injected_random(browser: Browser, stack: Stack) -> None:
    """Retry-After (else 5 s), doubled per failure in a row, at most 5 min, times [1, 2)."""
    page = browser.new_page()
    try:
        page.goto((WEB / "index.html").as_uri() + f"?api={stack.statusd.url}")
        cases = [
            ([45, 1, 0.0], 45_000),
            ([45, 1, 0.999], 89_955),
            ([45, 2, 0.0], 90_000),
            ([0, 1, 0.5], 7_500),
            ([0, 3, 0.0], 20_000),
            ([60, 9, 0.999], 599_700),
        ]
        for (retry_after, failures, draw), expected in cases:
            got = page.evaluate(
                "([a, f, r]) => StatusPage.api.retryDelay(a, f, () => r)",
                [retry_after, failures, draw],
            )
            assert got == expected, (retry_after, failures, draw)
    finally:
        page.close()


def test_refused_page_polls_then_retries_the_stream(browser: Browser, stack: Stack) -> None:
    """503: the page polls /api conditionally and still updates; after its jittered wait
    (Retry-After to twice that) it opens the stream, which is free again by then."""
    with held_stream(stack) as held, refused_page(browser, stack) as (page, watch, retry_after):
        wait_for_document(page, stack.api()[0])
        unchanged = page.wait_for_event(
            "response", lambda r: r.url.endswith("/api") and r.status == 304
        )
        assert unchanged.request.headers["if-none-match"] == stack.api()[0]
        etag, _ = regenerate_and_wait(stack, stack.api()[0])
        wait_for_document(page, etag)
        (delay,) = retry_delays(page)
        assert retry_after * 1000 <= delay < 2 * retry_after * 1000
        held.close()
        with page.expect_response(lambda r: r.url.endswith("/api/events")) as retried:
            page.clock.fast_forward(delay)
        assert retried.value.status == 200
        expect(page.locator("#connection")).to_have_attribute("data-mode", "live")
        watch.assert_clean(stack.statusd.url)


def test_a_refused_crowd_does_not_come_back_at_once(browser: Browser, stack: Stack) -> None:
    """Pages refused together pick different waits, each within its documented bounds."""
    delays: list[int] = []
    with held_stream(stack):
        for _ in range(3):
            with refused_page(browser, stack) as (page, watch, retry_after):
                page.wait_for_function("StatusPage.app.live.retryDelays.length === 1")
                (delay,) = retry_delays(page)
                assert retry_after * 1000 <= delay < 2 * retry_after * 1000
                delays.append(delay)
                watch.assert_clean(stack.statusd.url)
    assert len(set(delays)) == len(delays), delays


def test_an_event_naming_the_held_document_costs_no_request(browser: Browser, stack: Stack) -> None:
    """statusd's gzip ETag is the event's plus "-gz": the page must see the same document
    and neither fetch /api nor look again (its rechecks would fire within 3 s)."""
    with live_page(browser, stack) as (page, watch):
        etag = stack.api()[0]
        wait_for_document(page, etag)
        assert page.evaluate("StatusPage.app.state.etag").endswith('-gz"')
        before = len(watch.api_requests("/api"))
        page.clock.fast_forward(5000)  # past every recheck; the next tick is at 10 s
        page.evaluate("new Promise(requestAnimationFrame)")
        assert stack.api()[0] == etag, "statusd's document changed during the test"
        assert len(watch.api_requests("/api")) == before


def test_a_live_page_revalidates_api_every_third_tick(browser: Browser, stack: Stack) -> None:
    """The safety net for a missed event: while live, every third tick (``?poll=1``: 3 s)
    asks /api with If-None-Match, the ticks between only /api/sources."""
    with live_page(browser, stack, "?poll=1") as (page, watch):
        before = len(watch.api_requests("/api"))
        with page.expect_response(lambda r: r.url.endswith("/api")) as revalidated:
            for _ in range(3):
                page.clock.fast_forward(1000)
        assert revalidated.value.request.headers.get("if-none-match")
        assert len(watch.api_requests("/api")) == before + 1


def test_an_event_makes_the_page_ask_for_that_version(browser: Browser, stack: Stack) -> None:
    """On an event naming a new document the page asks /api?v=<its ETag> (a URL a cache in
    front cannot answer with the body it held before the change) and shows the new one."""
    with live_page(browser, stack, clock=False) as (page, watch):
        new, _ = regenerate_and_wait(stack, stack.api()[0])
        wait_for_document(page, new)
        asked = [r for r in watch.api_requests("/api") if "?v=" in r.url]
        assert asked, "the page never asked for the version an event named"
        for request in asked:
            assert status_of(request) == 200
            assert '"' not in request.url.split("?v=")[1], "the page sends the bare ETag"


def test_a_version_no_replica_has_yet_falls_back_to_api(browser: Browser, stack: Stack) -> None:
    """/api?v= answered 404 (no replica made that version yet) is followed by plain /api at
    once, and asked again by each of the 3 rechecks while it is the newest event."""
    with live_page(browser, stack, allowed=("status of 404",)) as (page, watch):
        etag = stack.api()[0]
        wait_idle(page)  # the refresh of the stream's opening is done
        before = len(watch.api_requests("/api"))
        page.evaluate("""StatusPage.app.live.onChange('"0123unknown"')""")
        wait_idle(page)
        for _ in range(4):  # each recheck 0.5–1 s after the one before; the 4th finds none
            page.clock.run_for(1000)
            wait_idle(page)
        asked = watch.api_requests("/api")[before:]
        assert [r.url.split("/api", 1)[1] for r in asked] == ["?v=0123unknown", ""] * 4
        assert [status_of(r) for r in asked[::2]] == [404] * 4
        assert stack.api()[0] == etag, "statusd's document changed during the test"


def test_the_other_replicas_event_for_the_document_in_flight_costs_nothing(
    browser: Browser, stack: Stack
) -> None:
    """Both replicas announce each change: an event repeated while the page fetches that
    document makes no second request once the first answer brought it."""
    with live_page(browser, stack) as (page, watch):
        etag = stack.api()[0]
        wait_idle(page)
        page.evaluate("StatusPage.app.state.etag = '\"older\"'")  # as if the event were news
        before = len(watch.api_requests("/api"))
        page.evaluate(
            "e => { StatusPage.app.live.onChange(e); StatusPage.app.live.onChange(e) }", etag
        )
        wait_idle(page)
        page.clock.run_for(5000)  # past every recheck; the next tick is at 10 s
        wait_idle(page)
        asked = watch.api_requests("/api")[before:]
        assert [r.url.split("/api", 1)[1] for r in asked] == ["?v=" + bare(etag)]
        assert status_of(asked[0]) == 200
        assert stack.api()[0] == etag, "statusd's document changed during the test"
