"""Writes docs/screenshot-region.png (the page at 1280 px against ``statusd-sim --seed 7``,
region view of France), docs/screenshot-en.png and docs/screenshot-ru.png (the same page for
a visitor in New York whose browser speaks English and one in Moscow whose browser speaks
Russian), docs/screenshot-subscribe.png (the "Get notified" form, filled in) and
docs/screenshot-maintenance.png (the region view of France while a planned maintenance window
runs over its SMS, with a billing window coming).

Run ``.venv/bin/python -m tests.browser.make_screenshot`` from the project root. It starts
the simulator and statusd on free loopback ports (with an SMTP relay setting, so the form
offers email; nothing is sent), opens the page, and saves the top of the page (banner and
region view). Install ``fonts-noto-color-emoji`` first if the flags should show as flags.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from playwright.sync_api import Browser, Page, ViewportSize, expect

from statusd.maintenance.file import add_window
from statusd.maintenance.windows import parse_window
from tests.browser.harness import ROOT, TIMEOUT_MS, WEB, launch_chromium
from tests.support.ports import free_port
from tests.support.simulator_process import run_simulator
from tests.support.statusd_process import run_statusd

TARGET = ROOT / "docs" / "screenshot-region.png"
FORM_TARGET = ROOT / "docs" / "screenshot-subscribe.png"
MAINTENANCE_TARGET = ROOT / "docs" / "screenshot-maintenance.png"
LANGUAGE_TARGETS = {
    ("en-US", "America/New_York"): ROOT / "docs" / "screenshot-en.png",
    ("ru-RU", "Europe/Moscow"): ROOT / "docs" / "screenshot-ru.png",
}


def plan_windows(path: Path) -> None:
    """SMS to France under maintenance now (two hours), a billing window tomorrow."""
    now = time.time() // 600 * 600  # whole ten minutes
    windows: tuple[tuple[str, str, float, float, list[str], list[str]], ...] = (
        ("sms-fr", "SMS to France: carrier upgrade", now - 1800, now + 5400, ["sms"], ["FR"]),
        ("payout", "Billing: payout provider switch", now + 86400, now + 90000, ["billing"], []),
    )
    for window_id, title, start, end, products, countries in windows:
        table = {
            "id": window_id,
            "title": title,
            "start": datetime.fromtimestamp(start, UTC).isoformat(),
            "end": datetime.fromtimestamp(end, UTC).isoformat(),
            "products": products,
            "countries": countries,
        }
        add_window(path, parse_window(table, 1))


SIZE: ViewportSize = {"width": 1280, "height": 1000}


def shoot_form(page: Page) -> None:
    """The form pre-filled for France, an address typed and incidents ticked."""
    form = page.locator("#subscribe-box")
    expect(page.locator("#sub-email")).to_be_visible()
    page.locator("#sub-email").fill("ops@example.com")
    page.get_by_role("checkbox", name="Incidents").check()
    form.screenshot(path=str(FORM_TARGET))


def shoot_languages(browser: Browser, url: str) -> None:
    """The region view of France in each visitor's language and time zone."""
    for (locale, zone), target in LANGUAGE_TARGETS.items():
        context = browser.new_context(viewport=SIZE, locale=locale, timezone_id=zone)
        try:
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(url + "/#country=FR")
            expect(page.locator("html")).to_have_attribute("lang", locale[:2])
            expect(page.locator("#overall")).not_to_have_attribute("data-level", "loading")
            expect(page.locator("#region-view .history-bars")).to_have_count(4)
            page.screenshot(path=str(target))
        finally:
            context.close()


def main() -> None:
    """Start the processes, take the screenshots, stop everything."""
    relay = {
        "STATUSD_SMTP_URL": f"smtp://127.0.0.1:{free_port()}",
        "STATUSD_MAIL_FROM": "status@example.com",
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with (
            run_simulator(work / "data", "--seed", "7") as sim,
            run_statusd(
                work,
                "--data-dir",
                str(work / "data"),
                "--source-url",
                sim.url,
                "--state-dir",
                str(work / "state"),
                "--web-dir",
                str(WEB),
                env=relay,
            ) as statusd,
            launch_chromium() as browser,
        ):
            page = browser.new_page(viewport=SIZE, locale="en-GB", timezone_id="Europe/Paris")
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(statusd.url + "/#country=FR")
            expect(page.locator("#region-view .card")).to_have_count(4)
            expect(page.locator("#overall")).not_to_have_attribute("data-level", "loading")
            expect(page.locator("#region-view .history-bars")).to_have_count(4)
            page.screenshot(path=str(TARGET))
            shoot_languages(browser, statusd.url)
            plan_windows(work / "state" / "maintenance.toml")
            statusd.wait_until(lambda: "under_maintenance" in statusd.get("/api/verdicts").text)
            page.reload()
            expect(page.locator('.card[data-product="sms"] .verdict')).to_have_attribute(
                "data-verdict", "under_maintenance"
            )
            expect(page.locator("#region-maintenance .maintenance-item")).to_have_count(2)
            expect(page.locator("#region-view .history-bars")).to_have_count(4)
            page.locator("#region").scroll_into_view_if_needed()
            page.screenshot(path=str(MAINTENANCE_TARGET))
            shoot_form(page)
    for target in (TARGET, *LANGUAGE_TARGETS.values(), FORM_TARGET, MAINTENANCE_TARGET):
        print(f"{target.relative_to(ROOT)}: {target.stat().st_size} bytes")


if __name__ == "__main__":
    main()
