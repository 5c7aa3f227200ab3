"""PostgreSQL stopped for a minute under load through the shipped nginx configuration (SPEC
§11): `/api` answers every request, `/healthz` stays 200, the history and subscription routes
answer 503 until the database is back, and what was decided meanwhile — a verdict change and
its notification — is written and sent once it returns."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from bench.nginx_bench import run_nginx
from bench.procs import Proc
from bench.wrk import WrkRun
from tests.support.ports import free_port
from tests.support.postgres import PostgresServer
from tests.support.replicas import GENEROUS, replica_set
from tests.support.smtp_sink import SmtpSink
from tests.support.statusd_process import StatusdProcess

pytestmark = pytest.mark.e2e

OUTAGE = 60.0
"""How long PostgreSQL is away (the issue's minute)."""


def as_proc(name: str, statusd: StatusdProcess) -> Proc:
    """A replica as the bench's nginx helper takes its upstreams."""
    return Proc(name, statusd.url, statusd.process, statusd.log_path, time.monotonic())


@contextmanager
def nginx_workdir() -> Iterator[Path]:
    """A directory nginx's workers (another user) can enter: pytest's ``tmp_path`` is under
    a directory only root may read."""
    directory = Path(tempfile.mkdtemp(prefix="statusd-nginx-"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def status(url: str, method: str = "GET", **kwargs: object) -> int:
    return httpx.request(method, url, timeout=10, **kwargs).status_code  # type: ignore[arg-type]


def test_postgresql_away_for_a_minute_under_wrk_through_nginx(
    tmp_path: Path, postgres: PostgresServer, smtp_sink: SmtpSink
) -> None:
    address = "ana@example.com"
    with replica_set(tmp_path, postgres, smtp=smtp_sink) as replicas:
        a, b = replicas.replicas
        replicas.wait_one_leader()
        replicas.subscribe_email(
            smtp_sink, address, {"products": ["sms"], "countries": ["DE"]}, through=a,
            confirm_through=b,
        )  # fmt: skip
        replicas.wait_settled("sms:DE")
        body = httpx.get(a.url + "/api", timeout=10).content
        upstreams = (as_proc("a", a), as_proc("b", b))
        with (
            nginx_workdir() as workdir,
            run_nginx(workdir / "nginx", upstreams, body, free_port()) as urls,
        ):
            cache_url = urls[0]
            seconds = int(OUTAGE) + 15
            with WrkRun(cache_url + "/api", connections=8, seconds=seconds) as load:
                time.sleep(3)
                postgres.stop()
                stopped = time.monotonic()
                try:
                    replicas.sim.degrade("sms", "DE")  # decided while the database is away
                    history = "/api/history?product=sms&country=DE&days=1"
                    replicas.wait(
                        lambda: {status(r.url + history) for r in (a, b)} == {503},
                        "history routes answer 503",
                    )
                    signup = {"email": "bo@example.com", "products": ["sms"], "countries": []}
                    assert status(b.url + "/api/subscriptions", "POST", json=signup) == 503
                    for replica in (a, b):
                        assert status(replica.url + "/healthz") == 200
                        assert status(replica.url + "/api") == 200
                        assert status(replica.url + "/") == 200
                    time.sleep(max(0.0, OUTAGE - (time.monotonic() - stopped)))
                finally:
                    postgres.start()
                result = load.result()
        assert result.requests > 0
        assert result.failed == 0, result.errors
        # Back: the degradation decided during the outage is in the history and is told once.
        smtp_sink.wait_for(lambda _: len(smtp_sink.to(address)) >= 2, timeout=GENEROUS)
        replicas.wait(lambda: replicas.outbox_depth() == 0, "the notice sent")
        assert len(smtp_sink.to(address)) == 2
        history = "/api/history?product=sms&country=DE&days=1"
        replicas.wait(lambda: status(b.url + history) == 200, "history answers again")
        rows = replicas.query(
            "SELECT count(*) FROM intervals i JOIN cells c ON c.id = i.cell "
            "WHERE c.name = 'sms:DE' AND i.verdict <> 0 AND i.gap = 0"
        )
        assert rows[0][0] >= 1  # a stored change away from operational (code 0)
