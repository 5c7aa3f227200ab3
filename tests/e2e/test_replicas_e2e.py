"""Replicas on one PostgreSQL (SPEC §11): exactly one real statusd leads, another takes over
after kill -9 with no gap in the history and no notification lost or sent twice; alone on
SQLite, statusd always leads. Leadership shows in /healthz and /metrics."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from statusd.history.schema import STORED_VERDICTS
from tests.support.postgres import PostgresServer
from tests.support.replicas import GENEROUS, leader_field, replica_set
from tests.support.simulator_process import run_simulator
from tests.support.smtp_sink import SmtpSink
from tests.support.statusd_process import StatusdProcess, run_statusd

pytestmark = pytest.mark.e2e


def leader_metrics(statusd: StatusdProcess) -> tuple[float, float]:
    """``statusd_leader`` and ``statusd_leader_terms_total`` from /metrics."""
    text = statusd.get("/metrics").text
    gauge = re.search(r"^statusd_leader ([0-9.]+)$", text, re.MULTILINE)
    terms = re.search(r"^statusd_leader_terms_total ([0-9.]+)$", text, re.MULTILINE)
    assert gauge, text
    assert terms, text
    return float(gauge[1]), float(terms[1])


def test_alone_on_sqlite_statusd_leads(tmp_path: Path) -> None:
    with (
        run_simulator(tmp_path / "data", "--seed", "4") as sim,
        run_statusd(tmp_path, "--data-dir", str(sim.data_dir), "--source-url", sim.url) as statusd,
    ):
        health = statusd.get("/healthz").json()
        assert health["leader"] is True
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", health["leader_since"])
        assert leader_metrics(statusd) == (1.0, 1.0)


def test_kill_9_of_the_leader_while_verdicts_change(
    tmp_path: Path, postgres: PostgresServer, smtp_sink: SmtpSink
) -> None:
    """Two statusd on one database: exactly one leads. Kill -9 it and change a verdict while
    nobody leads: the other takes over, the history has no gap, and each notification
    reaches the SMTP server exactly once."""
    address = "ana@example.com"
    with replica_set(tmp_path, postgres, smtp=smtp_sink) as replicas:
        leader = replicas.wait_one_leader()
        [other] = [r for r in replicas.replicas if r is not leader]
        assert leader_field(other) is False
        assert leader_metrics(other)[0] == 0.0
        assert leader_metrics(leader) == (1.0, 1.0)
        replicas.subscribe_email(
            smtp_sink,
            address,
            {"products": ["sms"], "countries": ["DE"]},
            through=other,
            confirm_through=leader,
        )
        replicas.wait_settled("sms:DE")
        replicas.sim.degrade("sms", "DE")
        smtp_sink.wait_for(lambda _: len(smtp_sink.to(address)) >= 2, timeout=GENEROUS)
        replicas.wait(lambda: replicas.outbox_depth() == 0, "the degraded notice sent")

        replicas.kill(leader)
        replicas.sim.restore("sms", "DE")
        assert replicas.wait_one_leader() is other
        assert leader_metrics(other)[0] == 1.0
        smtp_sink.wait_for(lambda _: len(smtp_sink.to(address)) >= 3, timeout=GENEROUS)
        replicas.wait(lambda: replicas.outbox_depth() == 0, "the recovery notice sent")
        replicas.wait(lambda: replicas.notified("sms:DE") == "operational", "recovery told")

        received = smtp_sink.to(address)
        subjects = [str(r.message["Subject"]) for r in received]
        assert len(received) == 3, subjects  # confirmation, degraded, recovered: once each
        assert len({r.message_id for r in received}) == 3
        rows = replicas.query(
            'SELECT i.verdict, i.start, i."end", i.gap FROM intervals i '
            "JOIN cells c ON c.id = i.cell WHERE c.name = 'sms:DE' ORDER BY i.start"
        )
        verdicts = [STORED_VERDICTS[row[0]] for row in rows]
        assert [row[3] for row in rows] == [0] * len(rows), verdicts  # no unknown gap
        for before, after in itertools.pairwise(rows):
            assert before[2] == after[1]  # each interval ends where the next starts
        assert verdicts[-1] == "operational"
        assert rows[-1][2] is None
        assert "degraded_performance" in verdicts or "major_outage" in verdicts
