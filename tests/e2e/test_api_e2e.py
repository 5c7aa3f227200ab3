"""statusd and statusd-sim as real processes on loopback: /api against the sources."""

from __future__ import annotations

import gzip
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e import reference
from tests.support.simulator_process import SimulatorProcess, run_simulator
from tests.support.statusd_process import run_statusd

pytestmark = pytest.mark.e2e

FAST = ("--interval", "1", "--deadline", "0.8", "--stale-after", "3")


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimulatorProcess]:
    with run_simulator(tmp_path / "data", "--seed", "7") as simulator:
        yield simulator


def statusd_for(sim: SimulatorProcess, tmp_path: Path, *args: str) -> tuple[str, ...]:
    return (
        "--data-dir",
        str(sim.data_dir),
        "--source-url",
        sim.url,
        "--state-dir",
        str(tmp_path / "state"),
        *args,
    )


def test_api_matches_the_sources_field_by_field(sim: SimulatorProcess, tmp_path: Path) -> None:
    """Every section of /api equals what the contract computes from the simulator's data."""
    with run_statusd(tmp_path, *statusd_for(sim, tmp_path)) as statusd:
        document = statusd.get("/api").json()
    assert document["status"] is True
    assert document["error"] == ""
    data = document["data"]
    assert list(data) == ["sms", "mms", "voice_call", "email", "billing", "support", "incident"]
    mms = httpx.get(sim.url + "/mms", timeout=5).content
    support = httpx.get(sim.url + "/support", timeout=5).content
    incidents = httpx.get(sim.url + "/accendent", timeout=5).content
    expected = {
        "sms": reference.expected_sms(sim.data_dir),
        "mms": reference.expected_mms(mms),
        "voice_call": reference.expected_voice(sim.data_dir),
        "email": reference.expected_email(sim.data_dir),
        "billing": reference.expected_billing(sim.data_dir),
        "support": reference.expected_support(support),
        "incident": reference.expected_incidents(incidents),
    }
    for key, value in expected.items():
        assert data[key] == value, key
    # key order of records is part of the contract
    assert list(data["sms"][0][0]) == ["country", "bandwidth", "response_time", "provider"]
    assert list(data["mms"][0][0]) == ["country", "provider", "bandwidth", "response_time"]
    code, (fastest, _slowest) = next(iter(data["email"].items()))
    assert list(fastest[0]) == ["country", "provider", "delivery_time"]
    assert fastest[0]["country"] == code


def test_skipped_records_are_counted(sim: SimulatorProcess, tmp_path: Path) -> None:
    with run_statusd(tmp_path, *statusd_for(sim, tmp_path)) as statusd:
        sources = statusd.get("/api/sources").json()["sources"]
    assert sum(sum(s["skipped"].values()) for s in sources.values()) > 0
    assert all(s["ok"] for s in sources.values())
    assert sources["sms"]["records"] == len(reference.expected_sms(sim.data_dir)[0])


def test_http_headers_gzip_and_304(sim: SimulatorProcess, tmp_path: Path) -> None:
    """The thin /api layer answers with the contract's headers over real HTTP."""
    with run_statusd(tmp_path, *statusd_for(sim, tmp_path)) as statusd:
        plain = statusd.get("/api", headers={"Accept-Encoding": "identity"})
        zipped = httpx.get(statusd.url + "/api", headers={"Accept-Encoding": "gzip"}, timeout=5)
        again = statusd.get("/api", headers={"If-None-Match": plain.headers["etag"]})
        head = httpx.head(statusd.url + "/api", timeout=5)
        refused = httpx.request("GET", statusd.url + "/api", content=b"x", timeout=5)
        preflight = httpx.options(statusd.url + "/api", timeout=5)
    assert plain.headers["content-type"] == "application/json"
    assert plain.headers["access-control-allow-origin"] == "*"
    assert plain.headers["cache-control"].startswith("public, max-age=")
    assert int(plain.headers["cache-control"].rsplit("=", 1)[1]) >= 1
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["vary"] == "Accept-Encoding"
    assert zipped.content == plain.content  # httpx decodes
    assert int(zipped.headers["content-length"]) < len(plain.content)
    assert gzip.decompress(gzip.compress(plain.content)) == plain.content
    assert again.status_code == 304
    assert again.content == b""
    assert head.status_code == 200
    assert head.content == b""
    assert refused.status_code == 400  # a GET with a body: no route takes one
    assert preflight.status_code == 204


def test_failed_source_keeps_data_then_goes_stale_then_recovers(
    sim: SimulatorProcess, tmp_path: Path
) -> None:
    """mms → 500: last good data stays; after stale_after the error document; then back."""
    with run_statusd(tmp_path, *statusd_for(sim, tmp_path, *FAST)) as statusd:
        good = statusd.get("/api").json()
        sim.set_fault("mms", "error")
        statusd.wait_until(
            lambda: statusd.get("/api/sources").json()["sources"]["mms"]["error"] == "HTTP 500"
        )
        assert statusd.get("/api").json() == good  # kept: younger than stale_after
        statusd.wait_until(lambda: statusd.get("/api").json()["status"] is False, timeout=10)
        assert statusd.get("/api").json() == {
            "status": False,
            "data": None,
            "error": "Error on collect data",
        }
        assert statusd.get("/healthz").status_code == 200  # alive all the while
        sim.set_fault("mms", "ok")
        statusd.wait_until(lambda: statusd.get("/api").json()["status"] is True, timeout=10)
        assert statusd.get("/api").json() == good


def test_events_stream_announces_a_change(sim: SimulatorProcess, tmp_path: Path) -> None:
    """/api/events sends the current ETag, then a new one after the data changes."""
    with (
        run_statusd(tmp_path, *statusd_for(sim, tmp_path, *FAST)) as statusd,
        httpx.stream("GET", statusd.url + "/api/events", timeout=10) as stream,
    ):
        assert stream.headers["content-type"].startswith("text/event-stream")
        etags = []
        for line in stream.iter_lines():
            if line.startswith("data: "):
                etags.append(line[6:])
                if len(etags) == 1:
                    sim.regenerate()
                else:
                    break
    assert etags[0] != etags[1]
    assert etags[1].startswith('"')


def test_sigterm_exits_0_while_a_source_hangs(sim: SimulatorProcess, tmp_path: Path) -> None:
    """SIGTERM during a hanging collection: exit status 0 within 6 s."""
    sim.set_fault("mms", "hang")
    # A deadline as long as the interval: the first mms collection waits on it for 30 s.
    args = statusd_for(sim, tmp_path, "--deadline", "30")
    with run_statusd(tmp_path, *args, wait_ready=False) as statusd:
        sim.wait_hanging("mms")  # the mms collection is now waiting on the hanging endpoint
        started = time.monotonic()
        code = statusd.stop(signal.SIGTERM, timeout=6)
        elapsed = time.monotonic() - started
    assert code == 0
    assert elapsed < 6
    assert "Traceback" not in statusd.log()


def test_sigint_exits_0(sim: SimulatorProcess, tmp_path: Path) -> None:
    with run_statusd(tmp_path, *statusd_for(sim, tmp_path)) as statusd:
        assert statusd.stop(signal.SIGINT, timeout=6) == 0


def test_port_in_use_exits_2_with_one_line(tmp_path: Path) -> None:
    """An address already in use: exit 2 and one clear line, nothing started."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "statusd", "--listen", f"127.0.0.1:{port}"],
            cwd=tmp_path,
            capture_output=True,
            timeout=30,
        )
    assert result.returncode == 2
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1
    assert "Address already in use" in lines[0]


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--interval", "-3"], "setting interval (flag): must be > 0, got -3"),
        (
            ["--interval", "1", "--deadline", "2"],
            "setting deadline (flag): 2 s must not exceed interval (1 s)",
        ),
    ],
    ids=["negative_interval", "deadline_above_interval"],
)
def test_bad_setting_exits_2_before_starting(tmp_path: Path, args: list[str], line: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "statusd", *args],
        cwd=tmp_path,
        capture_output=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.decode().strip().splitlines() == [f"statusd: {line}"]


def test_interval_alone_starts_and_gets_ready(sim: SimulatorProcess, tmp_path: Path) -> None:
    """--interval 1 with no --deadline: the deadline follows it (min(5, 1) = 1 s), statusd
    becomes ready and serves data (it used to exit 2: "deadline (5 s) must not exceed")."""
    with run_statusd(tmp_path, *statusd_for(sim, tmp_path, "--interval", "1")) as statusd:
        assert statusd.get("/api").json()["status"] is True
        assert "must not exceed" not in statusd.log()


def test_mistyped_environment_variable_warns_and_starts(
    sim: SimulatorProcess, tmp_path: Path
) -> None:
    """STATUSD_INTERAVL=5 (a typo in an environment file): one warning line naming
    STATUSD_INTERVAL, and statusd starts and gets ready all the same."""
    env = {"STATUSD_INTERAVL": "5", "STATUSD_OPTS": "--log-format json"}
    with run_statusd(tmp_path, *statusd_for(sim, tmp_path), env=env) as statusd:
        lines = [line for line in statusd.log().splitlines() if "STATUSD_" in line]
    assert len(lines) == 1
    assert "level=warning" in lines[0]
    assert "variable=STATUSD_INTERAVL" in lines[0]
    assert "did_you_mean=STATUSD_INTERVAL" in lines[0]


def test_sources_down_at_start_is_not_ready(tmp_path: Path) -> None:
    """No simulator at all: statusd serves, /readyz is 503 and /api the error document."""
    with run_statusd(
        tmp_path,
        "--data-dir",
        str(tmp_path / "nodata"),
        "--source-url",
        "http://127.0.0.1:9",
        wait_ready=False,
    ) as statusd:
        assert statusd.get("/readyz").status_code == 503
        assert statusd.get("/api").json()["status"] is False
        sources = statusd.get("/api/sources").json()["sources"]
        statusd.wait_until(
            lambda: statusd.get("/api/sources").json()["sources"]["mms"]["error"] is not None
        )
        assert sources["sms"]["records"] == 0
