"""Issue 18: notifications end to end — real statusd and statusd-sim processes, a local SMTP
sink and webhook receivers, each in a process of its own (``bench.notify_sink``,
``bench.notify_receiver``).

1. Email fan-out: ``notify_emails`` confirmed subscribers of ``sms`` in ``DE`` (inserted
   with the store's own ``add_email`` + ``confirm``), one change (the simulator degrades
   sms/DE) → seconds from the change being settled (the event's ``occurred_at`` +
   ``notify_hold``) until the sink has accepted every message. Beside it, the sink's own
   rate: the same sink fed by plain smtplib with statusd's connection count, before and
   after the fan-outs.
2. Webhook fan-out: ``notify_webhooks`` subscriptions to one receiver process, each its own
   URL path and secret (``webhook_allow_http`` and ``webhook_allow_private`` on) → seconds
   until every delivery is in, signature verified.
3. ``/api`` under wrk during a fan-out (the recovery message of the same subscribers, sms/DE
   restored) ÷ the same load with the fan-out paused (the sink SIGSTOPped, so every sender
   waits on it), alternately; an idle run before the change beside them.
4. Database size: the subscriptions alone, then with one outbox entry per subscriber.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import sqlite3
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httpx

from bench.notify_sink import blast, read_status
from bench.procs import (
    BenchError,
    Proc,
    children_running,
    cpu_seconds,
    free_port,
    rss_mb,
    run_simulator,
    run_statusd,
    spawn,
    wait_for,
)
from bench.report import Section, Target, median
from bench.sizes import Sizes
from bench.subscriptions_bench import cell_change, checkpointed_size
from bench.wrk import WrkResult, run_wrk
from statusd.config import DEFAULTS
from statusd.notify.render import MessageRender
from statusd.subscriptions.model import NotificationEvent, Scope
from statusd.subscriptions.store import SubscriptionStore

HOLD = 2.0
"""``notify_hold`` of the measured statusd (the default 120 s only makes the run longer)."""
BATCH = 0.1
"""``notify_batch``: as short as allowed in practice (it must be > 0); it is part of the
settled → recorded time."""
INTERVAL = "1"
MAIL_FROM = "status@statusd.example"
MIN_API_RATIO = 0.8
POLL = 0.02
EMAIL_CELL = ("sms", "DE")
MAILER_MODULE = "statusd.deliver._mailer_child"
"""What statusd's mail worker runs (its CPU and memory are reported beside statusd's)."""
WEBHOOK_CELL = ("sms", "FR")


@dataclass
class Peer:
    """A sink or receiver process and the status file it rewrites."""

    proc: Proc
    status_path: Path

    def status(self) -> dict[str, Any]:
        return read_status(self.status_path)

    def count(self, key: str) -> int:
        return int(self.status().get(key, 0))


@contextlib.contextmanager
def run_peer(
    workdir: Path, name: str, module: str, *args: str, port: int | None = None
) -> Iterator[Peer]:
    """``python -m module`` listening on ``port`` (a free one when None)."""
    port = port or free_port()
    status_path = workdir / f"{name}-status.json"
    command = [sys.executable, "-m", module, "--listen", f"127.0.0.1:{port}"]
    command += ["--status", str(status_path), *args]
    with spawn(name, command, workdir, f"127.0.0.1:{port}") as proc:
        wait_for(proc, status_path.exists, 60, "status file written")
        yield Peer(proc, status_path)


@contextlib.contextmanager
def paused(peer: Peer) -> Iterator[None]:
    """The peer stopped (SIGSTOP) for the block: whatever talks to it waits."""
    peer.proc.process.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        peer.proc.process.send_signal(signal.SIGCONT)


def fill_emails(path: Path, count: int) -> float:
    """``count`` confirmed email subscribers of the email cell; the seconds taken."""
    store = SubscriptionStore.open(path)
    scope = Scope(frozenset({EMAIL_CELL[0]}), frozenset({EMAIL_CELL[1]}))
    started = time.perf_counter()
    now = time.time()
    try:
        for number in range(count):
            token = store.add_email(f"user{number}@example.com", scope, "en", now, limit=count)
            if token is None or store.confirm(token, now) is None:
                raise BenchError(f"subscriber {number} was not confirmed")
    finally:
        store.close()
    return time.perf_counter() - started


def fill_webhooks(path: Path, count: int, receiver_port: int) -> dict[str, str]:
    """``count`` webhook subscriptions of the webhook cell; their paths and secrets."""
    store = SubscriptionStore.open(path)
    scope = Scope(frozenset({WEBHOOK_CELL[0]}), frozenset({WEBHOOK_CELL[1]}))
    secrets: dict[str, str] = {}
    try:
        for number in range(count):
            url_path = f"/hook/{number}"
            url = f"http://127.0.0.1:{receiver_port}{url_path}"
            made = store.add_webhook(url, "json", scope, "en", time.time(), limit=count)
            secrets[url_path] = made.secret
    finally:
        store.close()
    return secrets


def database_sizes(path: Path, workdir: Path, count: int) -> tuple[Section, bytes]:
    """Item 4 on a copy of the filled database; also statusd's rendering of one of its
    emails (the message the plain client sends)."""
    subscriptions_only = checkpointed_size(path)
    copy = workdir / "sizes.sqlite3"
    shutil.copyfile(path, copy)
    store = SubscriptionStore.open(copy)
    event = NotificationEvent("size", "status.changed", time.time(), (cell_change(*EMAIL_CELL),))
    started = time.perf_counter()
    entries = store.record_event(event, {}, time.time())
    record_seconds = time.perf_counter() - started
    (entry,) = store.claim_due(time.time() + 1, 1, 60)
    store.close()
    render = MessageRender("statusd", "http://127.0.0.1:8080", MAIL_FROM)
    message = render.email(entry)
    sample = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))  # as the relay
    with_outbox = checkpointed_size(copy)
    copy.unlink()
    section = Section(
        title=f"notifications: database size with {count:,} email subscriptions",
        headers=["contents", "bytes", "bytes/subscription"],
        rows=[
            ["subscriptions", subscriptions_only, round(subscriptions_only / count, 1)],
            ["+ one outbox entry each", with_outbox, round(with_outbox / count, 1)],
        ],
        data={
            "subscriptions_bytes": subscriptions_only,
            "with_outbox_bytes": with_outbox,
            "outbox_entries": entries,
            "record_event_s": round(record_seconds, 3),
        },
    )
    section.notes.append(
        f"record_event of a change every subscriber is told: {entries:,} entries in "
        f"{record_seconds:.2f} s (in process); sizes after a checkpoint and VACUUM"
    )
    return section, sample


def statusd_config(workdir: Path, name: str, database: Path, sink: Peer | None) -> Path:
    """The TOML of a measured statusd: its own history database, the sink as relay."""
    lines = [
        f'history_db = "{database}"',
        "webhook_allow_http = true",
        "webhook_allow_private = true",
        f"notify_hold = {HOLD}",
        f"notify_batch = {BATCH}",
    ]
    if sink is not None:
        lines += [f'smtp_url = "smtp://{sink.proc.url}"', f'mail_from = "{MAIL_FROM}"']
    path = workdir / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def control(sim: Proc, action: str, cell: tuple[str, str]) -> None:
    body = {"product": cell[0], "country": cell[1]}
    httpx.post(f"{sim.url}/_control/{action}", json=body, timeout=10).raise_for_status()


def events(database: Path) -> dict[str, float]:
    """Event id → ``occurred_at`` of every recorded notification event."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        return dict(conn.execute("SELECT id, occurred_at FROM notification_events").fetchall())


def change_and_settle(
    sim: Proc, statusd: Proc, database: Path, action: str, cell: tuple[str, str]
) -> tuple[float, float]:
    """Change ``cell`` through the simulator; wait for statusd to record the event. The
    instant it settled (``occurred_at + notify_hold``) and the instant it was seen recorded."""
    before = events(database)
    control(sim, action, cell)
    new: dict[str, float] = {}

    def recorded() -> bool:
        new.update({k: v for k, v in events(database).items() if k not in before})
        return bool(new)

    wait_for(statusd, recorded, 60, f"a notification event after {action} {cell}")
    seen = time.time()
    (occurred_at,) = new.values()
    return occurred_at + HOLD, seen


def wait_count(peer: Peer, key: str, target: int, owner: Proc, timeout: float) -> dict[str, Any]:
    """Until ``peer`` counts ``target`` under ``key``; its status then."""
    deadline = time.monotonic() + timeout
    while (status := peer.status()).get(key, 0) < target:
        if peer.proc.process.poll() is not None:
            raise BenchError(f"{peer.proc.name} exited:\n{peer.proc.log()}")
        if owner.process.poll() is not None:
            raise BenchError(f"{owner.name} exited:\n{owner.log()}")
        if time.monotonic() > deadline:
            raise BenchError(f"{peer.proc.name}: {status.get(key, 0)} of {target} {key}")
        time.sleep(POLL)
    return status


def settled_statusd(statusd: Proc) -> None:
    """Let the first verdicts settle silently (``notify_hold`` after the first snapshot,
    which came before ``/readyz``), so the next change is news."""
    time.sleep(HOLD + 2 * float(INTERVAL))
    if statusd.process.poll() is not None:
        raise BenchError(f"{statusd.name} exited:\n{statusd.log()}")


def fan_out_timeout(count: int) -> float:
    return 120 + count / 50


def measure_webhooks(workdir: Path, sim: Proc, count: int) -> Section:
    """Item 2."""
    database = workdir / "webhooks.sqlite3"
    port = free_port()
    secrets = fill_webhooks(database, count, port)
    secrets_path = workdir / "secrets.json"
    secrets_path.write_text(json.dumps(secrets))
    config = statusd_config(workdir, "statusd-webhooks", database, None)
    receiver_args = ("--secrets", str(secrets_path))
    with contextlib.ExitStack() as stack:
        receiver = stack.enter_context(
            run_peer(workdir, "receiver", "bench.notify_receiver", *receiver_args, port=port)
        )
        statusd = stack.enter_context(
            run_statusd(workdir, sim, "--config", str(config), "--interval", INTERVAL)
        )
        settled_statusd(statusd)
        cpu_before = cpu_seconds(statusd.pid)
        settled, recorded = change_and_settle(sim, statusd, database, "degrade", WEBHOOK_CELL)
        status = wait_count(receiver, "delivered", count, statusd, fan_out_timeout(count))
        cpu = cpu_seconds(statusd.pid) - cpu_before
    seconds = status["last_at"] - settled
    section = Section(
        title=f"notifications: {count:,} webhooks, one receiver process, "
        f"webhook_concurrency {DEFAULTS.webhook_concurrency}",
        headers=["settled → recorded s", "settled → all delivered s", "deliveries/s", "cpu s"],
        rows=[[recorded - settled, seconds, count / seconds, cpu]],
        data={**status, "settled_to_recorded_s": recorded - settled, "seconds": seconds},
    )
    section.targets.append(Target("webhooks delivered twice", status["duplicates"], 0, "<="))
    section.targets.append(Target("webhook requests refused", status["refused"], 0, "<="))
    section.notes.append(
        "one hypercorn process on one port, a URL path and a secret per subscription "
        "(/hook/0 …), each delivery's Standard Webhooks signature verified; "
        "statusd opens one connection per delivery"
    )
    return section


def without_message_id(message: bytes) -> bytes:
    parsed = message_from_bytes(message, policy=policy.SMTP)
    del parsed["Message-ID"]
    return parsed.as_bytes()


def sink_rate(sink: Peer, message: bytes, count: int) -> float:
    """Messages/s the sink accepts from plain smtplib with statusd's connection count."""
    before = sink.count("accepted")
    port = int(sink.proc.url.rpartition(":")[2])
    seconds = blast(port, without_message_id(message), count, DEFAULTS.smtp_connections)
    wait_count(sink, "accepted", before + count, sink.proc, 60)
    return count / seconds


def database_bytes(database: Path) -> int:
    """The history database with its WAL, as they are on disk now."""
    wal = database.with_name(database.name + "-wal")
    return database.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


@dataclass
class EmailRun:
    """What the email phase measured (items 1 and 3)."""

    settled_to_recorded_s: float
    seconds: float
    statusd_cpu_s: float
    worker_cpu_s: float
    worker_rss_mb: tuple[float, float]
    """The mail worker's resident memory after the fan-out and its peak (VmRSS, VmHWM)."""
    sink_cpu_s: float
    live_bytes: int
    duplicates: int
    recovery_seconds: float
    windows: dict[str, list[WrkResult]]
    progress: list[int]
    """Messages the sink accepted during each fan-out window."""
    notes: list[str]


def measure_emails(workdir: Path, sim: Proc, sink: Peer, sizes: Sizes, database: Path) -> EmailRun:
    """Item 1 (degrade: the first fan-out, nothing else running), then item 3 (restore: the
    recovery fan-out under wrk, paused and resumed)."""
    count = sizes.notify_emails
    config = statusd_config(workdir, "statusd-emails", database, sink)
    with run_statusd(workdir, sim, "--config", str(config), "--interval", INTERVAL) as statusd:
        settled_statusd(statusd)

        def wrk() -> WrkResult:
            return run_wrk(
                f"{statusd.url}/api", connections=sizes.connections, seconds=sizes.wrk_seconds
            )

        windows: dict[str, list[WrkResult]] = {"idle, before": [wrk()]}
        start = sink.count("accepted")
        (worker,) = children_running(statusd.pid, MAILER_MODULE)
        cpu = cpu_seconds(statusd.pid), cpu_seconds(sink.proc.pid), cpu_seconds(worker)
        settled, recorded = change_and_settle(sim, statusd, database, "degrade", EMAIL_CELL)
        live_bytes = database_bytes(database)
        status = wait_count(sink, "accepted", start + count, statusd, fan_out_timeout(count))
        statusd_cpu = cpu_seconds(statusd.pid) - cpu[0]
        sink_cpu = cpu_seconds(sink.proc.pid) - cpu[1]
        worker_cpu = cpu_seconds(worker) - cpu[2]
        worker_rss = rss_mb(worker), rss_mb(worker, "VmHWM")

        start = sink.count("accepted")
        settled_again, _ = change_and_settle(sim, statusd, database, "restore", EMAIL_CELL)
        progress, notes = alternate(wrk, sink, start + count, sizes.repeats, windows)
        last = wait_count(sink, "accepted", start + count, statusd, fan_out_timeout(count))
    return EmailRun(
        settled_to_recorded_s=recorded - settled,
        seconds=status["last_at"] - settled,
        statusd_cpu_s=statusd_cpu,
        worker_cpu_s=worker_cpu,
        worker_rss_mb=worker_rss,
        sink_cpu_s=sink_cpu,
        live_bytes=live_bytes,
        duplicates=last["duplicates"],
        recovery_seconds=last["last_at"] - settled_again,
        windows=windows,
        progress=progress,
        notes=notes,
    )


def alternate(
    wrk: Any, sink: Peer, target: int, repeats: int, windows: dict[str, list[WrkResult]]
) -> tuple[list[int], list[str]]:
    """wrk during the fan-out and with it paused (sink SIGSTOPped), alternately, while the
    fan-out lasts; the messages accepted during each fan-out window, and notes."""
    progress: list[int] = []
    notes: list[str] = []
    for repeat in range(repeats):
        for mode in ("fan-out", "paused") if repeat % 2 == 0 else ("paused", "fan-out"):
            before = sink.count("accepted")
            if before >= target:
                notes.append(f"the fan-out ended after {len(progress)} fan-out window(s)")
                return progress, notes
            if mode == "paused":
                with paused(sink):
                    time.sleep(0.2)  # the senders finish what they hold and wait on the sink
                    windows.setdefault(mode, []).append(wrk())
            else:
                windows.setdefault(mode, []).append(wrk())
                progress.append(sink.count("accepted") - before)
                if sink.count("accepted") >= target:
                    notes.append("the fan-out ended within a fan-out window")
    return progress, notes


def email_section(run: EmailRun, count: int, rates: list[float], blast_count: int) -> Section:
    rate = count / run.seconds
    sink_rate_median = median(rates)
    section = Section(
        title=f"notifications: {count:,} emails to a local SMTP sink (aiosmtpd, own process), "
        f"smtp_connections {DEFAULTS.smtp_connections}",
        headers=["sender", "messages", "s (statusd: settled → all accepted)", "messages/s"],
        rows=[
            ["statusd", count, run.seconds, rate],
            *[["smtplib alone", blast_count, blast_count / r, r] for r in rates],
        ],
        data={
            "settled_to_recorded_s": run.settled_to_recorded_s,
            "seconds": run.seconds,
            "messages_per_s": rate,
            "sink_rates": rates,
            "statusd_cpu_s": run.statusd_cpu_s,
            "worker_cpu_s": run.worker_cpu_s,
            "worker_rss_mb": run.worker_rss_mb[0],
            "worker_peak_rss_mb": run.worker_rss_mb[1],
            "sink_cpu_s": run.sink_cpu_s,
            "live_database_bytes": run.live_bytes,
            "recovery_seconds_under_wrk": run.recovery_seconds,
        },
    )
    section.targets.append(Target("emails accepted twice", run.duplicates, 0, "<="))
    section.notes += [
        f"statusd / sink alone: {rate / sink_rate_median:.2f} of the sink's own rate "
        f"(median of {len(rates)} plain smtplib runs, before and after, "
        f"{DEFAULTS.smtp_connections} connections, statusd's message without its Message-ID)",
        f"settled → recorded (the event and its {count:,} outbox entries in one transaction): "
        f"{run.settled_to_recorded_s:.2f} s",
        f"CPU during the fan-out: statusd {run.statusd_cpu_s:.1f} s, its mail worker "
        f"{run.worker_cpu_s:.1f} s, sink {run.sink_cpu_s:.1f} s",
        f"mail worker resident memory after the fan-out {run.worker_rss_mb[0]:.1f} MiB "
        f"(peak {run.worker_rss_mb[1]:.1f} MiB)",
        f"history database + WAL while the fan-out starts: {run.live_bytes:,} bytes",
        f"the recovery fan-out (item 3, under wrk and paused): {run.recovery_seconds:.1f} s",
    ]
    return section


def api_section(run: EmailRun, sizes: Sizes) -> Section:
    section = Section(
        title=f"notifications: /api during an email fan-out, wrk -t1 -c{sizes.connections} "
        f"-d{sizes.wrk_seconds}s, alternately",
        headers=["mode", "runs", "req/s", "p50 ms", "p99 ms", "failed"],
    )
    for mode, results in run.windows.items():
        section.rows.append(
            [
                mode,
                len(results),
                median([r.rps for r in results]),
                median([r.p50_ms for r in results]),
                median([r.p99_ms for r in results]),
                sum(r.failed for r in results),
            ]
        )
        section.data[mode] = [r.as_json() for r in results]
    section.data["messages_per_fan_out_window"] = run.progress
    section.notes += run.notes
    section.notes.append(
        "paused: the sink SIGSTOPped, every sender waits on it (the same process and outbox, "
        f"no fan-out work); messages accepted per fan-out window: {run.progress}"
    )
    # Without a paused window (a fan-out shorter than one wrk run: the smoke sizes), the
    # fan-out is compared with the idle run before the change.
    without = "paused" if "paused" in run.windows else "idle, before"
    if "fan-out" in run.windows:
        ratio = median([r.rps for r in run.windows["fan-out"]]) / median(
            [r.rps for r in run.windows[without]]
        )
        section.data["ratio"] = ratio
        section.data["ratio_against"] = without
        section.targets.append(
            Target(f"/api req/s fan-out ÷ {without}", round(ratio, 3), MIN_API_RATIO, ">=")
        )
    failed = sum(r.failed for results in run.windows.values() for r in results)
    section.targets.append(Target("failed requests", failed, 0, "<="))
    return section


def measure_notify(workdir: Path, sizes: Sizes) -> list[Section]:
    """Items 1 to 4 of the issue-18 benchmarks (see the module docstring)."""
    count = sizes.notify_emails
    database = workdir / "emails.sqlite3"
    fill_seconds = fill_emails(database, count)
    sizes_section, sample = database_sizes(database, workdir, count)
    sizes_section.notes.append(f"filled with add_email + confirm in {fill_seconds:.1f} s")
    countries = ",".join(sorted({EMAIL_CELL[1], WEBHOOK_CELL[1], "RU"}))
    with (
        run_peer(workdir, "sink", "bench.notify_sink") as sink,
        run_simulator(workdir, "--seed", "1", "--steady", "--countries", countries) as sim,
    ):
        rates = [sink_rate(sink, sample, sizes.notify_blast)]
        webhooks = measure_webhooks(workdir, sim, sizes.notify_webhooks)
        emails = measure_emails(workdir, sim, sink, sizes, database)
        rates.append(sink_rate(sink, sample, sizes.notify_blast))
    return [
        email_section(emails, count, rates, sizes.notify_blast),
        webhooks,
        api_section(emails, sizes),
        sizes_section,
    ]
