"""The page's planned maintenance (region view and overview) and past incidents, against the
fake statusd in Chromium, with axe-core over those states."""

from __future__ import annotations

import datetime
import re

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.fake_statusd import ORIGIN, FakeStatusd, maintenance
from tests.browser.harness import AxeAudit
from tests.browser.test_page_fixture import open_page, texts

pytestmark = pytest.mark.browser

NOW = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
HOUR = datetime.timedelta(hours=1)


def during_a_window() -> FakeStatusd:
    """SMS to Russia under maintenance now (its data says operational), a voice window for
    the United States tomorrow, and a billing window later today (every country's)."""
    fake = FakeStatusd()
    for cell in fake.verdicts["cells"]:
        if (cell["product"], cell["key"]) == ("sms", "RU"):
            cell["verdict"] = "under_maintenance"
            cell["data_verdict"] = "operational"
    fake.maintenances = [
        maintenance(
            "voice-us",
            NOW + 24 * HOUR,
            NOW + 26 * HOUR,
            products=["voice"],
            countries=["US"],
            scope="Voice in United States (US)",
        ),
        maintenance(
            "payout",
            NOW + 3 * HOUR,
            NOW + 4 * HOUR,
            products=["billing"],
            countries=[],
            scope="Billing: Payout",
            functions=("payout",),
        ),
        maintenance(
            "sms-ru",
            NOW - HOUR,
            NOW + HOUR,
            products=["sms"],
            countries=["RU"],
            scope="SMS in Russian Federation (RU)",
        ),
    ]
    fake.incidents = [
        {
            "id": "again",
            "name": "Delays to <b>DE</b>",
            "status": "investigating",
            "started_at": "2026-11-20T10:00:00Z",
            "resolved_at": None,
            "duration_seconds": 5400,
            "reopens": "first",
        },
        {
            "id": "first",
            "name": "Delays to <b>DE</b>",
            "status": "resolved",
            "started_at": "2026-11-19T08:00:00Z",
            "resolved_at": "2026-11-19T09:00:00Z",
            "duration_seconds": 3600,
            "reopens": None,
        },
    ]
    return fake


def test_region_view_during_a_window(browser: Browser) -> None:
    """Russia's SMS card says Under maintenance (the tooltip says what the data says); the
    region view lists Russia's running window and the billing one, not the US voice window,
    with the times in the visitor's zone, named; the overview lists all three, running first,
    each linkable."""
    fake = during_a_window()
    with open_page(browser, fake, path="/#country=RU", locale="en-GB") as (page, watch):
        card = page.locator('.card[data-product="sms"] .verdict')
        expect(card).to_have_attribute("data-verdict", "under_maintenance")
        expect(card).to_contain_text("Under maintenance")
        card.focus()
        tooltip = page.locator('.card[data-product="sms"] .tooltip')
        expect(tooltip).to_contain_text("the data says: operational")
        region = page.locator("#region-maintenance")
        expect(region).to_be_visible()
        expect(region.locator("h3").first).to_have_text("Planned maintenance in Russia")
        assert texts(page, "#region-maintenance .maintenance-item h3") == [
            "In progressWork sms-ru",
            "UpcomingWork payout",
        ]
        affects = texts(page, "#region-maintenance .maintenance-item p:not(.maintenance-when)")
        assert affects == ["Affects: SMS in Russia (RU)", "Affects: Billing: Payout"]
        zone = page.evaluate(
            "() => new Intl.DateTimeFormat(undefined, {timeZoneName: 'short'})"
            ".formatToParts(new Date()).find(p => p.type === 'timeZoneName').value"
        )
        when = texts(page, "#region-maintenance .maintenance-when")[0]
        assert re.fullmatch(r".+ \d{2}:\d{2} – (.+ )?\d{2}:\d{2} " + re.escape(zone), when), when
        assert texts(page, "#maintenance-list .maintenance-item h3") == [
            "In progressWork sms-ru",
            "UpcomingWork payout",
            "UpcomingWork voice-us",
        ]
        expect(page.locator("#maintenance-sms-ru")).to_have_attribute("data-status", "in_progress")
        page.evaluate("location.hash = 'country=US'")
        expect(page.locator("#region-maintenance .maintenance-item")).to_have_count(2)
        page.evaluate("location.hash = 'country=FR'")
        assert texts(page, "#region-maintenance .maintenance-item h3") == ["UpcomingWork payout"]
        watch.assert_clean(ORIGIN)


def test_the_page_follows_a_window_starting(browser: Browser) -> None:
    """At a window's start the page asks statusd for its verdicts again (/api does not
    change then) and the window turns from Upcoming to In progress."""
    fake = FakeStatusd()
    soon = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=3)
    fake.maintenances = [
        maintenance(
            "sms-ru",
            soon,
            soon + HOUR,
            products=["sms"],
            countries=["RU"],
            scope="SMS in Russian Federation (RU)",
        )
    ]
    with open_page(browser, fake, path="/#country=RU") as (page, watch):
        pill = page.locator('.card[data-product="sms"] .verdict')
        expect(pill).to_have_attribute("data-verdict", "operational")
        expect(page.locator("#region-maintenance .maintenance-state")).to_have_text("Upcoming")
        for cell in fake.verdicts["cells"]:  # what statusd says from the start on
            if (cell["product"], cell["key"]) == ("sms", "RU"):
                cell["verdict"] = "under_maintenance"
        expect(pill).to_have_attribute("data-verdict", "under_maintenance", timeout=15_000)
        expect(page.locator("#region-maintenance .maintenance-state")).to_have_text("In progress")
        watch.assert_clean(ORIGIN)


def test_times_follow_the_visitors_time_zone(browser: Browser) -> None:
    """The same window reads in Tokyo time for a visitor in Tokyo, with the zone named."""
    fake = during_a_window()
    context = browser.new_context(locale="en-GB", timezone_id="Asia/Tokyo")
    try:
        fake.install(context)
        page = context.new_page()
        page.goto(ORIGIN + "/#country=RU")
        first = page.locator("#region-maintenance .maintenance-when").first
        expect(first).to_be_visible()
        start = NOW - HOUR
        tokyo = start.astimezone(datetime.timezone(datetime.timedelta(hours=9)))
        assert f"{tokyo:%H:%M} – " in first.inner_text()
        assert first.inner_text().endswith(("GMT+9", "JST"))
    finally:
        context.close()


def test_past_incidents_newest_first_and_linkable(browser: Browser) -> None:
    """Past incidents list start, end and duration, newest first, as text (never markup);
    #incident-<id> scrolls to and focuses the incident; a reopened one links the first."""
    fake = during_a_window()
    with open_page(browser, fake, path="/#incident-first") as (page, watch):
        items = page.locator("#past-incidents-list .past-incident")
        expect(items).to_have_count(2)
        assert texts(page, "#past-incidents-list h3") == ["Delays to <b>DE</b>"] * 2
        assert page.locator("#past-incidents-list b").count() == 0
        first = page.locator("#incident-first")
        expect(first).to_be_focused()
        expect(first).to_contain_text("Resolved")
        expect(first).to_contain_text("Lasted 1 h 0 min")
        expect(page.locator("#incident-again")).to_contain_text("still open")
        link = page.locator('#incident-again a[href="#incident-first"]')
        expect(link).to_have_text("an earlier incident")
        expect(page.locator("#past-incidents-summary")).to_have_text(
            "2 in the last 90 days, newest first."
        )
        watch.assert_clean(ORIGIN)


def test_without_the_routes_the_sections_stay_hidden(browser: Browser) -> None:
    """An older statusd (404 for both routes): no maintenance and no past incidents shown."""
    fake = FakeStatusd(maintenances=None, incidents=None)
    missing = ("/api/incidents", "scheduled-maintenances")
    with open_page(browser, fake, path="/#country=RU", allowed_errors=missing) as (page, watch):
        expect(page.locator("#past-incidents")).to_be_hidden()
        expect(page.locator("#maintenance")).to_be_hidden()
        expect(page.locator("#region-maintenance")).to_be_hidden()
        watch.assert_clean(ORIGIN)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [1280, 375])
def test_axe_during_a_window(browser: Browser, width: int, scheme: str) -> None:
    """axe-core finds nothing serious in the region view during a window, the overview's
    list and the past incidents, in both themes and at both widths."""
    audit = AxeAudit()
    with open_page(browser, during_a_window(), path="/#country=RU", width=width, scheme=scheme) as (
        page,
        watch,
    ):
        expect(page.locator("#region-maintenance .maintenance-item")).to_have_count(2)
        expect(page.locator("#past-incidents-list .past-incident")).to_have_count(2)
        page.locator('.card[data-product="sms"] .verdict').focus()
        audit.check(page, "during a window")
        watch.assert_clean(ORIGIN)
    audit.assert_clean()


def test_windows_in_russian_in_moscow_time(browser: Browser) -> None:
    """The Russian page words a window's state and scope itself (statusd's ``scope`` is
    English) with CLDR names, and gives the times in Moscow's zone."""
    fake = during_a_window()
    with open_page(
        browser, fake, path="/#country=RU", locale="ru-RU", timezone="Europe/Moscow"
    ) as (
        page,
        watch,
    ):
        region = page.locator("#region-maintenance")
        expect(region.locator("h3").first).to_have_text("Плановые работы: Россия")
        assert texts(page, "#region-maintenance .maintenance-state") == [
            "Идут сейчас",
            "Запланированы",
        ]
        affects = texts(page, "#region-maintenance .maintenance-item p:not(.maintenance-when)")
        assert affects == ["Затрагивают: SMS: Россия (RU)", "Затрагивают: Биллинг: Выплаты"]
        assert texts(page, "#region-maintenance .maintenance-when")[0].endswith("GMT+3")
        watch.assert_clean(ORIGIN)
