"""The status page in Chromium against real processes: ``statusd-sim --seed 7`` and
``statusd`` on loopback, started once for the module. Every section must show what
statusd's /api says, live updates must arrive without a reload (event stream, and polling
when the stream is refused), the file:// page must work, and an outage must show as one."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx
import pycountry
import pytest
from playwright.sync_api import Browser, Page, expect

from statusd import i18n
from tests.browser.harness import ARTIFACTS, TIMEOUT_MS, WEB, AxeAudit, PageWatch
from tests.support.simulator_process import SimulatorProcess, run_simulator
from tests.support.statusd_process import StatusdProcess, run_statusd

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

SETTLE_STEP = 1.0
"""Seconds between two looks at /api while waiting for it to settle (= the interval)."""


@dataclass
class Stack:
    """The simulator and the statusd that reads it."""

    sim: SimulatorProcess
    statusd: StatusdProcess

    def api(self) -> tuple[str, dict[str, Any]]:
        """statusd's current /api: (ETag, document)."""
        response = self.statusd.get("/api")
        response.raise_for_status()
        return response.headers["ETag"], response.json()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """statusd collecting every second from a seeded simulator; stale after 3 s."""
    work = tmp_path_factory.mktemp("page-e2e")
    data = work / "data"
    with (
        run_simulator(data, "--seed", "7") as sim,
        run_statusd(
            work,
            "--data-dir",
            str(data),
            "--source-url",
            sim.url,
            "--interval",
            "1",
            "--deadline",
            "1",
            "--stale-after",
            "3",
            "--state-dir",
            str(work / "state"),
            "--web-dir",
            str(WEB),
        ) as statusd,
    ):
        yield Stack(sim, statusd)


@contextmanager
def open_page(
    browser: Browser,
    stack: Stack,
    url: str,
    *,
    width: int = 1280,
    scheme: Literal["light", "dark"] = "light",
    refuse_events: bool = False,
) -> Iterator[tuple[Page, PageWatch]]:
    """``url`` in a fresh context, waited until it shows statusd's current document."""
    context = browser.new_context(
        viewport={"width": width, "height": 900}, locale="en-US", color_scheme=scheme
    )
    context.set_default_timeout(TIMEOUT_MS)
    try:
        allowed: tuple[str, ...] = ()
        if refuse_events:
            context.route("**/api/events", lambda route: route.abort())
            allowed += ("net::ERR_FAILED",)
        page = context.new_page()
        watch = PageWatch(allowed_errors=allowed)
        watch.attach(page)
        page.goto(url)
        if url.startswith("file:") and "ETag" not in stack.statusd.get("/api").headers.get(
            "Access-Control-Expose-Headers", ""
        ):
            # Cross-origin the page cannot read an unexposed ETag: wait for the data itself.
            expect(page.locator("main")).to_have_attribute("data-doc-status", "true")
        else:
            wait_for_document(page, stack.api()[0])
        yield page, watch
    finally:
        context.close()


def wait_for_document(page: Page, etag: str) -> None:
    """Until the page shows the document with ``etag``."""
    expect(page.locator("main")).to_have_attribute("data-etag", etag)


def flag(code: str) -> str:
    return "".join(chr(0x1F1E6 + ord(c) - ord("A")) for c in code)


def row_cells(page: Page, selector: str) -> list[list[str]]:
    """The text of every cell (th and td) of every row of a tbody."""
    cells: list[list[str]] = page.locator(selector).evaluate(
        "tbody => [...tbody.rows].map(r => [...r.cells].map(c => c.textContent))"
    )
    return cells


def country_codes(doc: dict[str, Any]) -> dict[str, str]:
    """Name → alpha-2 of every country of the document (voice and email carry the code)."""
    codes = {r["country"] for r in doc["data"]["voice_call"]} | set(doc["data"]["email"])
    names: dict[str, str] = {}
    for code in codes:
        country = pycountry.countries.get(alpha_2=code)
        assert country is not None, code
        names[country.name] = code
    return names


def grouped(value: object) -> str:
    """A number as the English page writes it (1,000), anything else as it is."""
    return f"{value:,}" if isinstance(value, int | float) else str(value)


def cldr_names(page: Page, codes: Iterable[str]) -> dict[str, str]:
    """Alpha-2 → the name the English page shows (CLDR's, from the browser's Intl)."""
    script = "codes => Object.fromEntries(codes.map(c => [c, new Intl.DisplayNames(['en'], "
    script += "{type: 'region'}).of(c)]))"
    names: dict[str, str] = page.evaluate(script, sorted(codes))
    return names


def test_every_section_renders_the_seeded_values(browser: Browser, stack: Stack) -> None:
    """Banner, billing, support, incidents, SMS, MMS, voice and email show /api's values."""
    etag, doc = stack.api()
    data = doc["data"]
    assert doc["status"] is True
    names = country_codes(doc)
    with open_page(browser, stack, stack.statusd.url + "/") as (page, watch):
        shown = cldr_names(page, names.values())
        for source, keys in (
            ("sms", ("bandwidth", "response_time")),
            ("mms", ("bandwidth", "response_time")),
        ):
            expected = [
                [
                    flag(names[r["country"]]) + shown[names[r["country"]]],
                    r["provider"],
                    f"{grouped(r[keys[0]])} %",
                    f"{grouped(r[keys[1]])} ms",
                ]
                for r in data[source][0]
            ]
            assert row_cells(page, f"#{source}-rows") == expected
        assert row_cells(page, "#voice-rows") == [
            [
                flag(r["country"]) + shown[r["country"]],
                r["provider"],
                f"{grouped(r['bandwidth'])} %",
                f"{grouped(r['response_time'])} ms",
                f"{r['connection_stability']:.2f}",
                f"{grouped(r['ttfb'])} ms",
                f"{grouped(r['voice_purity'])}",
                f"{grouped(r['median_of_calls_time'])} min",
            ]
            for r in data["voice_call"]
        ]
        labels = page.locator("#email-rows svg").evaluate_all(
            "svgs => svgs.map(s => s.getAttribute('aria-label'))"
        )
        expected_labels = []
        for code in sorted(
            data["email"], key=lambda c: next(n for n, v in names.items() if v == c)
        ):
            fastest, slowest = data["email"][code]
            for kind, records in (("Fastest", fastest), ("Slowest", slowest)):
                said = ", ".join(
                    f"{r['provider']} {grouped(r['delivery_time'])} ms" for r in records
                )
                expected_labels.append(f"{kind}: {said}")
        assert sorted(labels) == sorted(expected_labels)
        assert len(labels) == 2 * len(data["email"])

        billing = data["billing"]
        states = page.locator("#billing-list .fn-state").all_text_contents()
        assert states == [
            "Up" if billing[k] else "Down"
            for k in (
                "create_customer",
                "purchase",
                "payout",
                "reccuring",
                "fraud_control",
                "checkout_page",
            )
        ]
        load, wait = data["support"]
        expect(page.locator("#support-body")).to_contain_text(f"(level {load} of 3)")
        expect(page.locator("#support-body .wait")).to_contain_text(f"{wait} min")
        topics = page.locator("#incident-list .incident-topic").all_text_contents()
        assert topics == [i["topic"] for i in data["incident"]]
        active = page.locator("#incident-list li.active").count()
        assert active == sum(i["status"] == "active" for i in data["incident"])

        verdicts = stack.statusd.get("/api/verdicts").json()
        levels = {"none": "ok", "minor": "degraded", "major": "major", "critical": "unavailable"}
        # statusd's indicator decides; the page words it from its catalog (the API's
        # description stays English whatever the page's language)
        title = i18n.text("en", "page.banner." + levels[verdicts["indicator"]])
        expect(page.locator("#overall-title")).to_have_text(title)
        expect(page.locator("#overall")).to_have_attribute(
            "data-level", levels[verdicts["indicator"]]
        )
        for state in page.locator(".freshness[data-source]").evaluate_all(
            "ps => ps.map(p => p.dataset.state)"
        ):
            assert state == "ok"
        assert page.locator("main").get_attribute("data-etag") == etag
        watch.assert_clean(stack.statusd.url)


def test_picker_finds_a_country_by_name_and_by_code(browser: Browser, stack: Stack) -> None:
    """ "Saint Barth" finds Saint Barthélemy (shown as CLDR's "St. Barthélemy"), "ca" finds
    Canada; the region shows their rows."""
    _, doc = stack.api()
    with open_page(browser, stack, stack.statusd.url + "/") as (page, watch):
        picker = page.locator("#country-input")
        picker.fill("Saint Barth")
        picker.press("Enter")
        expect(page.locator("#region-view .region-name")).to_contain_text("St. Barthélemy")
        assert page.evaluate("location.hash") == "#country=BL"
        picker.fill("ca")
        expect(page.locator("#country-list [aria-selected=true]")).to_contain_text("Canada")
        picker.press("Enter")
        assert page.evaluate("location.hash") == "#country=CA"
        sms = [r for r in doc["data"]["sms"][1] if r["country"] == "Canada"]
        shown = row_cells(page, '.card[data-product="sms"] tbody')
        assert [row[:3] for row in shown] == [
            [r["provider"], f"{r['bandwidth']} %", f"{r['response_time']} ms"] for r in sms
        ]
        voice = [r for r in doc["data"]["voice_call"] if r["country"] == "CA"]
        assert len(row_cells(page, '.card[data-product="voice"] tbody')) == len(voice)
        body = stack.statusd.get("/api/verdicts").json()
        cells = {(c["product"], c["key"]): c for c in body["cells"]}
        for product in ("sms", "mms", "voice", "email"):
            pill = page.locator(f'.card[data-product="{product}"] .verdict')
            expect(pill).to_have_attribute("data-verdict", cells[(product, "CA")]["verdict"])
        sms_rule = body["rules"]["sms"]
        page.locator('.card[data-product="sms"] .verdict').focus()
        tooltip = page.locator('.card[data-product="sms"] .tooltip')
        expect(tooltip).to_contain_text(f"{grouped(sms_rule['max_response_time'])} ms")
        expect(tooltip).to_contain_text(f"{sms_rule['min_bandwidth']} %")
        expect(page.locator('.card[data-product="sms"] .history-bars rect')).to_have_count(90)
        page.locator("#badge-box summary").click()
        expect(page.locator("#badge-preview img")).to_have_count(4)
        page.wait_for_function(
            "() => [...document.querySelectorAll('#badge-preview img')]"
            ".every(i => i.complete && i.naturalWidth > 0)"
        )
        page.reload()
        expect(page.locator("#region-view .region-name")).to_contain_text("Canada")
        watch.assert_clean(stack.statusd.url)


def first_sms_row(doc: dict[str, Any]) -> list[str]:
    r = doc["data"]["sms"][0][0]
    return [r["provider"], f"{r['bandwidth']} %", f"{r['response_time']} ms"]


def regenerate_and_wait(stack: Stack, old_etag: str) -> tuple[str, dict[str, Any]]:
    """New simulator data, and statusd's /api once every source has collected it.

    Sources are collected one by one, so /api changes several times after a regeneration;
    the document is settled when its ETag has stayed the same for two collection intervals.
    """
    stack.sim.regenerate()
    seen = [old_etag]

    def settled() -> bool:
        seen.append(stack.api()[0])
        return seen[-1] != old_etag and len(set(seen[-3:])) == 1

    deadline = time.monotonic() + 15
    while not settled():
        assert time.monotonic() < deadline, "statusd did not settle on the new data"
        time.sleep(SETTLE_STEP)
    return stack.api()


def test_live_change_appears_without_reload(browser: Browser, stack: Stack) -> None:
    """New data reaches the page through /api/events: no reload, one request at a time."""
    with open_page(browser, stack, stack.statusd.url + "/") as (page, watch):
        expect(page.locator("#connection")).to_have_attribute("data-mode", "live")
        page.evaluate("window.sameDocument = true")
        etag, doc = regenerate_and_wait(stack, stack.api()[0])
        wait_for_document(page, etag)
        assert row_cells(page, "#sms-rows")[0][1:] == first_sms_row(doc)
        expect(page.locator("#live-region")).to_contain_text("Status updated at")
        assert page.evaluate("window.sameDocument") is True
        assert watch.api_requests("/api/events")
        watch.assert_clean(stack.statusd.url)


def test_polling_fallback_uses_if_none_match(browser: Browser, stack: Stack) -> None:
    """With the event stream refused, the page polls /api conditionally and still updates."""
    url = stack.statusd.url + "/?poll=1"
    with open_page(browser, stack, url, refuse_events=True) as (page, watch):
        expect(page.locator("#connection")).to_have_attribute("data-mode", "polling")
        page.evaluate("window.sameDocument = true")
        unchanged = page.wait_for_event(
            "response", lambda r: r.url.endswith("/api") and r.status == 304
        )
        assert unchanged.request.headers["if-none-match"] == stack.api()[0]
        etag, doc = regenerate_and_wait(stack, stack.api()[0])
        wait_for_document(page, etag)
        assert row_cells(page, "#sms-rows")[0][1:] == first_sms_row(doc)
        assert page.evaluate("window.sameDocument") is True
        watch.assert_clean(stack.statusd.url)


def test_html_in_a_source_shows_literally(browser: Browser, stack: Stack) -> None:
    """The simulator's incident topic with markup in it is text on the page."""
    _, doc = stack.api()
    marked = [i["topic"] for i in doc["data"]["incident"] if "<" in i["topic"]]
    assert marked, "the simulator always sends one topic with HTML in it"
    with open_page(browser, stack, stack.statusd.url + "/") as (page, watch):
        shown = page.locator("#incident-list .incident-topic").all_text_contents()
        for topic in marked:
            assert topic in shown
        assert page.locator("#incident-list .incident-topic *").count() == 0
        watch.assert_clean(stack.statusd.url)


def test_file_mode_talks_to_statusd(browser: Browser, stack: Stack) -> None:
    """web/index.html opened as a file, with ?api=, shows statusd's data and updates."""
    url = f"{(WEB / 'index.html').as_uri()}?api={stack.statusd.url}#country=RU"
    _, doc = stack.api()
    with open_page(browser, stack, url) as (page, watch):
        assert len(row_cells(page, "#sms-rows")) == len(doc["data"]["sms"][0])
        expect(page.locator("#region-view .region-name")).to_contain_text("Russia")
        expect(page.locator("#connection")).to_contain_text(f"from {stack.statusd.url}/")
        expect(page.locator("#connection")).to_have_attribute("data-mode", "live")
        watch.assert_clean(stack.statusd.url)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshots_and_axe_at_1280_and_375_px(
    browser: Browser, stack: Stack, scheme: Literal["light", "dark"]
) -> None:
    """Full-page screenshots for people (tests/artifacts/); the narrow one never scrolls
    sideways; axe-core finds no serious or critical violation on the real data, with and
    without a chosen country."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    audit = AxeAudit()
    for width in (1280, 375):
        with open_page(browser, stack, stack.statusd.url + "/", width=width, scheme=scheme) as (
            page,
            watch,
        ):
            audit.check(page, f"overview, {width} px")
            watch.assert_clean(stack.statusd.url)
        url = stack.statusd.url + "/#country=FR"
        with open_page(browser, stack, url, width=width, scheme=scheme) as (page, watch):
            expect(page.locator("#region-view .card")).to_have_count(4)
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            shot = ARTIFACTS / f"page-{width}-{scheme}.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            audit.check(page, f"region FR, {width} px")
            watch.assert_clean(stack.statusd.url)
    audit.assert_clean()


def test_sources_down_shows_the_error_state_then_recovers(browser: Browser, stack: Stack) -> None:
    """HTTP sources failing: first "refresh failed", then stale and "Data unavailable" with
    the last data still shown; back to normal when they answer again."""
    with open_page(browser, stack, stack.statusd.url + "/?poll=1") as (page, watch):
        rows = len(row_cells(page, "#mms-rows"))
        assert rows > 0
        try:
            for endpoint in ("mms", "support", "accendent"):
                stack.sim.set_fault(endpoint, "error")
            expect(page.locator("#overall")).to_have_attribute("data-level", "unavailable")
            expect(page.locator("#overall-title")).to_have_text("Data unavailable")
            expect(page.locator("#held-notice")).to_be_visible()
            mms = page.locator('#mms .freshness[data-source="mms"]')
            expect(mms).to_have_attribute("data-state", "stale")
            assert len(row_cells(page, "#mms-rows")) == rows
            expect(page.locator('#sms .freshness[data-source="sms"]')).to_have_attribute(
                "data-state", "ok"
            )
        finally:
            for endpoint in ("mms", "support", "accendent"):
                stack.sim.set_fault(endpoint, "ok")
        expect(page.locator("#overall")).not_to_have_attribute("data-level", "unavailable")
        expect(page.locator("#held-notice")).to_be_hidden()
        expect(page.locator('#mms .freshness[data-source="mms"]')).to_have_attribute(
            "data-state", "ok"
        )
        watch.assert_clean(stack.statusd.url)


def test_page_assets_carry_the_security_headers(stack: Stack) -> None:
    """statusd serves the page with a CSP without inline scripts, nosniff and no-referrer."""
    for path in ("/", "/app.js", "/js/dom.js", "/style.css"):
        response = httpx.get(stack.statusd.url + path, timeout=5)
        assert response.status_code == 200
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
    assert Path(WEB / "index.html").is_file()
