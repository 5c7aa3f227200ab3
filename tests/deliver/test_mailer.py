"""``statusd.deliver.mailer``: the mail worker process with a real database and a real SMTP
sink — it sends the email entries (and only those), lower in CPU priority than the daemon;
killed mid-fan-out it is replaced and nothing is lost; it ends with the daemon's nursery and
when the daemon is gone."""

from __future__ import annotations

import fcntl
import logging
import os
import signal
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import pytest
import trio

from statusd.deliver._mailer_child import (
    LineReader,
    MailerRequest,
    lock_database,
    lower_priority,
)
from statusd.deliver.mailer import MAILER_NICE, Mailer, run_mailer, start_worker
from statusd.metrics import Metrics
from statusd.storage.engine import open_database
from statusd.storage.url import DatabaseUrl, sqlite_url
from statusd.subscriptions.model import Change, NotificationEvent, Scope
from statusd.subscriptions.store import SubscriptionStore
from tests.deliver.test_senders import samples
from tests.support.postgres import PostgresServer
from tests.support.smtp_sink import Received, SmtpSink

NOW = 1_780_000_000.0
MAIL_FROM = "status@example.com"
WAIT = 60.0


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    relay = SmtpSink()
    relay.start()
    yield relay
    relay.stop()


def told(database: DatabaseUrl | Path, count: int) -> list[str]:
    """``count`` confirmed email subscribers and one webhook, all told of one change; the
    email addresses."""
    store = SubscriptionStore.open(database)
    addresses = [f"user{n:03}@example.com" for n in range(count)]
    try:
        for address in addresses:
            token = store.add_email(address, Scope(), "en", NOW, limit=1000)
            assert token is not None
            assert store.confirm(token, NOW) is not None
        store.add_webhook("https://hooks.example.com/", "json", Scope(), "en", NOW, limit=1000)
        with store.engine.transaction(write=True) as conn:  # the confirmations: not ours
            conn.execute("DELETE FROM outbox WHERE event_id IS NULL")
        change = Change("sms", "DE", "DE", "sms-DE", "operational", "major_outage")
        event = NotificationEvent("evt_1", "status.changed", NOW, (change,))
        assert store.record_event(event, {}, NOW) == count + 1
    finally:
        store.close()
    return addresses


def outbox_channels(database: DatabaseUrl | Path) -> list[str]:
    url = database if isinstance(database, DatabaseUrl) else sqlite_url(database)
    engine = open_database(url)
    try:
        with engine.transaction() as conn:
            rows = conn.execute(
                "SELECT s.channel FROM outbox o JOIN subscriptions s ON s.id = o.subscription_id"
            ).fetchall()
    finally:
        engine.close()
    return [channel for (channel,) in rows]


def request_for(
    database: DatabaseUrl | Path, sink: SmtpSink, connections: int = 4
) -> MailerRequest:
    url = database if isinstance(database, DatabaseUrl) else sqlite_url(database)
    return MailerRequest(
        database=url.target,
        dialect=url.dialect,
        owner="mailer-test",
        smtp_url=sink.url,
        mail_from=MAIL_FROM,
        page_name="statusd",
        base_url="https://status.example.com",
        smtp_connections=connections,
        nice=MAILER_NICE,
        log_level="warning",
        log_format="logfmt",
    )


@asynccontextmanager
async def mailing(request: MailerRequest, metrics: Metrics) -> AsyncIterator[Mailer]:
    async with trio.open_nursery() as nursery:
        mailer: Mailer = await nursery.start(partial(run_mailer, request, metrics=metrics))
        yield mailer
        nursery.cancel_scope.cancel()


async def wait_sink(sink: SmtpSink, addresses: list[str]) -> list[Received]:
    """Until every address has its message (the sink's own polling wait, in a thread)."""
    wanted = set(addresses)
    return await trio.to_thread.run_sync(
        partial(
            sink.wait_for,
            lambda got: wanted <= {r.recipients[0] for r in got},
            timeout=WAIT,
            why="every subscriber",
        )
    )


def delivered(metrics: Metrics) -> float:
    key = frozenset({("channel", "email"), ("result", "delivered")})
    return samples(metrics).get(("statusd_notifications_total", key), 0.0)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> DatabaseUrl:
    """The subscription tables on each engine in turn (SPEC §11)."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "history.sqlite3")
    server: PostgresServer = request.getfixturevalue("postgres")
    return DatabaseUrl("postgresql", server.create_database())


async def test_the_worker_sends_the_emails_and_leaves_the_webhooks(
    database: DatabaseUrl, sink: SmtpSink
) -> None:
    """Every email entry is rendered, sent and removed by a process other than this one, at
    a lower priority; the webhook entry stays for the daemon's senders; the counts reach
    the daemon's metrics. On either engine."""
    addresses = told(database, 20)
    metrics = Metrics(["sms"])
    with trio.fail_after(WAIT):
        async with mailing(request_for(database, sink), metrics) as mailer:
            await mailer.ready.wait()
            assert mailer.pid is not None
            assert mailer.pid != os.getpid()
            ours = os.getpriority(os.PRIO_PROCESS, 0)
            assert os.getpriority(os.PRIO_PROCESS, mailer.pid) == min(ours + MAILER_NICE, 19)
            got = await wait_sink(sink, addresses)
            await mailer.wait_reported(lambda: delivered(metrics) == 20)
            assert outbox_channels(database) == ["webhook"]
    assert sorted(r.recipients[0] for r in got) == addresses
    message = got[0].message
    assert message["List-Unsubscribe"].startswith("<https://status.example.com/subscriptions/")
    assert message["Message-ID"].endswith("@status.example.com>")


async def test_a_killed_worker_is_replaced_and_nothing_is_lost(
    tmp_path: Path,
) -> None:
    """SIGKILL to the worker in the middle of a fan-out: the next worker releases its
    claims, every subscriber gets the email; duplicates only of messages in flight at the
    kill (at most ``smtp_connections``), told apart by ``Message-ID``."""
    slow = SmtpSink(delay=0.02)
    slow.start()
    database = tmp_path / "history.sqlite3"
    count, connections = 150, 4
    addresses = told(database, count)
    metrics = Metrics(["sms"])
    try:
        with trio.fail_after(WAIT):
            async with mailing(request_for(database, slow, connections), metrics) as mailer:
                await mailer.wait_reported(lambda: delivered(metrics) >= count // 3)
                first = mailer.pid
                assert first is not None
                os.kill(first, signal.SIGKILL)
                at_kill = len(slow.messages())
                assert at_kill < count, "the fan-out was over before the kill"
                await wait_sink(slow, addresses)
                await mailer.wait_reported(lambda: outbox_channels(database) == ["webhook"])
                assert mailer.starts == 2
                assert mailer.pid not in (None, first)
    finally:
        slow.stop()
    ids = Counter(r.message_id for r in slow.messages())
    assert len(ids) == count
    assert sum(n - 1 for n in ids.values()) <= connections


async def test_the_worker_ends_with_the_nursery(tmp_path: Path, sink: SmtpSink) -> None:
    """Cancelling ``run_mailer`` (the daemon shutting down) ends the worker process."""
    database = tmp_path / "history.sqlite3"
    told(database, 1)
    with trio.fail_after(WAIT):
        async with mailing(request_for(database, sink), Metrics(["sms"])) as mailer:
            await mailer.ready.wait()
            pid = mailer.pid
            assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_the_worker_exits_when_the_daemon_is_gone(tmp_path: Path, sink: SmtpSink) -> None:
    """The end of its standard input (the daemon died, even by SIGKILL) ends the worker at
    once, so it never sends beside the worker of a restarted daemon."""
    database = tmp_path / "history.sqlite3"
    told(database, 0)
    with trio.fail_after(WAIT):
        async with trio.open_nursery() as nursery:
            process = await start_worker(nursery)
            assert process.stdin is not None
            assert process.stdout is not None
            await process.stdin.send_all(request_for(database, sink).line())
            assert await LineReader(process.stdout).next() == f'{{"ready":{process.pid}}}'.encode()
            await process.stdin.aclose()
            assert await process.wait() == 0


def test_reports_are_checked_before_they_reach_the_metrics() -> None:
    """Counts go to the daemon's metrics; a result or channel the daemon does not know is a
    broken worker (``ValueError``: it is stopped), never a new metric label."""
    metrics = Metrics(["sms"])
    mailer = Mailer(metrics)
    mailer.apply(b'{"sent":[["email","delivered",3],["email","retried",1]]}')
    mailer.apply(b'{"outbox":[7,12.5]}')
    assert delivered(metrics) == 3
    with pytest.raises(ValueError, match="not a notification result"):
        mailer.apply(b'{"sent":[["email","exploded",1]]}')
    with pytest.raises(ValueError, match="not a notification result"):
        mailer.apply(b'{"sent":[["webhook","delivered",1]]}')
    found = samples(metrics)
    assert found[("statusd_outbox_depth", frozenset())] == 7


def test_one_worker_at_a_time_holds_the_database(tmp_path: Path) -> None:
    """A second worker's lock on the same database is refused until the first lets go
    (the kernel lets go when the first process dies)."""
    database = str(tmp_path / "history.sqlite3")
    first = lock_database(database)
    second = os.open(f"{database}.mail-lock", os.O_RDWR)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(second, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.close(first)
        fcntl.flock(second, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(second)


def test_a_forbidden_priority_change_is_logged_and_the_worker_goes_on(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Under a seccomp filter without setpriority (the shipped unit's ``~@resources``) the
    worker sends at the daemon's priority rather than not at all."""

    def forbidden(increment: int) -> int:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "nice", forbidden)
    with caplog.at_level(logging.WARNING, logger="statusd.mailer"):
        assert lower_priority(MAILER_NICE) is False
    assert "setpriority is not allowed" in caplog.text
