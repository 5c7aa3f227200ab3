"""A subscription made through one replica is confirmed, used and removed through another
(SPEC §11), with real statusd replicas on one PostgreSQL and a real SMTP server."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.notify_stack import link
from tests.support.postgres import PostgresServer
from tests.support.replicas import replica_set
from tests.support.smtp_sink import SmtpSink

pytestmark = pytest.mark.e2e

HOOK = "http://127.0.0.1:9/hook"
"""Never called (no incident changes in this test); private and http are allowed here."""


def test_email_signed_up_on_a_confirmed_on_b_unsubscribed_on_a(
    tmp_path: Path, postgres: PostgresServer, smtp_sink: SmtpSink
) -> None:
    with replica_set(tmp_path, postgres, smtp=smtp_sink) as replicas:
        a, b = replicas.replicas
        confirmation = replicas.subscribe_email(
            smtp_sink,
            "ana@example.com",
            {"products": ["sms"], "countries": ["DE"]},
            through=a,
            confirm_through=b,
        )
        assert replicas.query(
            "SELECT address, state FROM subscriptions WHERE channel = 'email'"
        ) == [("ana@example.com", "active")]
        assert confirmation.recipients == ("ana@example.com",)
        # A change in scope is notified once, by whichever replica leads.
        replicas.wait_settled("sms:DE")
        replicas.sim.degrade("sms", "DE")
        smtp_sink.wait_for(lambda _: len(smtp_sink.to("ana@example.com")) >= 2, timeout=30)
        notice = smtp_sink.to("ana@example.com")[1]
        # Its unsubscribe link works on the replica the address signed up on (the token key
        # is in the shared database): the address is deleted for every replica.
        assert replicas.press(a, link(notice, "unsubscribe")).status_code == 200
        assert replicas.query("SELECT address FROM subscriptions") == []


def test_webhook_made_through_a_is_deleted_through_b(
    tmp_path: Path, postgres: PostgresServer
) -> None:
    with replica_set(tmp_path, postgres) as replicas:
        a, b = replicas.replicas
        created = httpx.post(
            a.url + "/api/subscriptions",
            json={"webhook": HOOK, "products": ["incidents"], "countries": []},
            timeout=10,
        )
        assert created.status_code == 201, created.text
        answer = created.json()
        path = f"/api/subscriptions/{answer['id']}"
        wrong = httpx.delete(b.url + path, headers={"Authorization": "Bearer nope"}, timeout=10)
        assert wrong.status_code in (401, 403, 404), wrong.text
        auth = {"Authorization": f"Bearer {answer['token']}"}
        assert httpx.delete(b.url + path, headers=auth, timeout=10).status_code == 204
        assert replicas.query("SELECT id FROM subscriptions") == []
        assert httpx.delete(a.url + path, headers=auth, timeout=10).status_code == 404
