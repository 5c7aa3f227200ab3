"""Subscriptions on a real statusd process: a webhook subscribed over HTTP, seen by the
operator's command while the daemon runs, kept across a restart, deleted with its token."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.notify_stack import operator_list
from tests.support.ports import free_port
from tests.support.statusd_process import StatusdProcess, run_statusd

pytestmark = pytest.mark.e2e

ENV = {"STATUSD_WEBHOOK_ALLOW_PRIVATE": "true", "STATUSD_WEBHOOK_ALLOW_HTTP": "true"}


def subscription_ids(state: Path) -> list[str]:
    return [line.split()[0] for line in operator_list(state)]


def post(statusd: StatusdProcess, value: object) -> httpx.Response:
    return httpx.post(statusd.url + "/api/subscriptions", json=value, timeout=10)


def test_subscribe_a_webhook_and_delete_it(tmp_path: Path) -> None:
    state = tmp_path / "state"
    args = ("--state-dir", str(state), "--data-dir", str(tmp_path / "no-data"))
    hook = f"http://127.0.0.1:{free_port()}/hook"
    with run_statusd(tmp_path, *args, env=ENV, wait_ready=False) as statusd:
        created = post(statusd, {"webhook": hook, "countries": ["DE"], "products": ["sms"]})
        assert created.status_code == 201, created.text
        answer = created.json()
        assert "access-control-allow-origin" not in created.headers
        email = post(statusd, {"email": "a@example.com"})
        assert email.status_code == 503  # no smtp_url
        assert "smtp_url" in email.json()["error"]
        assert post(statusd, {"webhook": "ftp://x"}).status_code == 400
        assert subscription_ids(state) == [answer["id"]]  # beside the running daemon (WAL)
    with run_statusd(tmp_path, *args, env=ENV, wait_ready=False) as statusd:
        path = f"{statusd.url}/api/subscriptions/{answer['id']}"
        wrong = httpx.delete(path, headers={"Authorization": "Bearer nope"}, timeout=10)
        assert wrong.status_code == 404
        deleted = httpx.delete(
            path, headers={"Authorization": f"Bearer {answer['token']}"}, timeout=10
        )
        assert deleted.status_code == 204
        again = httpx.delete(
            path, headers={"Authorization": f"Bearer {answer['token']}"}, timeout=10
        )
        assert again.status_code == 404
        assert subscription_ids(state) == []
        assert statusd.process.poll() is None
    assert "Traceback" not in statusd.log()
