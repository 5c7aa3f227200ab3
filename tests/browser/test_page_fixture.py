"""The status page against a fake statusd (Playwright routes, no sockets): what it shows
for documents, verdicts and source states chosen to hit every branch."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.fake_statusd import ERROR_DOCUMENT, ORIGIN, XSS, FakeStatusd, fixture
from tests.browser.harness import TIMEOUT_MS, AxeAudit, PageWatch

pytestmark = pytest.mark.browser


@contextmanager
def open_page(
    browser: Browser,
    fake: FakeStatusd,
    *,
    path: str = "/",
    width: int = 1280,
    locale: str = "en-US",
    timezone: str | None = None,
    scheme: str = "light",
    allowed_errors: tuple[str, ...] = (),
) -> Iterator[tuple[Page, PageWatch]]:
    """A page of the fake statusd, loaded and rendered once; the context is closed after."""
    context = browser.new_context(
        viewport={"width": width, "height": 800},
        locale=locale,
        timezone_id=timezone,
        color_scheme=scheme,  # type: ignore[arg-type]
    )
    context.set_default_timeout(TIMEOUT_MS)
    try:
        fake.install(context)
        page = context.new_page()
        # /api/events is refused on purpose (the page then polls): Chromium logs that.
        watch = PageWatch(allowed_errors=("net::ERR_FAILED", *allowed_errors))
        watch.attach(page)
        page.goto(ORIGIN + path)
        expect(page.locator("#overall")).not_to_have_attribute("data-level", "loading")
        yield page, watch
    finally:
        context.close()


def texts(page: Page, selector: str) -> list[str]:
    return [t.strip() for t in page.locator(selector).all_text_contents()]


def test_every_section_shows_the_document(browser: Browser) -> None:
    """Banner, billing, support, incidents and the four all-country tables show /api."""
    with open_page(browser, FakeStatusd()) as (page, watch):
        # statusd's indicator (major) decides, worded by the page's catalog
        expect(page.locator("#overall-title")).to_have_text("Partial outage")
        assert page.locator("#overall").get_attribute("data-level") == "major"
        reasons = texts(page, "#overall-reasons li")
        assert "Billing down: Payout" in reasons
        assert "1 active incident" in reasons
        assert "MMS data could not be refreshed" in reasons
        expect(page.locator("#last-update time")).to_have_attribute(
            "datetime", "2026-11-25T14:00:05.000Z"
        )

        billing = page.locator("#billing-list li")
        expect(billing).to_have_count(6)
        assert texts(page, "#billing-list .fn-state") == ["Up", "Up", "Down", "Up", "Up", "Up"]
        expect(page.locator("#billing-list li.down .fn-name")).to_have_text("Payout")

        expect(page.locator("#support-body")).to_contain_text("Load: Moderate (level 2 of 3)")
        expect(page.locator("#support-body .wait")).to_contain_text("50 min")
        assert page.locator("#support-body .seg.on").count() == 2

        incidents = page.locator("#incident-list li")
        expect(incidents).to_have_count(2)
        assert incidents.nth(0).get_attribute("class") == "incident active"
        assert incidents.nth(1).get_attribute("class") == "incident closed"
        expect(incidents.nth(1)).to_contain_text("Checkout page slow")

        sms = page.locator("#sms-rows tr")
        expect(sms).to_have_count(5)
        assert sms.nth(0).locator("th, td").all_text_contents() == [
            "🇫🇷France",
            "Kildy",
            "64 %",
            "1100 ms",
        ]
        expect(page.locator("#mms-rows tr")).to_have_count(2)
        voice = page.locator("#voice-rows tr")
        expect(voice).to_have_count(2)
        assert voice.nth(1).locator("td").all_text_contents() == [
            "E-Voice",
            "95 %",
            "900 ms",
            "0.51",
            "812 ms",
            "33",
            "12 min",
        ]

        email = page.locator("#email-rows tr")
        expect(email).to_have_count(2)
        assert texts(page, "#email-rows th") == ["🇷🇺Russia", "🇺🇸United States"]
        fastest = email.nth(0).locator("td").nth(0).locator("svg")
        assert fastest.get_attribute("aria-label") == (
            "Fastest: Yandex 45 ms, Mail.ru 120 ms, Gmail 230 ms"
        )
        expect(fastest.locator("rect")).to_have_count(3)
        widths = [
            int(w or 0)
            for w in fastest.locator("rect").evaluate_all(
                "rects => rects.map(r => r.getAttribute('width'))"
            )
        ]
        assert widths == sorted(widths)
        assert widths[0] < widths[-1]
        watch.assert_clean(ORIGIN)


def test_messaging_tables_switch_between_the_two_prepared_orders(browser: Browser) -> None:
    """The SMS table shows by_provider, then by_country when asked, as statusd sorted them."""
    doc = fixture("api.json")
    # /api's ISO names → CLDR's, which the page shows
    shown_as = {"Russian Federation": "Russia", "Saint Barthélemy": "St. Barthélemy"}

    def rows(order: int) -> list[str]:
        sms = doc["data"]["sms"][order]
        return [r["provider"] + "/" + shown_as.get(r["country"], r["country"]) for r in sms]

    by_provider, by_country = rows(0), rows(1)
    assert by_provider != by_country

    def shown(page: Page) -> list[str]:
        rows = page.locator("#sms-rows tr")
        return [
            f"{rows.nth(i).locator('td').nth(0).text_content()}/"
            f"{(rows.nth(i).locator('th').text_content() or '')[2:]}"
            for i in range(rows.count())
        ]

    with open_page(browser, FakeStatusd()) as (page, watch):
        assert shown(page) == by_provider
        by_country_button = page.locator('[data-order-for="sms"][data-order="1"]')
        by_country_button.click()
        expect(by_country_button).to_have_attribute("aria-pressed", "true")
        assert shown(page) == by_country
        page.locator('[data-order-for="sms"][data-order="0"]').click()
        assert shown(page) == by_provider
        watch.assert_clean(ORIGIN)


def test_source_text_shows_literally_never_as_markup(browser: Browser) -> None:
    """An incident topic or an error text with HTML in it is shown as text; nothing runs."""
    with open_page(browser, FakeStatusd()) as (page, watch):
        topic = page.locator("#incident-list li.active .incident-topic")
        expect(topic).to_have_text(XSS)
        assert page.locator("#incident-list img").count() == 0
        expect(page.locator('#mms .freshness[data-source="mms"]')).to_contain_text(
            "HTTP 500 <b>bold</b>"
        )
        assert page.locator(".freshness b").count() == 0
        watch.assert_clean(ORIGIN)


def test_picker_finds_a_country_by_name_code_and_folded_name(browser: Browser) -> None:
    """Typing a name, a code or a name without its accents, then Enter, picks the country
    and remembers it in the hash; arrows move, Escape closes."""
    with open_page(browser, FakeStatusd()) as (page, watch):
        picker = page.locator("#country-input")
        picker.focus()
        picker.fill("russ")
        expect(page.locator("#country-list")).to_be_visible()
        expect(page.locator("#country-list [role=option]").first).to_contain_text("Russia")
        expect(picker).to_have_attribute("aria-expanded", "true")
        picker.press("Enter")
        expect(page.locator("#region-view .region-name")).to_contain_text("Russia")
        assert page.evaluate("location.hash") == "#country=RU"
        expect(page.locator("#country-list")).to_be_hidden()

        picker.focus()
        picker.fill("fr")
        expect(page.locator("#country-list [aria-selected=true]")).to_contain_text("France")
        picker.press("Enter")
        assert page.evaluate("location.hash") == "#country=FR"

        picker.focus()
        picker.fill("turkiye")
        expect(page.locator("#country-list [aria-selected=true]")).to_contain_text("Türkiye")
        picker.press("Escape")
        expect(page.locator("#country-list")).to_be_hidden()
        expect(picker).to_have_value("France (FR)")

        picker.focus()
        picker.fill("united")
        first = page.locator("#country-list [aria-selected=true]").text_content()
        picker.press("ArrowDown")
        second = page.locator("#country-list [aria-selected=true]").text_content()
        assert first != second
        picker.press("Enter")
        assert page.evaluate("location.hash") != "#country=FR"

        page.evaluate("location.hash = 'country=US'")
        expect(picker).to_have_value("United States (US)")
        watch.assert_clean(ORIGIN)


def test_region_shows_statusd_verdicts_with_the_rule_and_its_thresholds(browser: Browser) -> None:
    """Each product of the chosen country has statusd's verdict; focusing it shows the rule
    with the thresholds of /api/verdicts; provider rows say which providers are good."""
    with open_page(browser, FakeStatusd(), path="/#country=RU") as (page, watch):
        cards = page.locator("#region-view .card")
        expect(cards).to_have_count(4)
        for product in ("sms", "mms", "voice", "email"):
            expect(page.locator(f'.card[data-product="{product}"] .verdict')).to_have_text(
                re.compile("Operational")
            )
        sms = page.locator('.card[data-product="sms"]')
        tooltip = sms.locator(".tooltip")
        expect(tooltip).to_be_hidden()
        sms.locator(".verdict").focus()
        expect(tooltip).to_be_visible()
        expect(tooltip).to_contain_text("response time ≤ 1,000 ms")
        expect(tooltip).to_contain_text("20 %")
        expect(tooltip).to_contain_text("Good providers: Topolo (1 of 2)")
        described = sms.locator(".verdict").get_attribute("aria-describedby")
        assert tooltip.get_attribute("id") == described
        assert sms.locator("tbody tr").evaluate_all(
            "rows => rows.map(r => [r.cells[0].textContent, r.cells[3].textContent])"
        ) == [["Kildy", "Not good"], ["Topolo", "Good"]]
        voice = page.locator('.card[data-product="voice"]')
        assert voice.locator("tbody td").all_text_contents()[:5] == [
            "40 %",
            "0.92",
            "120 ms",
            "80",
            "7 min",
        ]
        voice.locator(".verdict").focus()
        expect(voice.locator(".tooltip")).to_contain_text("0.8")
        expect(voice.locator(".tooltip")).to_contain_text("500 ms")
        email = page.locator('.card[data-product="email"]')
        expect(email.locator("figure svg")).to_have_count(2)

        page.locator("#country-input").fill("United States")
        page.locator("#country-input").press("Enter")
        expect(page.locator('.card[data-product="voice"] .verdict')).to_have_text(
            re.compile("Degraded performance")
        )
        expect(page.locator('.card[data-product="sms"] .verdict')).to_have_text(
            re.compile("No data")
        )
        expect(page.locator('.card[data-product="sms"]')).to_contain_text(
            "No SMS provider reports on this country."
        )
        watch.assert_clean(ORIGIN)


def test_unknown_verdict_claims_nothing(browser: Browser) -> None:
    """A cell statusd calls unknown reads "Unknown", its tooltip gives statusd's rule for
    unknown, and its provider rows are not marked good or bad."""
    fake = FakeStatusd()
    for cell in fake.verdicts["cells"]:
        if cell["product"] == "mms":
            cell["verdict"] = "unknown"
    with open_page(browser, fake, path="/#country=RU") as (page, watch):
        mms = page.locator('.card[data-product="mms"]')
        expect(mms.locator(".verdict")).to_have_text("?Unknown: no fresh data")
        mms.locator(".verdict").focus()
        expect(mms.locator(".tooltip")).to_contain_text("Unknown: no fresh data.")
        expect(mms.locator(".tooltip")).to_contain_text(
            "Operational when at least one provider is good"
        )
        assert mms.locator("td.good, td.bad").count() == 0
        expect(page.locator('.card[data-product="sms"] td.good')).to_have_count(1)
        watch.assert_clean(ORIGIN)


def test_without_verdicts_the_page_says_so_and_computes_none(browser: Browser) -> None:
    """While /api/verdicts is not served, every region cell reads "Verdict unavailable" and
    the banner falls back to the facts of /api (billing down → degraded)."""
    fake = FakeStatusd(verdicts=None)
    with open_page(browser, fake, path="/#country=RU", allowed_errors=("/api/verdicts",)) as (
        page,
        watch,
    ):
        expect(page.locator("#region-view .verdict")).to_have_count(4)
        assert set(texts(page, "#region-view .verdict")) == {"–Verdict unavailable"}
        expect(page.locator("#overall-title")).to_have_text("Degraded service")
        assert page.locator("#overall").get_attribute("data-level") == "degraded"
        assert page.locator("#region-view td.good, #region-view td.bad").count() == 0
        page.locator('.card[data-product="sms"] .verdict').focus()
        expect(page.locator('.card[data-product="sms"] .tooltip')).to_contain_text(
            "this page does not compute one"
        )
        watch.assert_clean(ORIGIN)


def test_history_bar_has_a_day_per_bucket_coloured_by_uptime(browser: Browser) -> None:
    """90 bars per product: unknown days grey, the bad day red, a title with the figures."""
    with open_page(browser, FakeStatusd(), path="/#country=RU") as (page, watch):
        bars = page.locator('.card[data-product="sms"] .history-bars rect')
        expect(bars).to_have_count(90)
        classes = bars.evaluate_all("rs => rs.map(r => r.getAttribute('class'))")
        assert classes[:10] == ["day d-unknown"] * 10
        assert classes[50] == "day d-major"
        assert classes.count("day d-up") == 79
        assert bars.nth(50).locator("title").text_content() == (
            "Oct 17, 2026: 25.00 % up (operational 6 h 0 min, major outage 18 h 0 min)"
        )
        summary = page.locator('.card[data-product="sms"] .history-summary')
        expect(summary).to_have_text("99.06 % uptime")
        label = page.locator('.card[data-product="sms"] .history-bars').get_attribute("aria-label")
        assert label == "SMS: 99.06 % uptime over the last 90 days. 1 day with outages."
        watch.assert_clean(ORIGIN)


def test_browser_locale_presets_the_country_when_it_has_data(browser: Browser) -> None:
    """fr-FR opens on France; de-AT (no data for Austria) opens on the prompt."""
    with open_page(browser, FakeStatusd(), locale="fr-FR") as (page, watch):
        expect(page.locator("#region-view .region-name")).to_contain_text("France")
        assert page.evaluate("location.hash") == ""
        watch.assert_clean(ORIGIN)
    with open_page(browser, FakeStatusd(), locale="de-AT") as (page, watch):
        expect(page.locator("#region-view .prompt")).to_be_visible()
        watch.assert_clean(ORIGIN)


def test_data_unavailable_keeps_the_last_data_and_marks_stale_sources(browser: Browser) -> None:
    """/api turning to the error document: banner "Data unavailable", the last data stays
    with a notice, and a stale source says so next to its section."""
    fake = FakeStatusd()
    with open_page(browser, fake, path="/?poll=1#country=RU") as (page, watch):
        expect(page.locator("#mms-rows tr")).to_have_count(2)
        sources = copy.deepcopy(fake.sources)
        sources["mms"]["fresh"] = False
        sources["mms"]["error"] = "timeout"
        fake.sources = sources
        fake.set_document(ERROR_DOCUMENT, '"fixture-error"')
        expect(page.locator("#overall-title")).to_have_text("Data unavailable")
        assert page.locator("#overall").get_attribute("data-level") == "unavailable"
        expect(page.locator("#held-notice")).to_be_visible()
        expect(page.locator("#mms-rows tr")).to_have_count(2)
        expect(page.locator("#sms-rows tr")).to_have_count(5)
        stale = page.locator('#mms .freshness[data-source="mms"]')
        expect(stale).to_have_attribute("data-state", "stale")
        expect(stale).to_contain_text("Stale: no fresh data since")
        expect(stale).to_contain_text("(timeout)")
        expect(page.locator('#sms .freshness[data-source="sms"]')).to_have_attribute(
            "data-state", "ok"
        )
        expect(page.locator('.card[data-product="mms"] .freshness')).to_have_attribute(
            "data-state", "stale"
        )
        watch.assert_clean(ORIGIN)


def test_polling_revalidates_with_if_none_match_and_updates_in_place(browser: Browser) -> None:
    """Without the event stream the page polls /api with If-None-Match, gets 304s, and shows
    a new document without reloading, keeping the keyboard focus; never two API requests
    at once."""
    fake = FakeStatusd()
    with open_page(browser, fake, path="/?poll=1#country=RU") as (page, watch):
        page.locator('.card[data-product="sms"] .verdict').focus()
        page.evaluate("window.loadedOnce = true")
        expect(page.locator("#connection")).to_have_attribute("data-mode", "polling")
        page.wait_for_function(
            "() => performance.getEntriesByType('resource')"
            ".filter(e => e.name.endsWith('/api')).length >= 3"
        )
        conditional = [h.get("if-none-match") for p, h in fake.seen if p == "/api"]
        assert conditional[0] is None
        assert '"fixture-1"' in conditional[1:]
        doc: dict[str, Any] = copy.deepcopy(fake.document)
        doc["data"]["support"] = [3, 120]
        doc["data"]["billing"]["payout"] = True
        fake.set_document(doc, '"fixture-2"')
        expect(page.locator("#support-body")).to_contain_text("High")
        expect(page.locator("#billing-list li.down")).to_have_count(0)
        expect(page.locator("main")).to_have_attribute("data-etag", '"fixture-2"')
        expect(page.locator("#live-region")).to_contain_text("Status updated at")
        assert page.evaluate("window.loadedOnce") is True
        assert page.evaluate("document.activeElement.dataset.focusKey") == "verdict-sms"
        watch.assert_clean(ORIGIN)


def test_narrow_dark_page_fits_360_px(browser: Browser) -> None:
    """At 360 px nothing overflows the page sideways (wide tables scroll inside their box),
    and the dark theme follows prefers-color-scheme."""
    with open_page(browser, FakeStatusd(), path="/#country=RU", width=360, scheme="dark") as (
        page,
        watch,
    ):
        expect(page.locator("#region-view .card")).to_have_count(4)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(13, 17, 23)"
        watch.assert_clean(ORIGIN)


def test_keyboard_reaches_skip_link_picker_and_tooltips(browser: Browser) -> None:
    """Tab starts at the skip link; the skip link moves focus to the main content without
    losing the chosen country; verdicts are focusable."""
    with open_page(browser, FakeStatusd(), path="/#country=RU") as (page, watch):
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip-link"
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main"
        assert page.evaluate("location.hash") == "#country=RU"
        for _ in range(12):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.id") == "country-input":
                break
        assert page.evaluate("document.activeElement.id") == "country-input"
        page.keyboard.type("BL")
        page.keyboard.press("Enter")
        expect(page.locator("#region-view .region-name")).to_contain_text("St. Barthélemy")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.dataset.verdict") == "operational"
        expect(page.locator('.card[data-product="sms"] .tooltip')).to_be_visible()
        watch.assert_clean(ORIGIN)


def test_badge_snippet_for_the_chosen_country(browser: Browser) -> None:
    """The README snippet links statusd's badge of every product the country has."""
    with open_page(browser, FakeStatusd(), path="/#country=US") as (page, watch):
        page.locator("#badge-box summary").click()
        snippet = page.locator("#badge-snippet").input_value()
        assert snippet.splitlines() == [
            f"[![Voice calls in United States]({ORIGIN}/badge/voice/US.svg)]({ORIGIN}/#country=US)",
            f"[![Email in United States]({ORIGIN}/badge/email/US.svg)]({ORIGIN}/#country=US)",
        ]
        badges = page.locator("#badge-preview img")
        expect(badges).to_have_count(2)
        page.wait_for_function(
            "() => [...document.querySelectorAll('#badge-preview img')]"
            ".every(i => i.complete && i.naturalWidth > 0)"
        )
        assert badges.nth(0).get_attribute("alt") == "Voice calls in United States: status badge"
        watch.assert_clean(ORIGIN)


def every_verdict() -> FakeStatusd:
    """Russia's four products as partial outage, major outage, unknown and operational; with
    the United States (degraded, *No data*, operational) the region view shows every verdict
    badge there is."""
    fake = FakeStatusd()
    chosen = {"sms": "partial_outage", "mms": "major_outage", "voice": "unknown"}
    for cell in fake.verdicts["cells"]:
        if cell["key"] == "RU" and cell["product"] in chosen:
            cell["verdict"] = chosen[cell["product"]]
    return fake


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [1280, 375])
def test_axe_finds_no_serious_violation_in_any_state(
    browser: Browser, width: int, scheme: str
) -> None:
    """axe-core over the states the other tests visit, in both themes and at both widths:
    the overview with the prompt, the open picker, every verdict badge, both table orders,
    an open tooltip, the badge box, and the held data of the error document."""
    fake = every_verdict()
    audit = AxeAudit()
    with open_page(browser, fake, path="/?poll=1", width=width, scheme=scheme, locale="de-AT") as (
        page,
        watch,
    ):
        expect(page.locator("#region-view .prompt")).to_be_visible()
        audit.check(page, "overview")

        picker = page.locator("#country-input")
        picker.fill("united")
        expect(page.locator("#country-list [aria-selected=true]")).to_be_visible()
        audit.check(page, "open picker")
        picker.press("Escape")

        for code, verdicts in (
            ("RU", {"partial_outage", "major_outage", "unknown", "operational"}),
            ("US", {"degraded_performance", "none", "operational"}),
        ):
            page.evaluate(f"location.hash = 'country={code}'")
            badges = page.locator("#region-view .verdict")
            expect(badges).to_have_count(4)
            assert set(badges.evaluate_all("bs => bs.map(b => b.dataset.verdict)")) == verdicts
            audit.check(page, f"region {code}")

        page.locator('[data-order-for="sms"][data-order="1"]').click()
        expect(page.locator('[data-order-for="sms"][data-order="1"]')).to_have_attribute(
            "aria-pressed", "true"
        )
        page.locator('.card[data-product="voice"] .verdict').focus()
        expect(page.locator('.card[data-product="voice"] .tooltip')).to_be_visible()
        page.locator("#badge-box summary").click()
        expect(page.locator("#badge-snippet")).to_be_visible()
        audit.check(page, "by country, tooltip, badge box")

        fake.set_document(ERROR_DOCUMENT, '"fixture-error"')
        expect(page.locator("#held-notice")).to_be_visible()
        audit.check(page, "held data")
        watch.assert_clean(ORIGIN)
    audit.assert_clean()


BASES = [
    ("http://status.example/", "http://status.example/"),
    ("http://status.example/index.html#country=RU", "http://status.example/"),
    ("https://example.org/status/", "https://example.org/status/"),
    ("file:///srv/web/index.html", "http://127.0.0.1:8080/"),
    ("file:///srv/web/index.html?api=http://127.0.0.1:9999", "http://127.0.0.1:9999/"),
    ("http://status.example/?api=https://api.example/x", "https://api.example/x/"),
    ("http://status.example/?api=javascript:alert(1)", "http://status.example/"),
]


def test_api_base_resolution(browser: Browser) -> None:
    """Same origin over http(s), 127.0.0.1:8080 from a file, ?api= overrides both."""
    with open_page(browser, FakeStatusd()) as (page, watch):
        hrefs = [href for href, _ in BASES]
        got = page.evaluate("hs => hs.map(h => StatusPage.api.resolveBase(h))", hrefs)
        assert list(zip(hrefs, got, strict=True)) == BASES
        watch.assert_clean(ORIGIN)
