"""HTTP faults the simulator has no mode for: connection refused and bodies of every wrong
shape, served byte for byte by a plain static server; the file sources come from
``statusd-sim --once``. One statusd and one body server for the module.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.matrix import (
    FAST,
    SMALL_CAP,
    Baseline,
    Expectation,
    Fails,
    Probe,
    Reads,
    check_fault,
    wait_for_good,
)
from tests.faults.processes import ROOT, BodyServer, launch_statusd, run_body_server

pytestmark = pytest.mark.e2e

ENDPOINTS = {"mms": "mms", "support": "support", "incident": "accendent"}
GOOD_BODIES = {
    "mms": [
        {"country": "RU", "provider": "Topolo", "bandwidth": "50", "response_time": "300"},
        {"country": "US", "provider": "Rond", "bandwidth": "20", "response_time": "900"},
    ],
    "support": [{"topic": "billing", "active_tickets": 3}, {"topic": "sms", "active_tickets": 7}],
    "accendent": [
        {"topic": "SMS delays", "status": "active"},
        {"topic": "Old outage", "status": "closed"},
    ],
}


class Bench:
    """The module's body server and statusd."""

    def __init__(self, server: BodyServer, probe: Probe, baseline: Baseline) -> None:
        self.server = server
        self.probe = probe
        self.baseline = baseline

    def serve_everywhere(self, body: bytes) -> None:
        for endpoint in ENDPOINTS.values():
            self.server.put(endpoint, body)

    def serve_good(self) -> None:
        for endpoint, items in GOOD_BODIES.items():
            self.server.put(endpoint, json.dumps(items).encode())


def write_simulated_files(data: Path) -> None:
    """The four data files of ``statusd-sim --seed 4``, written once (no server)."""
    subprocess.run(
        [sys.executable, "-m", "simulator", "--once", "--data-dir", str(data), "--seed", "4"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    workdir = tmp_path_factory.mktemp("http-bodies")
    data = workdir / "data"
    write_simulated_files(data)
    with run_body_server(workdir / "bodies") as server:
        for endpoint, items in GOOD_BODIES.items():
            server.put(endpoint, json.dumps(items).encode())
        with launch_statusd(
            workdir,
            "--data-dir",
            str(data),
            "--source-url",
            server.url,
            "--state-dir",
            str(workdir / "state"),
            *FAST,
            env={"STATUSD_MAX_BODY_BYTES": str(SMALL_CAP)},
        ) as statusd:
            probe = Probe(statusd)
            try:
                yield Bench(server, probe, wait_for_good(probe))
            finally:
                probe.close()


def test_connection_refused(bench: Bench) -> None:
    """Nothing listens on the source port: kept, stale, named, and back once it listens."""
    expected = dict.fromkeys(ENDPOINTS, Fails("connection refused"))
    check_fault(bench.probe, bench.baseline, expected, bench.server.stop, bench.server.start)


NOT_AN_ARRAY = Fails("body is not a JSON array")
NOT_JSON = Fails("body is not valid JSON")
# Each shape goes to all three endpoints; "until_stale" runs the whole cycle for one
# representative of each kind, the others stop once kept-and-named is shown.
SHAPES: dict[str, tuple[bytes, Expectation, bool]] = {
    "empty_body": (b"", NOT_JSON, True),
    "json_null": (b"null", NOT_AN_ARRAY, False),
    "json_string": (b'"[]"', NOT_AN_ARRAY, False),
    "json_number": (b"42", NOT_AN_ARRAY, False),
    "json_object": (b'{"data": []}', NOT_AN_ARRAY, False),
    "nan_is_not_json": (b'[{"active_tickets": NaN}]', NOT_JSON, False),
    "deeply_nested": (b"[" * 200_000 + b"]" * 200_000, NOT_JSON, True),
    "declared_too_long": (b"[" + b" " * (SMALL_CAP + 10) + b"]", Fails("body larger than"), True),
    "nested_garbage": (
        json.dumps([[1, [2, [3, {"a": None}]]], "text", None, True, 4.5, []]).encode(),
        Reads(records=0, reason="not_an_object"),
        True,
    ),
    "nested_values": (
        json.dumps(
            [
                {"country": {"a": [1]}, "provider": ["x"], "bandwidth": {}, "response_time": []},
                {"topic": [], "active_tickets": {"n": 1}, "status": {"s": "active"}},
            ]
        ).encode(),
        Reads(records=0, reason="wrong_type"),
        False,
    ),
    "keys_missing": (
        json.dumps([{}, {"unrelated": 1}]).encode(),
        Reads(records=0, reason="missing_key"),
        False,
    ),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_wrong_shape(bench: Bench, shape: str) -> None:
    """A body of a wrong shape on every HTTP source: failed or skipped, never a crash."""
    body, expectation, until_stale = SHAPES[shape]
    check_fault(
        bench.probe,
        bench.baseline,
        dict.fromkeys(ENDPOINTS, expectation),
        lambda: bench.serve_everywhere(body),
        bench.serve_good,
        until_stale=until_stale,
    )


# Bodies that crashed statusd when this suite was written (docs/reliability.md, "Bugs found
# and fixed"): values JSON decodes but cannot encode again. They are skipped records now.
HOSTILE_BODIES: dict[str, tuple[str, bytes]] = {
    "incident_lone_surrogate": ("accendent", b'[{"topic": "\\ud800", "status": "active"}]'),
    "support_lone_surrogate": ("support", b'[{"topic": "\\udfff", "active_tickets": 1}]'),
    "support_huge_ticket_count": (
        "support",
        b'[{"topic": "t", "active_tickets": ' + b"9" * 4300 + b"}]",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE_BODIES))
def test_hostile_body_does_not_kill_statusd(
    tmp_path_factory: pytest.TempPathFactory, case: str
) -> None:
    """A body that decodes to values JSON cannot encode again must not end the process."""
    endpoint, body = HOSTILE_BODIES[case]
    workdir = tmp_path_factory.mktemp(case)
    data = workdir / "data"
    write_simulated_files(data)
    with run_body_server(workdir / "bodies") as server:
        for name, items in GOOD_BODIES.items():
            server.put(name, json.dumps(items).encode())
        server.put(endpoint, body)
        with launch_statusd(
            workdir,
            "--data-dir",
            str(data),
            "--source-url",
            server.url,
            "--state-dir",
            str(workdir / "state"),
            *FAST,
        ) as statusd:
            probe = Probe(statusd)
            try:
                # Four collection rounds and a state write (paced at about one a second).
                end = time.monotonic() + 3.0
                while time.monotonic() < end:
                    probe.healthy()
                    assert json.loads(probe.api())["status"] in (True, False)
                    time.sleep(0.1)
                assert "Traceback" not in statusd.log()
            finally:
                probe.close()
