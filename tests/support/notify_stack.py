"""A real statusd and a steady ``statusd-sim``, set up to notify quickly, for the end-to-end
and fault tests of SPEC §8.

    with notifying(tmp_path, smtp=smtp_sink) as stack:
        stack.settle_baseline()                       # the cells' verdicts are settled
        confirmation = stack.subscribe_email(smtp_sink, "ana@example.com", ["sms"], ["DE"])
        stack.sim.degrade("sms", "DE")
        smtp_sink.wait_for(lambda got: len(got) == 2, timeout=20)

statusd collects every second (``--interval 1``) and settles and batches in one second
(``notify_hold``, ``notify_batch``), so a change in the simulator reaches the sink in about
three seconds. Every wait is for something observable and bounded.
"""

from __future__ import annotations

import html
import json
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.simulator_process import SimulatorProcess, run_simulator
from tests.support.smtp_sink import Received, SmtpSink
from tests.support.statusd_process import StatusdProcess, run_statusd

COUNTRIES = "RU,DE,FR"
"""The simulator's countries (its default fifteen lack DE)."""
MAIL_FROM = "status@example.com"
NOTIFY_ENV: Mapping[str, str] = {
    "STATUSD_NOTIFY_HOLD": "1",
    "STATUSD_NOTIFY_BATCH": "1",
    "STATUSD_WEBHOOK_ALLOW_PRIVATE": "true",
    "STATUSD_WEBHOOK_ALLOW_HTTP": "true",
}
PROBE = ("voice", "FR")
"""The cell ``settle_baseline`` degrades (and leaves degraded): no test subscribes to it."""
WAIT = 20.0
"""Bound of one wait for a notification: collection, hold and batch take about 3 s."""
PROBE_WAIT = 5.0
"""Bound of one change of the probe: an event is expected in about 3 s, or never."""


class NoEvent(AssertionError):
    """The planner recorded no such event in time."""


def operator(state_dir: Path, *command: str) -> str:
    """What ``statusd subscriptions <command>`` prints (it must succeed)."""
    done = subprocess.run(
        [sys.executable, "-m", "statusd", "subscriptions", "--state-dir", str(state_dir), *command],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def operator_list(state_dir: Path) -> list[str]:
    """``statusd subscriptions list``: one line per subscription (id first)."""
    return operator(state_dir, "list").splitlines()


def link(message: Received, action: str) -> str:
    """The ``/subscriptions/<action>?token=…`` link in the text part of ``message``."""
    body = message.message.get_body(("plain",))
    assert body is not None, "no text part"
    found = re.search(rf"https?://\S+/subscriptions/{action}\?token=[\w-]+", body.get_content())
    assert found is not None, f"no {action} link in {body.get_content()!r}"
    return found.group(0)


def press(statusd: StatusdProcess, path: str) -> httpx.Response:
    """What a person does with a link from an email: open its page on ``statusd``
    (``GET``, which changes nothing), then press its one button (the form's ``POST``)."""
    page = statusd.get(path)
    assert page.status_code == 200, page.text
    action = re.search(r'<form method="post" action="([^"]+)"', page.text)
    assert action is not None, page.text
    return httpx.post(statusd.url + html.unescape(action.group(1)), timeout=10)


def sign_up_and_confirm(
    sink: SmtpSink,
    address: str,
    scope: Mapping[str, list[str]],
    through: StatusdProcess,
    confirm_through: StatusdProcess,
) -> Received:
    """Sign up through one statusd, confirm the emailed link on another (or the same);
    the confirmation email."""
    answer = httpx.post(
        through.url + "/api/subscriptions", json={"email": address, **scope}, timeout=10
    )
    assert answer.status_code == 202, answer.text
    got = sink.wait_for(
        lambda got: any(address in r.recipients for r in got),
        timeout=WAIT,
        why=f"confirmation to {address}",
    )
    (confirmation,) = [r for r in got if address in r.recipients]
    parts = urlsplit(link(confirmation, "confirm"))
    done = press(confirm_through, f"{parts.path}?{parts.query}")
    assert done.status_code == 200, done.text
    return confirmation


@dataclass
class Stack:
    """The simulator, the running statusd, its state directory and how it was started."""

    sim: SimulatorProcess
    statusd: StatusdProcess
    state_dir: Path
    args: tuple[str, ...]
    env: dict[str, str]
    workdir: Path
    processes: ExitStack = field(default_factory=ExitStack)

    @property
    def database(self) -> Path:
        return self.state_dir / "history.sqlite3"

    def post(self, path: str, value: object | None = None) -> httpx.Response:
        return httpx.post(self.statusd.url + path, json=value, timeout=10)

    def subscribe(self, value: Mapping[str, Any]) -> httpx.Response:
        return self.post("/api/subscriptions", value)

    def local(self, url: str) -> str:
        """A link from a message, as a path on this statusd (the base URL is its address)."""
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}" == self.statusd.url, url
        return f"{parts.path}?{parts.query}"

    def press(self, url: str) -> httpx.Response:
        """``press`` the emailed link on this statusd."""
        return press(self.statusd, self.local(url))

    def subscribe_email(
        self, sink: SmtpSink, address: str, products: Sequence[str], countries: Sequence[str]
    ) -> Received:
        """Sign up, then confirm with the emailed link; returns the confirmation email."""
        scope = {"products": list(products), "countries": list(countries)}
        return sign_up_and_confirm(sink, address, scope, self.statusd, self.statusd)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of the history database, read beside the running daemon (WAL); none while
        the tables do not exist yet."""
        if not self.database.exists():
            return []
        conn = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute(sql).fetchall()
        except sqlite3.OperationalError as error:
            if "no such table" in str(error):
                return []
            raise
        finally:
            conn.close()

    def events(self) -> list[dict[str, Any]]:
        """The recorded notification events (the planner's decisions), oldest first."""
        rows = self.query("SELECT id, type, body FROM notification_events ORDER BY occurred_at, id")
        return [{"id": i, "type": t, **json.loads(body)} for i, t, body in rows]

    def outbox_depth(self) -> int:
        """Entries in the outbox, from the database (the gauge is refreshed when the
        senders poll, so it may lag)."""
        ((depth,),) = self.query("SELECT COUNT(*) FROM outbox") or [(0,)]
        return int(depth)

    def wait_event(
        self, predicate: Callable[[dict[str, Any]], bool], what: str, timeout: float = WAIT
    ) -> None:
        """Until an event satisfying ``predicate`` is recorded (bounded by ``timeout``)."""
        deadline = time.monotonic() + timeout
        while not any(predicate(event) for event in self.events()):
            if time.monotonic() > deadline:
                raise NoEvent(f"no event for {what} in {timeout} s: {self.events()}")
            time.sleep(0.05)

    def settle_baseline(self, probe: tuple[str, str] = PROBE) -> None:
        """Return once every cell's first verdict is settled (recorded silently), so that the
        next change a test causes is news.

        A first verdict is no news (SPEC §8) and is only written with the next event, so
        the probe cell is changed until an event about it is recorded: that event settled
        after every cell seen before it. Usually the first change does it; if it came
        within ``notify_hold`` of statusd's first look, the probe's own first verdict was
        never settled, the change settles silently instead, and the next change is news."""
        product, country = probe

        def new_about_probe(seen: frozenset[str], event: dict[str, Any]) -> bool:
            changes = event.get("changes", ())
            about = any((c.get("product"), c.get("country")) == probe for c in changes)
            return about and event["id"] not in seen

        for change in (self.sim.degrade, self.sim.restore) * 2:
            seen = frozenset(event["id"] for event in self.events())
            change(product, country)
            try:
                self.wait_event(
                    partial(new_about_probe, seen),
                    f"the {product} {country} probe",
                    timeout=PROBE_WAIT,
                )
            except NoEvent:
                continue
            return
        raise AssertionError(f"the probe never made an event:\n{self.statusd.log()}")

    def metric(self, name: str, **labels: str) -> float:
        """One sample of ``/metrics`` (0 when absent)."""
        text = self.statusd.get("/metrics").text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(
                    sample.labels.get(k) == v for k, v in labels.items()
                ):
                    return float(sample.value)
        return 0.0

    def sent(self, channel: str, result: str) -> float:
        """``statusd_notifications_total{channel, result}``."""
        return self.metric("statusd_notifications_total", channel=channel, result=result)

    def start_again(self) -> StatusdProcess:
        """Start statusd again on the same state (a new port), once it has been stopped."""
        assert self.statusd.process.poll() is not None, "stop statusd first"
        self.statusd = self.processes.enter_context(
            run_statusd(self.workdir, *self.args, env=self.env)
        )
        return self.statusd


@contextmanager
def notifying(
    tmp_path: Path,
    *,
    smtp: SmtpSink | None = None,
    env: Mapping[str, str] | None = None,
    seed: int = 18,
) -> Iterator[Stack]:
    """A steady simulator (``COUNTRIES``) and a ready statusd reading it, notifying fast,
    with email through ``smtp``; both stopped after the block."""
    state = tmp_path / "state"
    environment = dict(NOTIFY_ENV)
    if smtp is not None:
        environment.update(STATUSD_SMTP_URL=smtp.url, STATUSD_MAIL_FROM=MAIL_FROM)
    environment.update(env or {})
    with ExitStack() as processes:
        sim = processes.enter_context(
            run_simulator(
                tmp_path / "data", "--seed", str(seed), "--steady", "--countries", COUNTRIES
            )
        )
        args = (
            "--data-dir", str(sim.data_dir), "--source-url", sim.url,
            "--state-dir", str(state), "--interval", "1",
        )  # fmt: skip
        statusd = processes.enter_context(run_statusd(tmp_path, *args, env=environment))
        stack = Stack(sim, statusd, state, args, environment, tmp_path, processes)
        yield stack
        assert "Traceback" not in stack.statusd.log(), stack.statusd.log()
