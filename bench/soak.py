"""Soak run: statusd and the simulator for N minutes, faults switched at random every few
seconds, a steady request rate on /api; reports memory, descriptors and bad answers.

    python bench/soak.py                    # 10 minutes, 50 req/s (make bench)
    python bench/soak.py --minutes 1        # a quick look

Both processes run on 127.0.0.1 (free ports) in a temporary directory and are stopped at
the end. Every request is checked: a 200 must be a valid ResultT (the error document, or
``status: true`` with the seven sections of the right types), a 304 must answer an
``If-None-Match`` that was sent; anything else counts as bad. The run fails (exit 1) when a
response was bad, statusd's RSS grew more than 10 % from the end of the warm-up to the end
of the run, its open descriptors grew, or it died. The warm-up (20 s) includes a few
seconds of endless bodies on every endpoint, so the baseline already holds the memory the
body cap allows.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import trio

ROOT = Path(__file__).resolve().parents[1]
HTTP_ENDPOINTS = ("mms", "support", "accendent")
HTTP_MODES = (
    "ok",
    "ok",
    "ok",
    "error",
    "hang",
    "slow",
    "garbage",
    "truncated",
    "huge",
    "notfound",
    "redirect_loop",
    "drip",
    "object",
    "wrong_types",
)
"""Modes drawn for an endpoint at each switch; ``ok`` is drawn more often."""
FILES = ("sms.data", "voice.data", "email.data", "billing.data")
FILE_FAULTS = ("missing", "garbage", "empty", "invalid_utf8")
SECTIONS = ("sms", "mms", "voice_call", "email", "billing", "support", "incident")
BILLING_KEYS = (
    "create_customer",
    "purchase",
    "payout",
    "reccuring",
    "fraud_control",
    "checkout_page",
)
ERROR_DOCUMENT = {"status": False, "data": None, "error": "Error on collect data"}
WARM_UP_SECONDS = 20.0
RSS_GROWTH_LIMIT = 0.10
FD_SLACK = 3
"""Descriptors statusd may hold above the warm-up count at the end (pooled connections)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def is_result_document(document: Any) -> bool:
    """Whether a decoded /api body is a valid ResultT (SPEC §3)."""
    if document == ERROR_DOCUMENT:
        return True
    if not isinstance(document, dict) or list(document) != ["status", "data", "error"]:
        return False
    if document["status"] is not True or document["error"] != "":
        return False
    data = document["data"]
    if not isinstance(data, dict) or tuple(data) != SECTIONS:
        return False
    for key in ("sms", "mms"):
        lists = data[key]
        if not (isinstance(lists, list) and len(lists) == 2):
            return False
        if not all(isinstance(rows, list) for rows in lists):
            return False
        if not all(isinstance(row, dict) for rows in lists for row in rows):
            return False
    billing = data["billing"]
    support = data["support"]
    return (
        isinstance(data["voice_call"], list)
        and isinstance(data["email"], dict)
        and isinstance(billing, dict)
        and tuple(billing) == BILLING_KEYS
        and all(isinstance(value, bool) for value in billing.values())
        and isinstance(support, list)
        and len(support) == 2
        and all(isinstance(value, int) for value in support)
        and isinstance(data["incident"], list)
    )


@dataclass
class Tally:
    """What the load generator saw."""

    sent: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    bad_examples: list[str] = field(default_factory=list)
    etag: str = ""

    def bad(self, what: str) -> None:
        self.outcomes["bad"] += 1
        if len(self.bad_examples) < 10:
            self.bad_examples.append(what)


def same_entity(etag: str, other: str) -> bool:
    """Whether two ETags name the same document (the gzip variant's ends in ``-gz``)."""
    return bool(etag) and etag.replace('-gz"', '"') == other.replace('-gz"', '"')


async def one_request(client: httpx.AsyncClient, tally: Tally, conditional: bool) -> None:
    """GET /api once (sometimes conditional, sometimes gzip) and judge the answer."""
    headers = {"Accept-Encoding": random.choice(("gzip", "identity"))}
    sent_etag = tally.etag if conditional else ""
    if sent_etag:
        headers["If-None-Match"] = sent_etag
    try:
        response = await client.get("/api", headers=headers)
    except httpx.HTTPError as error:
        tally.bad(f"{type(error).__name__}: {error}")
        return
    if response.status_code == 304:
        if sent_etag and same_entity(response.headers.get("etag", ""), sent_etag):
            tally.outcomes["304"] += 1
        else:
            tally.bad("304 without a matching If-None-Match")
        return
    if response.status_code != 200:
        tally.bad(f"status {response.status_code}")
        return
    try:
        document = json.loads(response.content)
    except ValueError:
        tally.bad("200 with a body that is not JSON")
        return
    if not is_result_document(document):
        tally.bad(f"200 with an invalid document: {response.text[:200]}")
        return
    tally.etag = response.headers.get("etag", "")
    tally.outcomes["200 data" if document["status"] else "200 error document"] += 1


async def generate_load(url: str, rate: float, until: float, tally: Tally) -> None:
    """``rate`` requests a second on /api until trio time ``until``, at most 50 at once."""
    limiter = trio.CapacityLimiter(50)
    period = 1.0 / rate
    async with (
        # Idle connections expire on the client first (4 s) rather than racing statusd's 5 s
        # keep-alive timeout: a request sent as the server closes an idle connection gets a
        # reset, which HTTP/1.1 leaves to the client to retry (RFC 9112 §9.3.1); httpx does not.
        httpx.AsyncClient(
            base_url=url, timeout=10.0, limits=httpx.Limits(keepalive_expiry=4.0)
        ) as client,
        trio.open_nursery() as nursery,
    ):

        async def limited(conditional: bool) -> None:
            async with limiter:
                await one_request(client, tally, conditional)

        next_at = trio.current_time()
        while next_at < until:
            await trio.sleep_until(next_at)
            if limiter.available_tokens == 0:
                tally.bad("load generator saturated: 50 requests outstanding")
            else:
                tally.sent += 1
                nursery.start_soon(limited, random.random() < 0.5)
            next_at += period


def break_file(path: Path, fault: str, rng: random.Random) -> None:
    """Apply a file fault in place; the simulator's next refresh repairs it."""
    if fault == "missing":
        path.unlink(missing_ok=True)
    elif fault == "garbage":
        path.write_bytes(rng.randbytes(4096))
    elif fault == "empty":
        path.write_bytes(b"")
    elif fault == "invalid_utf8" and path.exists():
        path.write_bytes(b"\xff\xfe" + path.read_bytes())


async def switch_faults(
    sim_url: str, data_dir: Path, every: float, until: float, rng: random.Random, log: Counter[str]
) -> None:
    """Every ``every`` seconds (±50 %) draw new modes for the endpoints, sometimes a file
    fault; all endpoints go back to ``ok`` at the end."""
    async with httpx.AsyncClient(base_url=sim_url, timeout=5.0) as client:
        while trio.current_time() < until:
            for endpoint in HTTP_ENDPOINTS:
                mode = rng.choice(HTTP_MODES)
                response = await client.post(
                    "/_control/faults", json={"endpoint": endpoint, "mode": mode}
                )
                response.raise_for_status()
                log[f"http:{mode}"] += 1
            if rng.random() < 0.3:
                fault = rng.choice(FILE_FAULTS)
                await trio.to_thread.run_sync(break_file, data_dir / rng.choice(FILES), fault, rng)
                log[f"file:{fault}"] += 1
            await trio.sleep(
                min(every * rng.uniform(0.5, 1.5), max(0.0, until - trio.current_time()))
            )
        for endpoint in HTTP_ENDPOINTS:
            await client.post("/_control/faults", json={"endpoint": endpoint, "mode": "ok"})


async def prime(sim_url: str) -> None:
    """Every endpoint streams an endless body for a few collections, then recovers: statusd
    reaches the memory high-water mark its body cap allows (up to three bodies of
    ``max_body_bytes`` at once) before the baseline is taken, so the end-to-end comparison
    measures growth, not the first use of the cap."""
    async with httpx.AsyncClient(base_url=sim_url, timeout=5.0) as client:
        for mode, pause in (("huge", 4.0), ("ok", 3.0)):
            for endpoint in HTTP_ENDPOINTS:
                response = await client.post(
                    "/_control/faults", json={"endpoint": endpoint, "mode": mode}
                )
                response.raise_for_status()
            await trio.sleep(pause)


async def wait_answering(url: str) -> None:
    """Poll ``url`` until it answers; the caller's deadline bounds it."""
    async with httpx.AsyncClient(timeout=1.0) as client:
        while True:
            try:
                await client.get(url)
                return
            except httpx.HTTPError:
                await trio.sleep(0.1)


@dataclass
class Report:
    """The soak figures."""

    minutes: float
    rate: float
    requests: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    bad_examples: list[str] = field(default_factory=list)
    faults: dict[str, int] = field(default_factory=dict)
    rss_start: int = 0
    rss_end: int = 0
    fds_start: int = 0
    fds_end: int = 0
    alive: bool = True
    exit_status: int | None = None

    @property
    def rss_growth(self) -> float:
        return (self.rss_end - self.rss_start) / self.rss_start if self.rss_start else 0.0

    @property
    def bad(self) -> int:
        return self.outcomes.get("bad", 0)

    def failures(self) -> list[str]:
        reasons = []
        if self.bad:
            reasons.append(f"{self.bad} bad responses")
        if self.rss_growth > RSS_GROWTH_LIMIT:
            reasons.append(f"RSS grew {self.rss_growth:.1%}")
        if self.fds_end > self.fds_start + FD_SLACK:
            reasons.append(f"descriptors grew from {self.fds_start} to {self.fds_end}")
        if not self.alive:
            reasons.append("statusd died")
        if self.exit_status not in (0, None):
            reasons.append(f"statusd exited with {self.exit_status} after SIGTERM")
        return reasons

    def text(self) -> str:
        mib = 1024 * 1024
        return "\n".join(
            [
                f"soak: {self.minutes:g} min, {self.rate:g} req/s on /api, "
                f"{self.requests} requests",
                f"  answers: {dict(sorted(self.outcomes.items()))}",
                f"  RSS: {self.rss_start / mib:.1f} MiB after warm-up, "
                f"{self.rss_end / mib:.1f} MiB at the end ({self.rss_growth:+.1%})",
                f"  open descriptors: {self.fds_start} after warm-up, {self.fds_end} at the end",
                f"  faults applied: {sum(self.faults.values())} "
                f"{dict(sorted(self.faults.items()))}",
                f"  statusd exit status after SIGTERM: {self.exit_status}",
                *(f"  bad: {example}" for example in self.bad_examples),
                "  result: " + ("; ".join(self.failures()) or "ok"),
            ]
        )


async def soak(minutes: float, rate: float, every: float, seed: int, workdir: Path) -> Report:
    """The whole run; every process it starts is stopped before it returns."""
    report = Report(minutes, rate)
    rng = random.Random(seed)
    random.seed(seed)
    sim_port, port = free_port(), free_port()
    sim_url, url = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{port}"
    data_dir = workdir / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATUSD_")}
    python = sys.executable
    with trio.fail_after(minutes * 60 + WARM_UP_SECONDS + 120):
        async with trio.open_nursery() as nursery:
            sim_command = [
                python, "-m", "simulator", "--listen", f"127.0.0.1:{sim_port}",
                "--data-dir", str(data_dir), "--seed", str(seed), "--refresh", "6",
                "--slow-ms", "1500",
            ]  # fmt: skip
            sim = await nursery.start(_run_logged, sim_command, workdir / "sim.log", env)
            with trio.fail_after(20):
                await wait_answering(sim_url + "/_control/faults")
            statusd_command = [
                python, "-m", "statusd", "--listen", f"127.0.0.1:{port}",
                "--data-dir", str(data_dir), "--source-url", sim_url,
                "--state-dir", str(workdir / "state"),
                "--interval", "1", "--deadline", "0.8", "--stale-after", "3",
            ]  # fmt: skip
            statusd: trio.Process = await nursery.start(
                _run_logged, statusd_command, workdir / "statusd.log", env
            )
            with trio.fail_after(20):
                await wait_answering(url + "/healthz")
            tally = Tally()
            fault_log: Counter[str] = Counter()
            warm_until = trio.current_time() + WARM_UP_SECONDS
            until = warm_until + minutes * 60
            async with trio.open_nursery() as work:
                work.start_soon(generate_load, url, rate, until, tally)
                await prime(sim_url)
                await trio.sleep_until(warm_until)
                report.rss_start = rss_bytes(statusd.pid)
                report.fds_start = open_fds(statusd.pid)
                work.start_soon(switch_faults, sim_url, data_dir, every, until, rng, fault_log)
            await trio.sleep(5.0)  # every fault is off now: let the sources settle
            report.alive = statusd.poll() is None
            if report.alive:
                report.rss_end = rss_bytes(statusd.pid)
                report.fds_end = open_fds(statusd.pid)
                statusd.send_signal(signal.SIGTERM)
                with trio.move_on_after(10):
                    report.exit_status = await statusd.wait()
            else:
                report.exit_status = statusd.returncode
            sim.send_signal(signal.SIGTERM)
            nursery.cancel_scope.deadline = trio.current_time() + 10
    report.requests = tally.sent
    report.outcomes = dict(tally.outcomes)
    report.bad_examples = tally.bad_examples
    report.faults = dict(fault_log)
    return report


async def _run_logged(
    command: Sequence[str],
    log_path: Path,
    env: dict[str, str],
    *,
    task_status: trio.TaskStatus[trio.Process] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run ``command`` with its output in ``log_path`` until it exits or is cancelled
    (then SIGTERM, SIGKILL after 5 s: trio's default)."""
    with log_path.open("wb") as log:
        await trio.run_process(
            list(command),
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=env,
            check=False,
            task_status=task_status,
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second on /api")
    parser.add_argument("--fault-every", type=float, default=3.0, help="seconds between switches")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="statusd-soak-") as directory:
        workdir = Path(directory)
        report = trio.run(soak, args.minutes, args.rate, args.fault_every, args.seed, workdir)
        if report.failures():
            print((workdir / "statusd.log").read_text(errors="replace")[-4000:], file=sys.stderr)
        if args.keep:
            kept = Path(tempfile.mkdtemp(prefix="statusd-soak-logs-"))
            for name in ("statusd.log", "sim.log"):
                (kept / name).write_bytes((workdir / name).read_bytes())
            print(f"logs kept in {kept}")
    print(report.text())
    print(f"  wall time: {time.monotonic() - started:.0f} s")
    if args.json:
        figures = {
            "minutes": report.minutes,
            "rate": report.rate,
            "requests": report.requests,
            "outcomes": report.outcomes,
            "rss_start": report.rss_start,
            "rss_end": report.rss_end,
            "rss_growth": report.rss_growth,
            "fds_start": report.fds_start,
            "fds_end": report.fds_end,
            "faults": report.faults,
            "exit_status": report.exit_status,
            "failures": report.failures(),
        }
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 1 if report.failures() else 0


if __name__ == "__main__":
    sys.exit(main())
