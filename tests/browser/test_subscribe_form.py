"""The "Get notified" form of the region view against the fake statusd: the pre-fill follows
the picked country, every answer of POST /api/subscriptions has its state (sending, pending,
the webhook's secret, a reason next to its field, 429 in words, no answer), email off, the
keyboard alone, and axe-core over those states in both themes at 1280 and 375 px."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.fake_statusd import ORIGIN, XSS, FakeStatusd, fixture
from tests.browser.harness import TIMEOUT_MS, AxeAudit, PageWatch
from tests.browser.test_page_fixture import open_page

pytestmark = pytest.mark.browser

FR_PRODUCTS = ["sms", "mms"]
"""The products France has rows for in fixtures/api.json (no voice or email rows)."""
US_PRODUCTS = ["voice", "email"]


REFUSED = ("the server responded with a status of",)
"""Chromium logs every 4xx/5xx answer; the tests of refusals provoke them on purpose."""


def open_form(page: Page) -> None:
    """Wait for "Get notified" (it appears once statusd said which channels it offers)."""
    expect(page.locator("#subscribe-box h3")).to_have_text("Get notified")
    expect(page.locator("#sub-email")).to_be_visible()


def ticked(page: Page) -> list[str]:
    boxes = page.locator('#subscribe-box input[name="product"]:checked')
    return [str(value) for value in boxes.evaluate_all("boxes => boxes.map(b => b.value)")]


def status(page: Page) -> str:
    return (page.locator("#subscribe-box .sub-status").text_content() or "").strip()


def submit_email(page: Page, address: str) -> None:
    page.locator("#sub-email").fill(address)
    page.locator("#subscribe-box button[type=submit]").click()


def pump_until(page: Page, done: Callable[[], bool]) -> None:
    """Let Playwright dispatch events (route handlers run then) until ``done()``, bounded."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while not done():
        assert time.monotonic() < deadline, "condition not met"
        page.wait_for_timeout(10)


def focused_is_status(page: Page) -> bool:
    return bool(page.evaluate("document.activeElement.classList.contains('sub-status')"))


def test_the_form_is_prefilled_with_the_picked_country_and_its_products(
    browser: Browser,
) -> None:
    """France: its products ticked, scope France; picking the United States moves both; the
    body sent is exactly what the form shows; widening to all countries sends []."""
    fake = FakeStatusd()
    with open_page(browser, fake, locale="de-AT") as (page, watch):
        expect(page.locator("#region-view .prompt")).to_be_visible()
        expect(page.locator("#subscribe-box")).to_be_hidden()  # no country yet
        page.evaluate("location.hash = 'country=FR'")
        open_form(page)
        assert ticked(page) == FR_PRODUCTS
        scope = page.locator('#subscribe-box input[name="scope"][value="one"]')
        expect(scope).to_be_checked()
        one = page.locator("#subscribe-box label", has=page.locator('[name="scope"][value="one"]'))
        expect(one).to_have_text("Only France (FR)")

        page.evaluate("location.hash = 'country=US'")
        expect(one).to_have_text("Only United States (US)")
        assert ticked(page) == US_PRODUCTS
        page.get_by_role("checkbox", name="Incidents").check()
        submit_email(page, "ops@example.com")
        expect(page.locator("#subscribe-box .sub-status")).to_contain_text("Check your inbox")
        page.get_by_role("radio", name="All countries").check()
        page.locator("#subscribe-box button[type=submit]").click()
        expect(page.locator("#subscribe-box .sub-status")).to_contain_text("Check your inbox")
        assert fake.signups == [
            {
                "email": "ops@example.com",
                "products": ["voice", "email", "incidents"],
                "countries": ["US"],
                "lang": "en",
            },
            {
                "email": "ops@example.com",
                "products": ["voice", "email", "incidents"],
                "countries": [],
                "lang": "en",
            },
        ]
        watch.assert_clean(ORIGIN)


def test_new_data_moves_the_ticks_until_the_visitor_changes_them(browser: Browser) -> None:
    """France gains voice rows: voice is ticked too. Once the visitor changed a tick, new
    data for the same country leaves the ticks alone. Nothing ticked asks for a product
    without sending anything."""
    fake = FakeStatusd()
    with_voice = fixture("api.json")
    with_voice["data"]["voice_call"].append(
        {**with_voice["data"]["voice_call"][0], "country": "FR"}
    )
    with open_page(browser, fake, path="/?poll=1#country=FR") as (page, watch):
        open_form(page)
        assert ticked(page) == FR_PRODUCTS
        fake.set_document(with_voice, '"fixture-voice"')
        expect(page.locator("main")).to_have_attribute("data-etag", '"fixture-voice"')
        expect(page.locator('#subscribe-box input[value="voice"]')).to_be_checked()
        assert ticked(page) == [*FR_PRODUCTS, "voice"]

        for product in ("sms", "mms", "voice"):
            page.locator(f'#subscribe-box input[value="{product}"]').uncheck()
        fake.set_document(fixture("api.json"), '"fixture-again"')
        expect(page.locator("main")).to_have_attribute("data-etag", '"fixture-again"')
        assert ticked(page) == []
        submit_email(page, "ops@example.com")
        expect(page.locator("#sub-error-products")).to_have_text("Pick at least one product.")
        assert status(page) == "Not subscribed: Pick at least one product."
        assert focused_is_status(page)
        assert fake.signups == []
        watch.assert_clean(ORIGIN)


def test_sending_then_pending_moves_the_focus_to_the_status(browser: Browser) -> None:
    """While statusd has not answered the form is busy and its button disabled; the 202 is
    "check your inbox", and the focus is on that message."""
    fake = FakeStatusd(hold_subscribe=True)
    with open_page(browser, fake, path="/#country=FR") as (page, watch):
        open_form(page)
        submit_email(page, "ops@example.com")
        form = page.locator("#subscribe-box form")
        button = page.locator("#subscribe-box button[type=submit]")
        expect(form).to_have_attribute("aria-busy", "true")
        expect(button).to_be_disabled()
        expect(button).to_have_text("Sending…")
        pump_until(page, lambda: bool(fake.held))
        fake.answer_signup(fake.held.pop())
        expect(form).not_to_have_attribute("aria-busy", "true")
        expect(button).to_be_enabled()
        expect(button).to_have_text("Subscribe")
        assert status(page) == (
            "Check your inbox to confirm: a link is on its way to ops@example.com."
        )
        assert page.locator("#subscribe-box .sub-status").get_attribute("role") == "status"
        assert focused_is_status(page)
        watch.assert_clean(ORIGIN)


SMTP_OFF = "email subscriptions are off: statusd has no smtp_url"


@pytest.mark.parametrize(
    ("address", "answer", "field", "reason"),
    [
        ("bad@@example.com", None, "email", "email is not a valid address:"),
        ("", None, "email", "email must be an address like name@example.com"),
        ("ops@example.com", (503, {"error": SMTP_OFF}, {}), "email", SMTP_OFF),
        (
            "ops@example.com",
            (400, {"error": "unknown country 'FR' (ISO 3166-1 alpha-2)"}, {}),
            "countries",
            "unknown country 'FR'",
        ),
        (
            "ops@example.com",
            (400, {"error": "unknown product 'sms'; known: billing"}, {}),
            "products",
            "unknown product 'sms'",
        ),
    ],
)
def test_a_reason_of_statusd_is_shown_next_to_its_field(
    browser: Browser, address: str, answer: Any, field: str, reason: str
) -> None:
    """The reason goes next to the field it concerns (aria-invalid, aria-describedby), and
    the focused status says "Not subscribed" with a link to that field."""
    fake = FakeStatusd(subscribe_answers=[answer] if answer else [])
    with open_page(browser, fake, path="/#country=FR", allowed_errors=REFUSED) as (
        page,
        watch,
    ):
        open_form(page)
        submit_email(page, address)
        error = page.locator(f"#sub-error-{field}")
        expect(error).to_be_visible()
        expect(error).to_contain_text(reason)
        group = page.locator(f'#subscribe-box [data-field="{field}"]')
        invalid = group.locator("input[type=email]") if field == "email" else group
        expect(invalid).to_have_attribute("aria-invalid", "true")
        described = invalid.get_attribute("aria-describedby") or ""
        assert f"sub-error-{field}" in described.split()
        assert status(page).startswith("Not subscribed: " + reason)
        assert focused_is_status(page)
        link = page.locator("#subscribe-box .sub-status a")
        link.click()
        target = link.get_attribute("href") or ""
        assert page.evaluate("document.activeElement.id") == target.removeprefix("#")
        assert page.evaluate("location.hash") == "#country=FR"  # the country stays

        answer_ok = page.locator("#subscribe-box button[type=submit]")
        fake.subscribe_answers.clear()
        page.locator("#sub-email").fill("ops@example.com")
        answer_ok.click()
        expect(page.locator("#subscribe-box .sub-status")).to_contain_text("Check your inbox")
        expect(page.locator("#subscribe-box .sub-error:visible")).to_have_count(0)
        expect(page.locator("#subscribe-box [aria-invalid]")).to_have_count(0)
        watch.assert_clean(ORIGIN)


@pytest.mark.parametrize(
    ("answer", "shown"),
    [
        (
            (429, {"error": "at most 10 new subscriptions per hour"}, {"Retry-After": "2400"}),
            "Not subscribed: too many sign-ups from your address. Try again in 40 minutes.",
        ),
        (
            (429, {"error": "at most 10 new subscriptions per hour"}, {"Retry-After": "3601"}),
            "Not subscribed: too many sign-ups from your address. Try again in 1 hour 1 minute.",
        ),
        (
            (429, {"error": "at most 10 new subscriptions per hour"}, {"Retry-After": "1"}),
            "Not subscribed: too many sign-ups from your address. Try again in 1 second.",
        ),
        (
            (413, {"error": "request body over 16384 bytes"}, {}),
            "Not subscribed: request body over 16384 bytes",
        ),
        (
            (415, {"error": "Content-Type must be application/json"}, {}),
            "Not subscribed: Content-Type must be application/json",
        ),
        (
            (503, {"error": "subscriptions are unavailable for now: disk I/O error"}, {}),
            "Not subscribed: subscriptions are unavailable for now: disk I/O error",
        ),
        ((502, "<html>Bad gateway</html>", {}), "Not subscribed: statusd could not take it"),
        (None, "Not subscribed: statusd did not answer. Check your connection and try again."),
    ],
    ids=["429-minutes", "429-hours", "429-second", "413", "415", "503", "502-html", "no-answer"],
)
def test_errors_of_the_whole_signup_are_in_the_status(
    browser: Browser, answer: Any, shown: str
) -> None:
    """429 says when to try again in words; other refusals show statusd's reason; an answer
    without one its HTTP status; no answer at all says so. Nothing is marked invalid."""
    fake = FakeStatusd(subscribe_answers=[answer] if answer else [], hold_subscribe=not answer)
    with open_page(browser, fake, path="/#country=FR", allowed_errors=REFUSED) as (
        page,
        watch,
    ):
        open_form(page)
        submit_email(page, "ops@example.com")
        if not answer:
            pump_until(page, lambda: bool(fake.held))
            fake.held.pop().abort()
        expect(page.locator("#subscribe-box .sub-status")).to_have_attribute("data-state", "error")
        assert status(page).startswith(shown)
        assert focused_is_status(page)
        expect(page.locator("#subscribe-box [aria-invalid]")).to_have_count(0)
        expect(page.locator("#subscribe-box button[type=submit]")).to_be_enabled()
        watch.assert_clean(ORIGIN)


def test_without_email_only_webhooks_are_offered_and_the_secret_is_shown_once(
    browser: Browser,
) -> None:
    """statusd without smtp_url: no email choice; a webhook sign-up shows its id, secret and
    token (literally) with a Copy button and the warning that they are shown only once."""
    fake = FakeStatusd(subscription_options={"email": False, "webhook": True})
    with open_page(browser, fake, path="/#country=FR", allowed_errors=REFUSED) as (
        page,
        watch,
    ):
        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=ORIGIN)
        expect(page.locator("#sub-webhook")).to_be_visible()
        expect(page.locator("#sub-email")).to_be_hidden()
        expect(page.locator('#subscribe-box [data-field="channel"]')).to_be_hidden()
        expect(page.get_by_role("radio", name="JSON, signed (Standard Webhooks)")).to_be_checked()

        page.locator("#sub-webhook").fill("http://hooks.example.com/in")
        page.get_by_role("radio", name="Slack, Mattermost, Rocket.Chat").check()
        page.locator("#subscribe-box button[type=submit]").click()
        expect(page.locator("#sub-error-webhook")).to_contain_text("https://")
        expect(page.locator("#sub-webhook")).to_have_attribute("aria-invalid", "true")

        page.locator("#sub-webhook").fill("https://hooks.example.com/in")
        page.locator("#subscribe-box button[type=submit]").click()
        expect(page.locator("#subscribe-box .sub-status")).to_have_attribute("data-state", "ok")
        assert status(page).startswith(
            "Webhook subscribed. Save its secret and token now: they are shown only once."
        )
        assert focused_is_status(page)
        secret = page.get_by_label("Subscription id, signing secret and management token")
        expected = f"id: sub_fake1\nsecret: whsec_{'A' * 32}\ntoken: tok_{XSS}"
        expect(secret).to_have_value(expected)
        assert page.locator("#subscribe-box img").count() == 0
        page.locator("#subscribe-box .sub-status button").click()
        expect(page.locator("#subscribe-box .sub-status")).to_contain_text("Copied.")
        assert page.evaluate("navigator.clipboard.readText()") == expected
        assert fake.signups[-1] == {
            "webhook": "https://hooks.example.com/in",
            "format": "slack",
            "products": FR_PRODUCTS,
            "countries": ["FR"],
            "lang": "en",
        }
        watch.assert_clean(ORIGIN)


def test_the_form_stays_hidden_when_statusd_does_not_say_what_it_offers(
    browser: Browser,
) -> None:
    """A statusd without /api/subscriptions/options (404), and a page whose statusd is on
    another origin (write routes take no cross-origin requests): no form, no request."""
    fake = FakeStatusd(subscription_options=None)
    with open_page(browser, fake, path="/#country=FR", allowed_errors=REFUSED) as (page, watch):
        expect(page.locator("#region-view .card")).to_have_count(4)
        pump_until(page, lambda: bool(watch.api_requests("/api/subscriptions/options")))
        expect(page.locator("#subscribe-box")).to_be_hidden()
        watch.assert_clean(ORIGIN)
    other = "http://localhost:9"
    fake = FakeStatusd()
    context = browser.new_context(locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    try:
        fake.install(context)
        fake.install(context, other)
        page = context.new_page()
        # The page's CSP keeps the badge images of another origin out (img-src 'self').
        watch = PageWatch(allowed_errors=("net::ERR_FAILED", "/badge/"))
        watch.attach(page)
        page.goto(f"{ORIGIN}/?api={other}/#country=FR")
        expect(page.locator("#region-view .card")).to_have_count(4)
        expect(page.locator("#overall")).not_to_have_attribute("data-level", "loading")
        assert any(r.url.startswith(other + "/api") for r in watch.requests)
        expect(page.locator("#subscribe-box")).to_be_hidden()
        assert not [r.url for r in watch.requests if "subscriptions" in r.url]
        watch.assert_clean(ORIGIN, other)
    finally:
        context.close()


def tab_to(page: Page, check: str, most: int = 40) -> None:
    """Press Tab until ``check`` (a JS expression) holds for the focused element."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if page.evaluate(f"(e => {check})(document.activeElement)"):
            return
    raise AssertionError(f"Tab never reached {check}")


def focused(page: Page) -> str:
    return str(page.evaluate("(e => e.name || e.id || e.tagName)(document.activeElement)"))


def test_the_keyboard_alone_subscribes_and_is_never_trapped(browser: Browser) -> None:
    """Tab from the picker to the first product, Space unticks it; an arrow key widens the
    scope; Enter in the address submits; the focus lands on the status; Tab leaves the form
    and Shift+Tab comes back. A second sign-up by Space on the button."""
    fake = FakeStatusd()
    with open_page(browser, fake, path="/#country=FR") as (page, watch):
        expect(page.locator("#subscribe-box")).to_be_visible()
        page.locator("#country-input").focus()
        tab_to(page, "e.name === 'product'")
        assert page.evaluate("document.activeElement.value") == "sms"
        page.keyboard.press("Space")
        tab_to(page, "e.name === 'scope'")
        page.keyboard.press("ArrowDown")
        expect(page.get_by_role("radio", name="All countries")).to_be_checked()
        tab_to(page, "e.id === 'sub-email'")
        page.keyboard.type("ops@example.com")
        page.keyboard.press("Enter")
        expect(page.locator("#subscribe-box .sub-status")).to_contain_text("Check your inbox")
        assert focused_is_status(page)
        assert fake.signups == [
            {"email": "ops@example.com", "products": ["mms"], "countries": [], "lang": "en"}
        ]

        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.closest('#subscribe-box')") is None
        page.keyboard.press("Shift+Tab")
        assert focused(page) == "BUTTON"
        page.keyboard.press("Space")
        expect(page.locator("#subscribe-box .sub-status")).to_contain_text("Check your inbox")
        pump_until(page, lambda: len(fake.signups) == 2)
        watch.assert_clean(ORIGIN)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [1280, 375])
def test_axe_finds_no_serious_violation_in_the_form(
    browser: Browser, width: int, scheme: str
) -> None:
    """axe-core over the form's states: open, sending, a reason next to its field, 429, the
    webhook's secret, and the webhook-only form of a statusd without email."""
    audit = AxeAudit()
    fake = FakeStatusd(hold_subscribe=True)
    with open_page(
        browser, fake, path="/#country=FR", width=width, scheme=scheme, allowed_errors=REFUSED
    ) as (page, watch):
        open_form(page)
        audit.check(page, "open")
        submit_email(page, "bad@@example.com")
        expect(page.locator("#subscribe-box form")).to_have_attribute("aria-busy", "true")
        audit.check(page, "sending")
        pump_until(page, lambda: bool(fake.held))
        fake.answer_signup(fake.held.pop())
        expect(page.locator("#sub-error-email")).to_be_visible()
        audit.check(page, "reason next to the address")
        fake.hold_subscribe = False
        fake.subscribe_answers.append((429, {"error": "limit"}, {"Retry-After": "60"}))
        submit_email(page, "ops@example.com")
        expect(page.locator("#subscribe-box .sub-status")).to_contain_text("1 minute")
        audit.check(page, "429")
        page.get_by_role("radio", name="A webhook").check()
        page.locator("#sub-webhook").fill("https://hooks.example.com/in")
        page.locator("#subscribe-box button[type=submit]").click()
        expect(page.locator("#subscribe-box .sub-secret")).to_be_visible()
        audit.check(page, "webhook secret")
        watch.assert_clean(ORIGIN)
    fake = FakeStatusd(subscription_options={"email": False, "webhook": True})
    with open_page(browser, fake, path="/#country=US", width=width, scheme=scheme) as (
        page,
        watch,
    ):
        expect(page.locator("#sub-webhook")).to_be_visible()
        audit.check(page, "webhook only")
        watch.assert_clean(ORIGIN)
    audit.assert_clean()
