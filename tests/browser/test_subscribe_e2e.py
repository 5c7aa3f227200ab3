"""The "Get notified" form in Chromium against real ``statusd-sim`` and ``statusd`` processes:
statusd without an SMTP relay offers webhooks only, the form creates a real webhook
subscription and shows its secret and token once, and the subscription is in the store
(``statusd subscriptions export``) and answers to that token."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.browser.harness import TIMEOUT_MS, WEB, AxeAudit, PageWatch
from tests.support.notify_stack import operator
from tests.support.ports import free_port
from tests.support.simulator_process import run_simulator
from tests.support.statusd_process import StatusdProcess, run_statusd

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

PRIVATE_HTTP_WEBHOOKS = {
    "STATUSD_WEBHOOK_ALLOW_PRIVATE": "true",
    "STATUSD_WEBHOOK_ALLOW_HTTP": "true",
}
"""A receiver on loopback over plain HTTP, as tests and closed networks need (SPEC §8)."""


@dataclass
class Site:
    statusd: StatusdProcess
    state: Path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    work = tmp_path_factory.mktemp("subscribe-e2e")
    data, state = work / "data", work / "state"
    with (
        run_simulator(data, "--seed", "7") as sim,
        run_statusd(
            work,
            "--data-dir",
            str(data),
            "--source-url",
            sim.url,
            "--state-dir",
            str(state),
            "--web-dir",
            str(WEB),
            env=PRIVATE_HTTP_WEBHOOKS,
        ) as statusd,
    ):
        yield Site(statusd, state)


def exported(state: Path) -> list[dict[str, object]]:
    """``statusd subscriptions export``: one JSON object per subscription."""
    return [json.loads(line) for line in operator(state, "export").splitlines()]


def test_the_form_creates_a_real_webhook_and_shows_its_secret_once(
    browser: Browser, site: Site
) -> None:
    statusd = site.statusd
    assert statusd.get("/api/subscriptions/options").json() == {"email": False, "webhook": True}
    hook = f"http://127.0.0.1:{free_port()}/hook"
    context = browser.new_context(viewport={"width": 375, "height": 900}, color_scheme="dark")
    context.set_default_timeout(TIMEOUT_MS)
    audit = AxeAudit()
    try:
        page = context.new_page()
        watch = PageWatch()
        watch.attach(page)
        page.goto(statusd.url + "/#country=FR")
        expect(page.locator("#region-view .card")).to_have_count(4)
        expect(page.locator("#sub-webhook")).to_be_visible()
        expect(page.locator("#sub-email")).to_be_hidden()  # no smtp_url: email is off
        page.locator("#sub-webhook").fill(hook)
        page.get_by_role("checkbox", name="Incidents").check()
        page.locator("#subscribe-box button[type=submit]").click()
        secret_box = page.get_by_label("Subscription id, signing secret and management token")
        expect(secret_box).to_be_visible()
        expect(page.locator("#subscribe-box .sub-status")).to_contain_text("shown only once")
        audit.check(page, "webhook secret, 375 px dark")
        shown = dict(line.split(": ", 1) for line in secret_box.input_value().splitlines())
        watch.assert_clean(statusd.url)
    finally:
        context.close()
    audit.assert_clean()

    assert shown["secret"].startswith("whsec_")
    [stored] = [s for s in exported(site.state) if s["id"] == shown["id"]]
    assert stored["address"] == hook
    assert stored["channel"] == "webhook"
    assert stored["format"] == "json"
    assert stored["countries"] == ["FR"]
    assert "incidents" in stored["products"]  # type: ignore[operator]
    # The token shown is the one that manages it: DELETE with it removes the subscription.
    gone = httpx.delete(
        f"{statusd.url}/api/subscriptions/{shown['id']}",
        headers={"Authorization": f"Bearer {shown['token']}"},
        timeout=10,
    )
    assert gone.status_code == 204
    assert not [s for s in exported(site.state) if s["id"] == shown["id"]]
