"""Writes docs/screenshot-region.png and docs/screenshot-subscribe.png: the page at 1280 px
against ``statusd-sim --seed 7``.

Run ``.venv/bin/python -m tests.browser.make_screenshot`` from the project root. It starts
the simulator and statusd on free loopback ports (with an SMTP relay setting, so the form
offers email; nothing is sent), opens the page on France, and saves the top of the page
(banner and region view) and the "Get notified" form, filled in. Install
``fonts-noto-color-emoji`` first if the flags should show as flags.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from playwright.sync_api import Page, ViewportSize, expect

from tests.browser.harness import ROOT, TIMEOUT_MS, WEB, launch_chromium
from tests.support.ports import free_port
from tests.support.simulator_process import run_simulator
from tests.support.statusd_process import run_statusd

TARGET = ROOT / "docs" / "screenshot-region.png"
FORM_TARGET = ROOT / "docs" / "screenshot-subscribe.png"
SIZE: ViewportSize = {"width": 1280, "height": 1000}


def shoot_form(page: Page) -> None:
    """The form pre-filled for France, an address typed and incidents ticked."""
    form = page.locator("#subscribe-box")
    expect(page.locator("#sub-email")).to_be_visible()
    page.locator("#sub-email").fill("ops@example.com")
    page.get_by_role("checkbox", name="Incidents").check()
    form.screenshot(path=str(FORM_TARGET))


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
            page = browser.new_page(viewport=SIZE, locale="en-GB")
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(statusd.url + "/#country=FR")
            expect(page.locator("#region-view .card")).to_have_count(4)
            expect(page.locator("#overall")).not_to_have_attribute("data-level", "loading")
            expect(page.locator("#region-view .history-bars")).to_have_count(4)
            page.screenshot(path=str(TARGET))
            shoot_form(page)
    for target in (TARGET, FORM_TARGET):
        print(f"{target.relative_to(ROOT)}: {target.stat().st_size} bytes")


if __name__ == "__main__":
    main()
