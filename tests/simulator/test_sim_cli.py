"""``statusd-sim`` as users and statusd's end-to-end tests run it: flags, process, signals."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from simulator.cli import main, parse_args
from simulator.control import Control
from simulator.faults import Mode
from simulator.generate import ENDPOINTS, FILE_NAMES, Plan, endpoint_body, file_bytes
from tests.simulator.spec_rules import file_cells
from tests.support.simulator_process import ROOT, run_simulator

MiB = 1024 * 1024


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m simulator ARGS`` to completion (bounded)."""
    return subprocess.run(
        [sys.executable, "-m", "simulator", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--bogus"],
        ["--listen", "8383"],
        ["--listen", "127.0.0.1:99999"],
        ["--listen", ":8383"],
        ["--seed", "-1"],
        ["--seed", "x"],
        ["--rows", "0"],
        ["--countries", "RU,XX"],
        ["--countries", ""],
        ["--refresh", "0"],
        ["--refresh", "nan"],
        ["--slow-ms", "-5"],
        ["--fault", "mms=boom"],
        ["--fault", "sms=ok"],
        ["--fault", "mms"],
    ],
)
def test_bad_flag_exits_2_with_one_line(
    args: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Every unusable flag is refused with status 2 and exactly one line on stderr."""
    assert main([*args, "--data-dir", str(tmp_path / "data")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("statusd-sim: error: ")
    assert not (tmp_path / "data").exists()


def test_unusable_data_dir_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A data directory that is a file is refused before anything starts."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["--data-dir", str(blocker), "--once"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_parse_args_defaults_and_values(tmp_path: Path) -> None:
    """Defaults follow SPEC §6; flags land in the options."""
    default = parse_args([])
    assert (default.host, default.port, default.data_dir) == ("127.0.0.1", 8383, Path("data"))
    assert default.random_seed
    assert len(default.countries) == 15
    options = parse_args(
        [
            "--listen",
            "[::1]:0",
            "--seed",
            "5",
            "--countries",
            "ru,us",
            "--rows",
            "10",
            "--refresh",
            "2.5",
            "--fault",
            "mms=hang",
            "--fault",
            "mms=slow",
            "--fault",
            "support=error",
        ]
    )
    assert (options.host, options.port, options.bind) == ("::1", 0, "[::1]:0")
    assert (options.seed, options.random_seed) == (5, False)
    assert options.plan == Plan(seed=5, countries=("RU", "US"), rows=10)
    assert options.refresh_seconds == 2.5
    assert dict(options.faults) == {"mms": Mode.SLOW, "support": Mode.ERROR}


def test_once_is_reproducible_across_processes(tmp_path: Path) -> None:
    """Two processes with the same seed write identical files; another seed differs."""
    for directory, seed in (("a", "42"), ("b", "42"), ("c", "43")):
        result = run_cli("--once", "--seed", seed, "--data-dir", str(tmp_path / directory))
        assert result.returncode == 0, result.stderr
    for name in FILE_NAMES:
        first = (tmp_path / "a" / name).read_bytes()
        assert first == (tmp_path / "b" / name).read_bytes() == file_bytes(Plan(seed=42), name)
    assert (tmp_path / "a" / "sms.data").read_bytes() != (tmp_path / "c" / "sms.data").read_bytes()


def test_run_simulator_serves_the_seeded_data_and_stops_cleanly(tmp_path: Path) -> None:
    """The subprocess helper: bodies of the seed, faults and regeneration work, exit 0."""
    data = tmp_path / "data"
    with run_simulator(data, "--seed", "8", "--fault", "accendent=error") as sim:
        for endpoint in ("mms", "support"):
            response = httpx.get(f"{sim.url}/{endpoint}", timeout=5)
            assert response.content == endpoint_body(Plan(seed=8), endpoint)
        assert httpx.get(f"{sim.url}/accendent", timeout=5).status_code == 500
        sim.set_fault("accendent", "ok")
        assert sim.regenerate() == 1
        second = Plan(seed=8, generation=1)
        for endpoint in ENDPOINTS:
            assert httpx.get(f"{sim.url}/{endpoint}", timeout=5).content == endpoint_body(
                second, endpoint
            )
        assert (data / "voice.data").read_bytes() == file_bytes(second, "voice.data")
        assert f"statusd-sim listening on {sim.url} data in {data.resolve()}" in sim.stderr()
        assert sim.stop() == 0


def test_run_simulator_reports_a_failed_start(tmp_path: Path) -> None:
    """A simulator that exits at once makes the helper raise with its stderr."""
    with (
        pytest.raises(RuntimeError, match="exited with 2"),
        run_simulator(tmp_path / "data", "--rows", "0"),
    ):
        pytest.fail("unreachable")


def test_address_in_use_exits_1_with_one_line(tmp_path: Path) -> None:
    """A port that is taken is reported in one line, status 1."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(
            "--seed", "1", "--listen", f"127.0.0.1:{port}", "--data-dir", str(tmp_path)
        )
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1
    assert "in use" in result.stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_signal_exits_0_even_with_a_hanging_request(
    tmp_path: Path, signum: signal.Signals
) -> None:
    """SIGTERM/SIGINT stop the process with status 0 while a ``hang`` request is open."""
    outcome: list[BaseException] = []

    async def hanging_request(url: str) -> None:
        async with httpx.AsyncClient(timeout=30) as http:
            try:
                await http.get(f"{url}/mms")
            except httpx.TransportError as error:
                outcome.append(error)

    with run_simulator(tmp_path / "data", "--seed", "1", "--fault", "mms=hang") as sim:
        with trio.fail_after(15):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(hanging_request, sim.url)
                await trio.to_thread.run_sync(sim.wait_hanging, "mms")
                sim.process.send_signal(signum)
                status = await trio.to_thread.run_sync(sim.process.wait, 4)
        assert status == 0, sim.stderr()
    assert len(outcome) == 1


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_huge_streams_in_constant_memory(tmp_path: Path) -> None:
    """Reading 128 MiB of ``huge`` does not grow the simulator's memory."""
    with run_simulator(tmp_path / "data", "--seed", "1", "--fault", "mms=huge") as sim:
        received, baseline = 0, 0
        with httpx.stream("GET", f"{sim.url}/mms", timeout=10) as response:
            assert response.status_code == 200
            for chunk in response.iter_raw():
                received += len(chunk)
                if not baseline and received > 8 * MiB:
                    baseline = _rss_bytes(sim.process.pid)
                if received > 128 * MiB:
                    break
        grown = _rss_bytes(sim.process.pid) - baseline
    assert received > 128 * MiB
    assert grown < 16 * MiB, f"simulator grew by {grown} bytes while streaming"


def test_once_steady_is_reproducible_across_processes(tmp_path: Path) -> None:
    """``--steady`` data is the same in two processes: the seeded steady plan, all rows good."""
    for directory in ("a", "b"):
        args = ("--once", "--steady", "--seed", "42", "--data-dir", str(tmp_path / directory))
        result = run_cli(*args)
        assert result.returncode == 0, result.stderr
    steady = Plan(seed=42, control=Control(steady=True))
    for name in FILE_NAMES:
        first = (tmp_path / "a" / name).read_bytes()
        assert first == (tmp_path / "b" / name).read_bytes() == file_bytes(steady, name)
    assert (tmp_path / "a" / "billing.data").read_bytes() == b"111111"
    assert parse_args(["--steady"]).plan.control == Control(steady=True)
    assert parse_args([]).plan.control == Control()


def _wait_for_generation(url: str, above: int) -> dict[str, Any]:
    """Poll ``/_control/status`` until the generation passes ``above`` (bounded by 20 s)."""
    deadline = time.monotonic() + 20
    while True:
        status: dict[str, Any] = httpx.get(f"{url}/_control/status", timeout=5).json()
        if status["generation"] > above:
            return status
        assert time.monotonic() < deadline, f"still at generation {status['generation']}"
        time.sleep(0.05)


def test_degrade_in_a_steady_refreshing_process(tmp_path: Path) -> None:
    """A real ``--steady --refresh`` process: a degraded cell stays bad across refreshes, alone."""
    data = tmp_path / "data"
    args = ("--seed", "3", "--steady", "--refresh", "0.2", "--countries", "RU,DE,FR")
    with run_simulator(data, *args) as sim:
        body = {"product": "sms", "country": "DE"}
        degraded = httpx.post(f"{sim.url}/_control/degrade", json=body, timeout=10)
        assert degraded.json()["degraded"] == [body], degraded.text
        status = _wait_for_generation(sim.url, _generation(sim.url) + 1)
        assert status["steady"] is True
        assert status["degraded"] == [body]  # two refreshes later
        sms = file_cells("sms.data", (data / "sms.data").read_bytes())
        assert {country: set(rows) for country, rows in sms.items()} == {
            "RU": {True},
            "DE": {False},
            "FR": {True},
        }
        for name in ("voice.data", "email.data"):
            assert all(all(rows) for rows in file_cells(name, (data / name).read_bytes()).values())
        assert (data / "billing.data").read_bytes() == b"111111"
        restored = httpx.post(f"{sim.url}/_control/restore", json=body, timeout=10)
        assert restored.json()["degraded"] == []
        sms = file_cells("sms.data", (data / "sms.data").read_bytes())
        assert all(sms["DE"])
        bad = httpx.post(f"{sim.url}/_control/degrade", json={"product": "sms"}, timeout=10)
        assert bad.status_code == 400
        assert bad.json() == {"error": "missing key 'country'"}
        assert sim.stop() == 0


def _generation(url: str) -> int:
    generation: int = httpx.get(f"{url}/_control/status", timeout=5).json()["generation"]
    return generation
