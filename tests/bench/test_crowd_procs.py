"""The crowd client the harness runs (``bench.crowd_procs``): the Python one, or the Go one
(``bench/crowd_go``) when asked for and ``go`` is on PATH; both speak the same protocol and
write the same record, in the clock the harness reads (``time.monotonic()``)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from bench.crowd import failed_request
from bench.crowd_procs import PYTHON_CLIENT, Client, Crowd, crowd_client
from bench.procs import run_simulator, run_statusd

PAGES = 3
RECORD_KEYS = {
    "pages",
    "first_page",
    "started",
    "processes",
    "client",
    "api_requests",
    "api_failed",
    "api_failed_by_reason",
    "api_failed_by_request",
    "api_failed_on_arrival",
    "api_failed_while_open",
    "streams_opened",
    "streams_refused",
    "stream_failures",
    "documents",
    "events",
    "loop_lags",
}
CLIENTS = ["python"] + (["go"] if shutil.which("go") else [])
"""The Go client is exercised where Go is installed (``make bench-tools``); ``make test``
itself needs no Go."""


def test_a_failed_request_is_named_by_which_stage_and_reason() -> None:
    assert failed_request("/api", "", connecting=True, reason="TooSlowError") == (
        "first /api connect: TooSlowError"
    )
    assert failed_request("/api", "abc", connecting=False, reason="HttpError") == (
        "/api exchange: HttpError"
    )
    assert failed_request("/api?v=abc", "", connecting=False, reason="OSError") == (
        "/api?v= exchange: OSError"
    )


def test_python_client_unless_go_is_asked_for(tmp_path: Path) -> None:
    assert crowd_client(tmp_path, go=False) == PYTHON_CLIENT
    assert not (tmp_path / "crowd-go").exists()


def test_python_client_when_go_is_not_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert crowd_client(tmp_path, go=True) == PYTHON_CLIENT


def _client(name: str, workdir: Path) -> Client:
    client = crowd_client(workdir, go=name == "go")
    assert client.name.startswith(name)
    return client


@pytest.mark.parametrize("name", CLIENTS)
def test_client_pages_hold_documents_and_streams(name: str, tmp_path: Path) -> None:
    client = _client(name, tmp_path)
    launched = time.monotonic()
    with (
        run_simulator(tmp_path, "--seed", "1") as sim,
        run_statusd(tmp_path, sim) as statusd,
        Crowd(tmp_path, statusd.url, PAGES, poll=2.0, first_page=7, client=client) as crowd,
    ):
        crowd.wait_ready()
        record = crowd.finish()
    assert set(record) == RECORD_KEYS
    assert record["client"] == client.name
    assert launched <= record["started"] <= time.monotonic()
    assert {page for page, _, _ in record["documents"]} == {7, 8, 9}
    assert all(launched <= at <= time.monotonic() for _, at, _ in record["documents"])
    assert record["api_failed"] == 0
    assert record["api_requests"] >= PAGES
