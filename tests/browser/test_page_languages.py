"""The page in English and Russian, in the visitor's time zone (SPEC §10), against the fake
statusd: Chromium contexts with their own ``locale`` and ``timezone_id``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from statusd import i18n
from tests.browser.fake_statusd import ERROR_DOCUMENT, ORIGIN, FakeStatusd
from tests.browser.harness import TIMEOUT_MS, AxeAudit, PageWatch
from tests.browser.test_page_fixture import open_page as fixture_page

pytestmark = pytest.mark.browser

INCIDENT = {
    "id": "first",
    "name": "SMS delays",
    "status": "resolved",
    "started_at": "2026-11-19T08:00:00Z",  # 03:00 in New York, 11:00 in Moscow
    "resolved_at": "2026-11-19T09:00:00Z",
    "duration_seconds": 3600,
    "reopens": None,
}
RAW_KEY = re.compile(r"\bpage\.[a-z_]+\.?[a-z_.]*")
"""A catalog key as the page's code names it; never something a visitor may read."""
VISIBLE = """() => {
  const out = [document.title, document.body.innerText];
  for (const el of document.querySelectorAll('*')) {
    for (const name of ['aria-label', 'title', 'placeholder', 'alt', 'content']) {
      const value = el.getAttribute(name);
      if (value) out.push(value);
    }
  }
  for (const el of document.querySelectorAll('svg title, .tooltip')) out.push(el.textContent);
  return out.join('\\n');
}"""


def with_history() -> FakeStatusd:
    fake = FakeStatusd()
    fake.incidents = [dict(INCIDENT)]
    return fake


@contextmanager
def open_page(
    browser: Browser, fake: FakeStatusd, *, locale: str, timezone: str = "UTC", path: str = "/"
) -> Iterator[tuple[Page, PageWatch]]:
    """The fixture tests' page with the browser set to ``locale`` and ``timezone``; a refused
    sign-up is a 400, and a state without verdicts or history has them answer 404."""
    with fixture_page(
        browser,
        fake,
        path=path,
        locale=locale,
        timezone=timezone,
        allowed_errors=("status of 400", "status of 404"),
    ) as opened:
        yield opened


def raw_keys(page: Page) -> list[str]:
    """Catalog keys anywhere a visitor reads (text, labels, titles, tooltips)."""
    return sorted(set(RAW_KEY.findall(page.evaluate(VISIBLE))))


@pytest.mark.parametrize(
    ("locale", "timezone", "lang", "clock", "zone", "words"),
    [
        ("ru-RU", "Europe/Moscow", "ru", "17:00", "GMT+3", "Последнее обновление"),
        ("en-US", "America/New_York", "en", "09:00", "EST", "Last update"),
    ],
    ids=["ru-moscow", "en-new-york"],
)
def test_the_same_instant_in_each_visitors_zone_and_language(
    browser: Browser, locale: str, timezone: str, lang: str, clock: str, zone: str, words: str
) -> None:
    """14:00:05 UTC on 25 November (the fixture's last collection) reads 17:00 GMT+3 in
    Russian in Moscow and 09:00 AM EST in English in New York; so does an incident's start."""
    with open_page(
        browser, with_history(), locale=locale, timezone=timezone, path="/#country=RU"
    ) as (page, watch):
        expect(page.locator("html")).to_have_attribute("lang", lang)
        updated = page.locator("#last-update")
        expect(updated.locator("time")).to_have_attribute("datetime", "2026-11-25T14:00:05.000Z")
        expect(updated).to_contain_text(words)
        text = updated.locator("time").inner_text()
        assert clock in text
        assert text.endswith(zone)
        assert ("нояб" if lang == "ru" else "Nov 25") in text
        started = page.locator("#past-incidents .incident-when time").first
        expect(started).to_contain_text("11:00 GMT+3" if lang == "ru" else "3:00 AM EST")
        watch.assert_clean(ORIGIN)


def test_russian_words_plurals_and_country_names(browser: Browser) -> None:
    """The Russian page reads as written in Russian: CLDR country names, plural forms by
    Intl.PluralRules (1 стране, 2 странах), numbers with a decimal comma."""
    with open_page(browser, FakeStatusd(), locale="ru-RU", path="/#country=RU") as (page, watch):
        expect(page.locator("#overall-title")).to_have_text("Частичный сбой")
        reasons = [r.strip() for r in page.locator("#overall-reasons li").all_text_contents()]
        assert "1 активный инцидент" in reasons
        assert "Биллинг не работает: Выплаты" in reasons
        assert "SMS: снижение производительности в 2 странах" in reasons
        assert "MMS: снижение производительности в 1 стране" in reasons
        expect(page.locator("#region-view .region-name")).to_contain_text("Россия")
        expect(page.locator('.card[data-product="sms"] .verdict')).to_have_text(
            re.compile("Работает штатно")
        )
        expect(page.locator('.card[data-product="sms"] .history-summary')).to_have_text(
            "доступность 99,06 %"
        )
        expect(page.locator("#email-title")).to_have_text("Доставка почты")
        expect(page.locator("#lang-select")).to_have_value("ru")
        watch.assert_clean(ORIGIN)


def test_the_picker_finds_names_in_both_languages_and_the_code(browser: Browser) -> None:
    """On the English page "Росс" finds Russia, on the Russian one "Germ" finds Германия;
    the code works in both."""
    for locale, query, shown in (
        ("en-US", "Росс", "Russia"),
        ("ru-RU", "Germ", "Германия"),
        ("ru-RU", "de", "Германия"),
    ):
        with open_page(browser, FakeStatusd(), locale=locale) as (page, watch):
            picker = page.locator("#country-input")
            picker.fill(query)
            expect(page.locator("#country-list [role=option]").first).to_contain_text(shown)
            picker.press("Enter")
            expect(page.locator("#region-view .region-name")).to_contain_text(shown)
            watch.assert_clean(ORIGIN)


def test_the_switcher_changes_language_without_a_reload_and_keeps_the_country(
    browser: Browser,
) -> None:
    """Picking Русский redraws the page in Russian in place: the country, the hash and the
    page itself stay; ?lang= and localStorage remember it, so the next visit is Russian."""
    context = browser.new_context(locale="en-US", timezone_id="America/New_York")
    context.set_default_timeout(TIMEOUT_MS)
    try:
        FakeStatusd().install(context)
        page = context.new_page()
        page.goto(ORIGIN + "/#country=RU")
        expect(page.locator("#region-view .region-name")).to_contain_text("Russia")
        expect(page.locator("#lang-select option")).to_have_text(["English", "Русский"])
        page.evaluate("window.stillTheSamePage = true")
        page.select_option("#lang-select", "ru")
        expect(page.locator("html")).to_have_attribute("lang", "ru")
        expect(page.locator("#region-view .region-name")).to_contain_text("Россия")
        expect(page.locator("#country-input")).to_have_value("Россия (RU)")
        expect(page.locator("#region-title")).to_have_text("Ваш регион")
        expect(page.locator("#subscribe-box h3")).to_have_text("Уведомления")
        expect(page.locator('.card[data-product="sms"] h4')).to_have_text("SMS")
        feed = page.locator("footer a").nth(1)
        expect(feed).to_have_text("Лента Atom")
        expect(feed).to_have_attribute("href", ORIGIN + "/feed.atom?lang=ru")
        alternate = page.locator('link[rel="alternate"]')
        expect(alternate).to_have_attribute("href", ORIGIN + "/feed.atom?lang=ru")
        assert page.evaluate("window.stillTheSamePage") is True
        assert page.evaluate("location.hash") == "#country=RU"
        assert page.evaluate("new URL(location.href).searchParams.get('lang')") == "ru"
        assert page.evaluate("localStorage.getItem('statusd.lang')") == "ru"
        assert raw_keys(page) == []

        again = context.new_page()
        again.goto(ORIGIN + "/")
        expect(again.locator("html")).to_have_attribute("lang", "ru")
        expect(again.locator("#region-title")).to_have_text("Ваш регион")

        page.select_option("#lang-select", "en")
        expect(page.locator("#region-title")).to_have_text("Your region")
        expect(page.locator("#country-input")).to_have_value("Russia (RU)")
        expect(feed).to_have_attribute("href", ORIGIN + "/feed.atom")
        assert page.evaluate("window.stillTheSamePage") is True
    finally:
        context.close()


@pytest.mark.parametrize(
    ("locale", "path", "lang", "title"),
    [
        ("en-US", "/?lang=ru", "ru", "Ваш регион"),
        ("ru-RU", "/?lang=en", "en", "Your region"),
        ("de-DE", "/", "en", "Your region"),  # no German catalog: English
        ("ru-RU", "/?lang=xx", "ru", "Ваш регион"),  # unknown ?lang=: the browser's next
    ],
)
def test_lang_parameter_wins_over_the_browser(
    browser: Browser, locale: str, path: str, lang: str, title: str
) -> None:
    with open_page(browser, FakeStatusd(), locale=locale, path=path) as (page, watch):
        expect(page.locator("html")).to_have_attribute("lang", lang)
        expect(page.locator("#region-title")).to_have_text(title)
        watch.assert_clean(ORIGIN)


def broken(fake: FakeStatusd) -> FakeStatusd:
    fake.set_document(ERROR_DOCUMENT, '"error-1"')
    return fake


def no_verdicts(fake: FakeStatusd) -> FakeStatusd:
    fake.verdicts = None
    fake.history_served = False
    return fake


def all_stale(fake: FakeStatusd) -> FakeStatusd:
    sources: dict[str, Any] = fake.sources
    for entry in sources.values():
        entry.update(ok=False, age_seconds=9999, stale_after=60, error="timed out")
    return fake


STATES = {
    "normal": lambda fake: fake,
    "error-document": broken,
    "no-verdicts": no_verdicts,
    "stale": all_stale,
}


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_no_catalog_key_is_ever_visible_and_axe_finds_nothing_serious(
    browser: Browser, lang: str
) -> None:
    """In each state (data, statusd's error document, no verdicts, every source stale), with
    and without a country, the picker open, a sign-up refused: no raw ``page.…`` key shows,
    and axe-core finds no serious violation."""
    audit = AxeAudit()
    for name, make in STATES.items():
        fake = make(with_history())
        with open_page(browser, fake, locale=lang, path=f"/?lang={lang}") as (page, watch):
            assert raw_keys(page) == [], name
            page.locator("#country-input").fill("r")
            expect(page.locator("#country-list")).to_be_visible()
            assert raw_keys(page) == [], name + " picker"
            page.locator("#country-input").press("Enter")
            expect(page.locator("#region-view .region-name")).to_be_visible()
            if name == "normal":
                page.locator("#subscribe-box .sub-submit").click()
                expect(page.locator("#subscribe-box .sub-status")).not_to_be_empty()
            page.locator(".verdict").first.focus()
            assert raw_keys(page) == [], name + " region"
            audit.check(page, f"{lang} {name}")
            watch.assert_clean(ORIGIN)
    audit.assert_clean()


def test_every_language_has_the_page_keys_the_english_page_shows() -> None:
    """The page loads one language's ``page.*`` entries, and every language has them all."""
    english = set(i18n.catalogs()["en"])
    for lang in i18n.languages():
        assert {k for k in english if k.startswith("page.")} <= set(i18n.catalogs()[lang])
