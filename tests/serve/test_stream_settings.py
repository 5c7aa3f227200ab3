"""``max_event_streams`` (issue 16): read from every layer, and enough file descriptors for
the limits, or statusd refuses to start."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

from statusd.cli import load_settings
from statusd.config import ConfigError
from statusd.serve.streams import FD_MARGIN, descriptors_needed


def test_max_event_streams_from_toml_env_and_flag(tmp_path: Path) -> None:
    """Defaults < TOML < env < flag, as for every setting; 0 (streams off) is allowed."""
    config = tmp_path / "statusd.toml"
    config.write_text("max_event_streams = 7\n")
    assert load_settings([], {})[0].max_event_streams == 5000
    assert load_settings(["--config", str(config)], {})[0].max_event_streams == 7
    env = {"STATUSD_CONFIG": str(config), "STATUSD_MAX_EVENT_STREAMS": "8"}
    assert load_settings([], env)[0].max_event_streams == 8
    assert load_settings(["--max-event-streams", "0"], env)[0].max_event_streams == 0


def test_negative_max_event_streams_is_refused() -> None:
    with pytest.raises(ConfigError, match="max_event_streams"):
        load_settings(["--max-event-streams", "-1"], {})


def test_descriptors_needed_counts_connections_streams_and_a_margin() -> None:
    assert descriptors_needed(1000, 5000) == 6000 + FD_MARGIN


def _limit_files(soft: int, hard: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_soft_descriptor_limit_is_raised_to_what_the_limits_need() -> None:
    """A soft limit below the need is raised (up to the hard limit)."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import resource; from statusd.serve.connections import raise_descriptor_limit as r; "
            "print(r(3000), resource.getrlimit(resource.RLIMIT_NOFILE)[0])",
        ],
        preexec_fn=lambda: _limit_files(1024, 4096),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert done.stdout.split() == ["3000", "3000"]


def test_statusd_refuses_to_start_without_enough_descriptors(tmp_path: Path) -> None:
    """A hard limit below max_connections + max_event_streams: exit 2, one line naming
    LimitNOFILE, before anything is started."""
    done = subprocess.run(
        [sys.executable, "-m", "statusd", "--listen", "127.0.0.1:0", "--state-dir", "s"],
        cwd=tmp_path,
        preexec_fn=lambda: _limit_files(1024, 2048),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "LimitNOFILE" in done.stderr
    assert "max_event_streams (5000)" in done.stderr
    assert not (tmp_path / "s").exists()
