"""Notifications under faults (SPEC §8 "Delivery, nothing lost"), with real processes: a relay
that is down or refuses a recipient, webhooks that fail, hang or are gone, and statusd killed
in the middle of a fan-out. The first retry comes about 10 s (±20 %) after a failure, so a
test that waits for one is bounded by ``RETRY_WAIT``."""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from statusd.subscriptions.model import Scope
from statusd.subscriptions.store import SubscriptionStore
from tests.support.notify_stack import WAIT, notifying, operator_list
from tests.support.smtp_sink import Received, SmtpSink
from tests.support.webhook_receiver import Receiver, receiver_thread

pytestmark = pytest.mark.e2e

RETRY_WAIT = 25.0
"""A first retry (10 s ± 20 %) after the failure, plus collection, hold and batch."""
DEGRADED = "SMS in Germany: degraded performance"


def degraded(got: list[Received]) -> list[Received]:
    return [r for r in got if r.message["Subject"] == DEGRADED]


def recipients(got: list[Received]) -> list[str]:
    return sorted(address for r in got for address in r.recipients)


def test_relay_down_during_a_change_then_everything_arrives(
    tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    """The relay is down when SMS in Germany degrades: the webhook is told at once, the
    emails fail and wait; once the relay is back every subscriber gets the email, once."""
    addresses = [f"user{n}@example.com" for n in range(3)]
    receiver = Receiver()
    with receiver_thread(receiver) as port, notifying(tmp_path, smtp=smtp_sink) as stack:
        for address in addresses:
            stack.subscribe_email(smtp_sink, address, ["sms"], ["DE"])
        answer = stack.subscribe({"webhook": f"http://127.0.0.1:{port}/hook"})
        receiver.secret = answer.json()["secret"]
        stack.settle_baseline()
        receiver.wait_for(lambda r: len(r.deliveries) == 1, timeout=WAIT)  # the probe
        smtp_sink.stop()
        stack.sim.degrade("sms", "DE")
        receiver.wait_for(lambda r: len(r.deliveries) == 2, timeout=WAIT)  # not held back
        stack.statusd.wait_until(lambda: stack.sent("email", "retried") >= 3, WAIT)
        assert stack.outbox_depth() == 3
        smtp_sink.start()
        got = smtp_sink.wait_for(
            lambda got: len(degraded(got)) >= 3, timeout=RETRY_WAIT, why="the retried emails"
        )
        stack.statusd.wait_until(lambda: stack.sent("email", "delivered") >= 6, WAIT)
        assert stack.outbox_depth() == 0
    assert recipients(degraded(got)) == addresses
    assert len(degraded(smtp_sink.messages())) == 3


def test_relay_refusing_one_recipient_does_not_hold_back_the_others(
    tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    """The relay refuses one recipient for good (550: given up, logged) and another for now
    (451: retried, delivered once accepted); the other subscribers get the email at once."""
    gone, busy = "gone@example.com", "busy@example.com"
    others = ["ana@example.com", "bob@example.com"]
    with notifying(tmp_path, smtp=smtp_sink) as stack:
        for address in [gone, busy, *others]:
            stack.subscribe_email(smtp_sink, address, ["sms"], ["DE"])
        smtp_sink.refuse(gone)
        smtp_sink.refuse(busy, "451 4.3.0 Try again later")
        stack.settle_baseline()
        stack.sim.degrade("sms", "DE")
        got = smtp_sink.wait_for(lambda got: len(degraded(got)) == 2, timeout=WAIT, why="others")
        assert recipients(degraded(got)) == others
        stack.statusd.wait_until(lambda: stack.sent("email", "given_up") == 1, WAIT)
        stack.statusd.wait_until(lambda: stack.sent("email", "retried") >= 1, WAIT)
        assert "notification given up" in stack.statusd.log()
        smtp_sink.accept(busy)
        got = smtp_sink.wait_for(
            lambda got: len(degraded(got)) == 3, timeout=RETRY_WAIT, why="the retried one"
        )
        stack.statusd.wait_until(lambda: stack.outbox_depth() == 0, WAIT)
    assert recipients(degraded(got)) == sorted([busy, *others])
    assert smtp_sink.to(gone)[1:] == []  # its confirmation only
    assert len(operator_list(stack.state_dir)) == 4  # a refusal does not unsubscribe


def test_webhooks_failing_hanging_and_gone(tmp_path: Path) -> None:
    """Three webhooks told of one change: one answers 500 once, one hangs once — each is
    delivered once on the retry, with the same ``webhook-id`` — and one answers 410, which
    unsubscribes it."""
    failing, hanging, gone = Receiver(), Receiver(), Receiver()
    with (
        receiver_thread(failing) as failing_port,
        receiver_thread(hanging) as hanging_port,
        receiver_thread(gone) as gone_port,
        notifying(tmp_path) as stack,
    ):
        for receiver, port in ((failing, failing_port), (hanging, hanging_port), (gone, gone_port)):
            body = {"webhook": f"http://127.0.0.1:{port}/hook", "products": ["sms"]}
            answer = stack.subscribe(body)
            assert answer.status_code == 201, answer.text
            receiver.secret = answer.json()["secret"]
        failing.answer_next(500)
        hanging.answer_next("hang")
        gone.answer_next(410)
        stack.settle_baseline()
        stack.sim.degrade("sms", "DE")
        gone.wait_for(lambda r: len(r.attempts) == 1, timeout=WAIT)
        stack.statusd.wait_until(lambda: stack.sent("webhook", "unsubscribed") == 1, WAIT)
        assert len(operator_list(stack.state_dir)) == 2
        failing.wait_for(lambda r: len(r.deliveries) == 1, timeout=RETRY_WAIT)
        # the hanging request ends at the webhook deadline (10 s), then waits its retry
        hanging.wait_for(lambda r: len(r.deliveries) == 1, timeout=RETRY_WAIT + 10)
    for receiver in (failing, hanging):
        first, second = receiver.attempts
        assert first.headers["webhook-id"] == second.headers["webhook-id"]
        assert receiver.deliveries[0].payload["changes"][0]["country"] == "DE"
    assert len(gone.attempts) == 1
    assert gone.deliveries == []


def test_sigkill_in_the_middle_of_a_fan_out(tmp_path: Path) -> None:
    """300 subscribers, a slow relay, statusd killed with SIGKILL after a third of the
    emails: after a restart every subscriber has the email; duplicates only of the messages
    in flight at the kill (at most ``smtp_connections``), told apart by ``Message-ID``."""
    sink = SmtpSink(delay=0.02)
    sink.start()
    count, connections = 300, 4
    addresses = [f"user{n:03}@example.com" for n in range(count)]
    try:
        env = {"STATUSD_SMTP_CONNECTIONS": str(connections)}
        with notifying(tmp_path, smtp=sink, env=env) as stack:
            store = SubscriptionStore.open(stack.database)
            try:
                for address in addresses:
                    confirm = store.add_email(
                        address, Scope(frozenset({"sms"})), "en", time.time(), limit=1000
                    )
                    assert confirm is not None
                    assert store.confirm(confirm, time.time()) is not None
            finally:
                store.close()
            stack.settle_baseline()
            stack.sim.degrade("sms", "DE")
            sink.wait_for(lambda got: len(degraded(got)) >= count // 3, timeout=WAIT)
            stack.statusd.stop(signal.SIGKILL)
            at_kill = len(degraded(sink.messages()))
            assert at_kill < count, "the fan-out was over before the kill"
            stack.start_again()
            got = sink.wait_for(
                lambda got: set(recipients(degraded(got))) == set(addresses),
                timeout=WAIT,
                why="every subscriber",
            )
            stack.statusd.wait_until(lambda: stack.outbox_depth() == 0, WAIT)
    finally:
        sink.stop()
    ids = Counter(r.message_id for r in degraded(sink.messages()))
    duplicates = sum(n - 1 for n in ids.values())
    print(
        f"at the kill {at_kill} of {count}; messages {sum(ids.values())}, duplicates {duplicates}"
    )
    assert len(ids) == count
    assert duplicates <= connections
    assert len(degraded(got)) <= count + connections
