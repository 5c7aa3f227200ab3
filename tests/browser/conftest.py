"""Fixtures of the browser tests: one Chromium per module, skipped when it is not installed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.browser.harness import CHROMIUM, launch_chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium for the whole module (launching costs about a second)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: `make chromium` installs it")
    with launch_chromium() as launched:
        yield launched
