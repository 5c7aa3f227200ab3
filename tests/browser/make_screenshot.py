"""Writes docs/screenshot-region.png: the page at 1280 px against ``statusd-sim --seed 7``.

Run ``.venv/bin/python -m tests.browser.make_screenshot`` from the project root. It starts
the simulator and statusd on free loopback ports, opens the page on France, and saves the
top of the page (banner and region view). Install ``fonts-noto-color-emoji`` first if the
flags should show as flags.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from playwright.sync_api import ViewportSize, expect

from tests.browser.harness import ROOT, TIMEOUT_MS, WEB, launch_chromium
from tests.support.simulator_process import run_simulator
from tests.support.statusd_process import run_statusd

TARGET = ROOT / "docs" / "screenshot-region.png"
SIZE: ViewportSize = {"width": 1280, "height": 1000}


def main() -> None:
    """Start the processes, take the screenshot, stop everything."""
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
    print(f"{TARGET.relative_to(ROOT)}: {TARGET.stat().st_size} bytes")


if __name__ == "__main__":
    main()
