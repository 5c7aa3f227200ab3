"""The systemd units, their example configuration and `make install`.

`systemd-analyze verify` must be clean and `systemd-analyze security --offline=yes` must
rate statusd.service at exposure 2.0 or lower. Verification runs against a temporary root
holding the host's unit directory and stand-ins for the installed executables, so it
checks everything (including ExecStart=) without statusd being installed in /opt.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import fields
from pathlib import Path

import pytest

from statusd.cli import load_settings
from statusd.config import PARSERS
from statusd.verdicts.rules import VerdictThresholds

ROOT = Path(__file__).resolve().parent.parent
SYSTEMD = ROOT / "systemd"
UNITS = ("statusd.service", "statusd-sim.service")
MAX_EXPOSURE = 2.0
SYSTEM_UNIT_DIRS = (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system"))
EXECUTABLES = ("/opt/statusd/venv/bin/statusd", "/opt/statusd/venv/bin/statusd-sim")

needs_systemd_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed (package systemd); the unit checks need it",
)


def directives(unit: str) -> list[tuple[str, str, str]]:
    """(section, key, value) of every assignment in a unit file, in order."""
    section = ""
    found = []
    for raw in (SYSTEMD / unit).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{unit}: not an assignment: {raw!r}"
        found.append((section, key.strip(), value.strip()))
    return found


def values(unit: str, key: str, section: str = "Service") -> list[str]:
    return [v for s, k, v in directives(unit) if (s, k) == (section, key)]


def single(unit: str, key: str, section: str = "Service") -> str:
    found = values(unit, key, section)
    assert len(found) == 1, f"{unit}: expected one {key}=, found {found}"
    return found[0]


def exec_args(unit: str) -> list[str]:
    return single(unit, "ExecStart").split()


def flag(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


# --- what the issue asks of the units (no systemd needed) --------------------------------------


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("Type", "notify"),
        ("NotifyAccess", "main"),
        ("Restart", "on-failure"),
        ("DynamicUser", "yes"),
        ("StateDirectory", "statusd"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("NoNewPrivileges", "yes"),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("CapabilityBoundingSet", ""),
        ("EnvironmentFile", "-/etc/statusd/statusd.env"),
    ],
)
def test_statusd_unit_directive(key: str, expected: str) -> None:
    """statusd.service sets what the issue requires."""
    assert single("statusd.service", key) == expected


def test_statusd_unit_limits_and_filters() -> None:
    """A watchdog, a memory cap and the @system-service syscall allow-list are set."""
    assert re.fullmatch(r"\d+s", single("statusd.service", "WatchdogSec"))
    assert re.fullmatch(r"\d+[KMG]", single("statusd.service", "MemoryMax"))
    assert "@system-service" in values("statusd.service", "SystemCallFilter")


def test_statusd_runs_the_installed_binary_with_the_config() -> None:
    """ExecStart is the venv's console script reading /etc/statusd/statusd.toml."""
    args = exec_args("statusd.service")
    assert args[0] == EXECUTABLES[0]
    assert flag(args, "--config") == "/etc/statusd/statusd.toml"


def test_data_directory_is_shared_read_only() -> None:
    """statusd's config, the simulator's --data-dir and the bind mount name one directory.

    The simulator writes into its DynamicUser state directory (really below
    /var/lib/private); statusd gets that real directory bind-mounted read-only.
    """
    config = tomllib.loads((SYSTEMD / "statusd.toml").read_text(encoding="utf-8"))
    sim_data = flag(exec_args("statusd-sim.service"), "--data-dir")
    assert config["data_dir"] == sim_data
    sim_state = single("statusd-sim.service", "StateDirectory")
    assert sim_data.startswith(f"/var/lib/{sim_state}/")
    assert values("statusd.service", "BindReadOnlyPaths") == [f"-/var/lib/private/{sim_state}"]
    assert values("statusd.service", "ReadWritePaths") == []
    # The simulator's files must be readable by statusd's (different) transient user.
    assert single("statusd-sim.service", "UMask") == "0022"
    assert single("statusd-sim.service", "StateDirectoryMode") == "0755"


def test_state_dir_is_the_state_directory() -> None:
    """The configured state_dir is the one systemd creates and makes writable."""
    config = tomllib.loads((SYSTEMD / "statusd.toml").read_text(encoding="utf-8"))
    assert config["state_dir"] == "/var/lib/" + single("statusd.service", "StateDirectory")


def test_simulator_listens_where_statusd_looks() -> None:
    """The simulator serves on statusd's default source URL, on loopback."""
    args = exec_args("statusd-sim.service")
    assert args[0] == EXECUTABLES[1]
    assert flag(args, "--listen") == "127.0.0.1:8383"
    settings, _ = load_settings(["--config", str(SYSTEMD / "statusd.toml")], {})
    assert settings.source_url == "http://" + flag(args, "--listen")


# --- the example configuration ------------------------------------------------------------------


def uncommented(text: str) -> str:
    """The example with every commented-out setting (``#key = value``, ``#[table]``) enabled."""
    return re.sub(r"(?m)^#(\[[a-z_]+\]|[a-z_]+ = )", r"\1", text)


def test_example_config_is_valid(tmp_path: Path) -> None:
    """As shipped, and with every example line enabled, the config passes --check-config."""
    shipped = SYSTEMD / "statusd.toml"
    settings, check = load_settings(["--config", str(shipped), "--check-config"], {})
    assert check
    assert str(settings.data_dir) == "/var/lib/statusd-sim/data"
    everything = tmp_path / "all.toml"
    everything.write_text(uncommented(shipped.read_text(encoding="utf-8")), encoding="utf-8")
    settings, _ = load_settings(["--config", str(everything)], {})
    assert settings.history_db == Path("/var/lib/statusd/history.sqlite3")


def test_example_config_lists_every_setting() -> None:
    """Every setting statusd knows, and every verdict threshold, appears in the example."""
    document = tomllib.loads(uncommented((SYSTEMD / "statusd.toml").read_text(encoding="utf-8")))
    assert set(document) == set(PARSERS)
    assert set(document["verdicts"]) == {f.name for f in fields(VerdictThresholds)}


def test_example_environment_file() -> None:
    """The EnvironmentFile example only holds commented STATUSD_* assignments."""
    lines = (SYSTEMD / "statusd.env").read_text(encoding="utf-8").splitlines()
    assert all(not line or line.startswith("#") for line in lines)
    names = {m[1] for line in lines if (m := re.match(r"#(STATUSD_[A-Z_]+)=", line))}
    assert "STATUSD_OPTS" in names
    for name in names - {"STATUSD_OPTS"}:
        assert name.removeprefix("STATUSD_").lower() in PARSERS


# --- systemd-analyze -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def unit_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file system root with the host's units, our units and stand-in executables."""
    root = tmp_path_factory.mktemp("unit-root")
    source = next((d for d in SYSTEM_UNIT_DIRS if (d / "sysinit.target").exists()), None)
    assert source is not None, f"no systemd unit directory among {SYSTEM_UNIT_DIRS}"
    shutil.copytree(source, root / "usr/lib/systemd/system", symlinks=True)
    etc = root / "etc/systemd/system"
    etc.mkdir(parents=True)
    for unit in UNITS:
        shutil.copy(SYSTEMD / unit, etc / unit)
    for executable in EXECUTABLES:
        stub = root / executable.lstrip("/")
        stub.parent.mkdir(parents=True, exist_ok=True)
        stub.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
        stub.chmod(0o755)
    return root


def verify(root: Path, unit: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", "verify", f"--root={root}", "--man=no", unit],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@needs_systemd_analyze
@pytest.mark.parametrize("unit", UNITS)
def test_verify_is_clean(unit_root: Path, unit: str) -> None:
    """`systemd-analyze verify` accepts the unit without a single message."""
    result = verify(unit_root, unit)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@needs_systemd_analyze
def test_verify_catches_mistakes(unit_root: Path) -> None:
    """The same check reports a misspelt directive, a bad value and a missing binary."""
    text = (SYSTEMD / "statusd.service").read_text(encoding="utf-8")
    broken = (
        text.replace("LockPersonality=yes", "LockPersonalty=yes")
        .replace("WatchdogSec=30s", "WatchdogSec=soon")
        .replace(EXECUTABLES[0], "/opt/statusd/venv/bin/missing")
    )
    assert broken != text
    path = unit_root / "etc/systemd/system/broken.service"
    path.write_text(broken, encoding="utf-8")
    try:
        result = verify(unit_root, "broken.service")
    finally:
        path.unlink()
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "LockPersonalty" in output
    assert "soon" in output
    assert "/opt/statusd/venv/bin/missing" in output


def exposure(unit: str) -> float:
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--no-pager", str(SYSTEMD / unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", result.stdout)
    assert match, f"no exposure line in:\n{result.stdout}{result.stderr}"
    return float(match[1])


@needs_systemd_analyze
@pytest.mark.parametrize("unit", UNITS)
def test_security_exposure(unit: str) -> None:
    """`systemd-analyze security --offline=yes` rates each unit 2.0 or lower."""
    assert exposure(unit) <= MAX_EXPOSURE


# --- make install ---------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_install_dry_run() -> None:
    """`make -n install` installs the package, the units and the config (never overwriting it)."""
    result = subprocess.run(
        ["make", "-n", "-s", "-f", "mk/install.mk", "install"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    plan = result.stdout
    assert "-m venv /opt/statusd/venv" in plan
    assert "/opt/statusd/venv/bin/python -m pip install" in plan
    assert "-e ." not in plan  # a real install, not an editable one
    for unit in UNITS:
        assert f"systemd/{unit}" in plan
    assert "/etc/systemd/system" in plan
    assert (
        "test -e /etc/statusd/statusd.toml || install -m 0644 systemd/statusd.toml "
        "/etc/statusd/statusd.toml" in plan
    )
    assert "--check-config --config /etc/statusd/statusd.toml" in plan
    assert "systemctl daemon-reload" in plan


def test_wheel_contains_the_web_assets(tmp_path: Path) -> None:
    """A non-editable build ships web/ as statusd/web, so an installed statusd has its page."""
    pytest.importorskip("hatchling", reason="building the wheel offline needs hatchling")
    result = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"),
            *("-w", str(tmp_path), str(ROOT)),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    (wheel,) = tmp_path.glob("statusd-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    web = [
        p.relative_to(ROOT / "web").as_posix()
        for p in (ROOT / "web").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and not p.name.startswith(".")
    ]
    assert "index.html" in web
    missing = sorted(name for name in web if f"statusd/web/{name}" not in names)
    assert missing == []
    assert "statusd/systemd.py" in names
    assert "statusd/collect/_bigparse_child.py" in names  # subpackages, the worker program
    catalogs = sorted(p.name for p in (ROOT / "statusd/i18n/catalogs").glob("*.json"))
    assert catalogs  # package data: the languages (SPEC §10)
    assert [n for n in catalogs if f"statusd/i18n/catalogs/{n}" not in names] == []


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_install_refuses_a_python_the_sandbox_cannot_run(tmp_path: Path) -> None:
    """An interpreter below /root, /home or /tmp (pyenv, a checkout's venv) is refused first.

    ProtectHome=yes and PrivateTmp=yes hide those trees from the service, so a venv built
    on such an interpreter could never start; nothing is written before the check.
    """
    python = tmp_path / "python3"
    python.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n', encoding="utf-8")
    python.chmod(0o755)
    prefix = tmp_path / "opt"
    result = subprocess.run(
        [
            *("make", "-s", "-f", "mk/install.mk", "install", "INSTALL_REQUIRE_ROOT=0"),
            *(f"INSTALL_PYTHON={python}", f"STATUSD_PREFIX={prefix}"),
            *(f"SYSCONFDIR={tmp_path / 'etc'}", f"UNITDIR={tmp_path / 'units'}"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "statusd's sandbox cannot run it" in result.stderr
    assert not prefix.exists()
