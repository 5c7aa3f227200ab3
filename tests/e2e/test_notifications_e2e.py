"""Notifications end to end (SPEC §8): a real statusd reading a steady ``statusd-sim``, a verdict
changed through the simulator's control API, an aiosmtpd relay and a webhook receiver that
verifies signatures with ``standardwebhooks``. Each test starts its own processes."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from statusd.maintenance.file import add_window
from statusd.maintenance.windows import parse_window
from tests.support.notify_stack import WAIT, link, notifying, operator_list
from tests.support.smtp_sink import Received, SmtpSink
from tests.support.webhook_receiver import Receiver, receiver_thread

pytestmark = pytest.mark.e2e

ANA = "ana@example.com"


def text_of(received: Received) -> str:
    part = received.message.get_body(("plain",))
    assert part is not None
    content: str = part.get_content()
    return content


def test_email_double_opt_in_change_recovery_and_one_click_unsubscribe(
    tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    """Sign up for SMS in Germany: a confirmation email whose link's page changes nothing until
    its button is pressed; then one email when SMS in Germany degrades (none for France), one
    when it recovers, each with RFC 8058 headers on one line; the one-click POST to the
    List-Unsubscribe URL deletes the address."""
    with notifying(tmp_path, smtp=smtp_sink) as stack:
        answer = stack.subscribe({"email": ANA, "products": ["sms"], "countries": ["DE"]})
        assert answer.status_code == 202, answer.text
        assert answer.json() == {"status": "pending"}
        (confirmation,) = smtp_sink.wait_for(lambda got: len(got) == 1, timeout=WAIT)
        assert confirmation.recipients == (ANA,)
        assert "Confirm" in str(confirmation.message["Subject"])
        confirm_url = link(confirmation, "confirm")
        for _ in range(2):  # a mail scanner following the link changes nothing
            page = stack.statusd.get(stack.local(confirm_url))
            assert page.status_code == 200
            assert '<form method="post"' in page.text
        (pending,) = operator_list(stack.state_dir)
        assert "  pending  " in pending
        assert ANA in pending
        assert stack.press(confirm_url).status_code == 200
        (active,) = operator_list(stack.state_dir)
        assert "  active  " in active

        stack.settle_baseline(probe=("sms", "FR"))  # a change of SMS in France: not ana's
        stack.sim.degrade("sms", "DE")
        got = smtp_sink.wait_for(lambda got: len(got) == 2, timeout=WAIT, why="the change")
        changed = got[1]
        assert changed.recipients == (ANA,)
        assert changed.message["Subject"] == "SMS in Germany: degraded performance"
        body = text_of(changed)
        assert "degraded performance (was operational)" in body
        assert "France" not in body
        unsubscribe = link(changed, "unsubscribe")
        assert changed.message["List-Unsubscribe"] == f"<{unsubscribe}>"
        assert changed.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert f"\r\nList-Unsubscribe: <{unsubscribe}>\r\n".encode() in changed.raw

        stack.sim.restore("sms", "DE")
        got = smtp_sink.wait_for(lambda got: len(got) == 3, timeout=WAIT, why="the recovery")
        recovered = got[2]
        assert recovered.message["Subject"] == "SMS in Germany: operational"
        assert "operational (was degraded performance)" in text_of(recovered)
        ids = {r.message_id for r in got}
        assert len(ids) == 3

        one_click = httpx.post(
            stack.statusd.url + stack.local(unsubscribe),
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=10,
        )
        assert one_click.status_code == 200, one_click.text
        assert operator_list(stack.state_dir) == []
        assert [r.recipients for r in smtp_sink.messages()] == [(ANA,)] * 3


def test_webhook_gets_one_signed_status_change(tmp_path: Path) -> None:
    """A webhook subscribed over the API gets one delivery for a change in its scope, signed
    with the secret it was given (verified by ``standardwebhooks``), with SPEC §8's payload."""
    receiver = Receiver()
    with receiver_thread(receiver) as port, notifying(tmp_path) as stack:
        hook = f"http://127.0.0.1:{port}/hook"
        answer = stack.subscribe(
            {"webhook": hook, "format": "json", "products": ["sms"], "countries": ["DE"]}
        )
        assert answer.status_code == 201, answer.text
        created = answer.json()
        assert created["secret"].startswith("whsec_")
        receiver.secret = created["secret"]
        stack.settle_baseline()
        stack.sim.degrade("sms", "DE")
        receiver.wait_for(lambda r: len(r.deliveries) == 1, timeout=WAIT)
        stack.sim.restore("sms", "DE")
        receiver.wait_for(lambda r: len(r.deliveries) == 2, timeout=WAIT)
    assert receiver.refused == []
    first = receiver.deliveries[0]
    payload = first.payload
    assert set(payload) == {"id", "type", "occurred_at", "page", "changes"}
    assert payload["type"] == "status.changed"
    assert payload["page"] == {"name": "statusd", "url": stack.statusd.url}
    assert payload["changes"] == [
        {
            "product": "sms",
            "country": "DE",
            "key": "DE",  # beyond SPEC §8's list: the cell key (a billing function's name)
            "component_id": payload["changes"][0]["component_id"],
            "from": "operational",
            "to": "degraded_performance",
        }
    ]
    assert datetime.fromisoformat(payload["occurred_at"]).tzinfo is not None
    assert first.headers["webhook-id"].startswith("msg_")
    assert first.headers["webhook-signature"].startswith("v1,")
    assert abs(int(first.headers["webhook-timestamp"]) - time.time()) < 60
    second = receiver.deliveries[1].payload["changes"]
    assert [(c["from"], c["to"]) for c in second] == [("degraded_performance", "operational")]
    assert len({d.headers["webhook-id"] for d in receiver.deliveries}) == 2
    assert len(receiver.attempts) == 2  # nothing else was posted (the probe is out of scope)


def test_incident_opened_and_resolved(tmp_path: Path, smtp_sink: SmtpSink) -> None:
    """An incident opened and then closed in the simulator: a subscriber of ``incidents`` gets
    ``incident.opened`` and ``incident.resolved`` by webhook, and one email each."""
    receiver = Receiver()
    topic = "SMS delays in Germany"
    with receiver_thread(receiver) as port, notifying(tmp_path, smtp=smtp_sink) as stack:
        answer = stack.subscribe(
            {"webhook": f"http://127.0.0.1:{port}/hook", "products": ["incidents"]}
        )
        assert answer.status_code == 201, answer.text
        receiver.secret = answer.json()["secret"]
        stack.subscribe_email(smtp_sink, ANA, ["incidents"], [])
        stack.settle_baseline()  # the incident source has been looked at
        stack.sim.incident(topic, "active")
        receiver.wait_for(lambda r: len(r.deliveries) == 1, timeout=WAIT)
        stack.sim.incident(topic, "closed")
        receiver.wait_for(lambda r: len(r.deliveries) == 2, timeout=WAIT)
        got = smtp_sink.wait_for(lambda got: len(got) == 3, timeout=WAIT, why="two emails")
    opened, resolved = (d.payload for d in receiver.deliveries)
    assert opened["type"] == "incident.opened"
    assert opened["incident"]["name"] == topic
    assert opened["incident"]["resolved_at"] is None
    assert resolved["type"] == "incident.resolved"
    assert resolved["incident"]["id"] == opened["incident"]["id"]
    assert resolved["incident"]["resolved_at"] is not None
    subjects = [str(r.message["Subject"]) for r in got[1:]]
    assert all(topic in subject for subject in subjects), subjects
    assert len(receiver.attempts) == 2


def test_maintenance_scheduled_and_started(tmp_path: Path, smtp_sink: SmtpSink) -> None:
    """A window added to the maintenance file while statusd runs, starting a few seconds
    later: subscribers of its product hear ``maintenance.scheduled`` and then
    ``maintenance.started``; a subscriber of another product hears nothing."""
    receiver = Receiver()
    with receiver_thread(receiver) as port, notifying(tmp_path, smtp=smtp_sink) as stack:
        hook = f"http://127.0.0.1:{port}/hook"
        answer = stack.subscribe({"webhook": hook, "products": ["sms"], "countries": ["DE"]})
        assert answer.status_code == 201, answer.text
        receiver.secret = answer.json()["secret"]
        stack.subscribe_email(smtp_sink, ANA, ["sms"], [])
        stack.subscribe_email(smtp_sink, "bob@example.com", ["billing"], [])
        start = time.time() + 3
        window = {
            "id": "sms-de-upgrade",
            "title": "SMS to Germany: carrier upgrade",
            "start": datetime.fromtimestamp(start, UTC).isoformat(),
            "end": datetime.fromtimestamp(start + 3600, UTC).isoformat(),
            "products": ["sms"],
            "countries": ["DE"],
        }
        add_window(stack.state_dir / "maintenance.toml", parse_window(window, 1))
        receiver.wait_for(lambda r: len(r.deliveries) == 2, timeout=WAIT)
        smtp_sink.wait_for(
            lambda _: len(smtp_sink.to(ANA)) == 3, timeout=WAIT, why="ana's two messages"
        )
        stack.statusd.wait_until(lambda: stack.outbox_depth() == 0, WAIT)  # all was sent
    scheduled, started = (d.payload for d in receiver.deliveries)
    assert scheduled["type"] == "maintenance.scheduled"
    assert started["type"] == "maintenance.started"
    for payload, status in ((scheduled, "scheduled"), (started, "in_progress")):
        assert payload["maintenance"]["id"] == "sms-de-upgrade"
        assert payload["maintenance"]["status"] == status
        assert payload["maintenance"]["countries"] == ["DE"]
    assert len(smtp_sink.to("bob@example.com")) == 1  # his confirmation only
    subjects = [str(r.message["Subject"]) for r in smtp_sink.to(ANA)[1:]]
    assert all("carrier upgrade" in subject for subject in subjects), subjects
