"""``statusd maintenance add|list|remove`` through its entry point."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from statusd.maintenance.cli import main
from statusd.maintenance.file import load_windows

ADD = [
    "add",
    "--id",
    "sms-de",
    "--title",
    "SMS to Germany",
    "--start",
    "2026-03-01T02:00:00+01:00",
    "--end",
    "2026-03-01T04:00:00+01:00",
    "--products",
    "sms,billing",
    "--countries",
    "DE",
    "--functions",
    "payout",
]
NOW = 1_772_330_400.0  # 2026-03-01T02:00:00Z: sms-de is running


def run(path: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--file", str(path), *argv], stdout=out, stderr=err, clock=lambda: NOW)
    return code, out.getvalue(), err.getvalue()


def test_add_list_remove(tmp_path: Path) -> None:
    path = tmp_path / "maintenance.toml"
    code, out, _ = run(path, *ADD)
    assert code == 0
    assert out.startswith("added sms-de: SMS in Germany (DE); Billing: Payout")
    (window,) = load_windows(path)
    assert (window.products, window.countries, window.functions) == (
        ("sms", "billing"),
        ("DE",),
        ("payout",),
    )
    code, out, _ = run(
        path,
        "add",
        "--id",
        "all",
        "--title",
        "All",
        "--start",
        "2026-04-01T00:00:00Z",
        "--end",
        "2026-04-01T01:00:00Z",
        "--products",
        "all",
        "--countries",
        "all",
    )
    assert code == 0
    code, out, _ = run(path, "list", "--json")
    listed = json.loads(out)
    assert [(w["id"], w["status"]) for w in listed] == [
        ("sms-de", "in_progress"),
        ("all", "scheduled"),
    ]
    assert listed[1]["products"] == []
    assert listed[1]["countries"] == []
    code, out, _ = run(path, "list")
    assert out.splitlines()[0].startswith("sms-de  in_progress  2026-03-01T02:00:00+01:00")
    code, out, _ = run(path, "remove", "sms-de")
    assert code == 0
    assert out == "removed sms-de: SMS to Germany\n"
    assert [w.id for w in load_windows(path)] == ["all"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("--end", "2026-03-01T01:00:00+01:00"), "window 1 (sms-de): key 'end'"),
        (("--start", "2026-03-01 02:00"), "key 'start'"),
        (("--countries", "XX"), "unknown country 'XX'"),
        (("--products", "fax"), "unknown product 'fax'"),
        (("--id", "Bad Id"), "not a safe id"),
    ],
)
def test_add_refuses_an_invalid_window_and_writes_nothing(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    path = tmp_path / "maintenance.toml"
    argv = list(ADD)
    argv[argv.index(change[0]) + 1] = change[1]
    code, out, err = run(path, *argv)
    assert code == 1
    assert out == ""
    assert err.startswith("statusd maintenance: ")
    assert message in err
    assert not path.exists()


def test_duplicate_and_unknown_ids_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "maintenance.toml"
    run(path, *ADD)
    before = path.read_bytes()
    assert run(path, *ADD)[0] == 1
    code, _, err = run(path, "remove", "nope")
    assert code == 1
    assert "no window with id 'nope'" in err
    assert path.read_bytes() == before


def test_list_of_a_missing_file_and_an_invalid_file(tmp_path: Path) -> None:
    path = tmp_path / "maintenance.toml"
    assert run(path, "list") == (0, f"no maintenance windows in {path}\n", "")
    path.write_text("[[maintenance]]\nid = 1\n")
    code, _, err = run(path, "list")
    assert code == 1
    assert f"maintenance file {path}: window 1: missing key 'title'" in err


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as caught:
        run(tmp_path / "m.toml", "add", "--id", "x")
    assert caught.value.code == 2


def test_statusd_maintenance_uses_the_file_the_settings_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`statusd maintenance …` edits <state_dir>/maintenance.toml of the settings (TOML file
    and STATUSD_*), and --file overrides it."""
    from statusd.cli import main as statusd_main

    config = tmp_path / "statusd.toml"
    config.write_text(f'state_dir = "{tmp_path / "state"}"\n')
    monkeypatch.setenv("STATUSD_CONFIG", str(config))
    assert statusd_main(["maintenance", *ADD]) == 0
    assert [w.id for w in load_windows(tmp_path / "state" / "maintenance.toml")] == ["sms-de"]
    capsys.readouterr()
    monkeypatch.setenv("STATUSD_MAINTENANCE_FILE", str(tmp_path / "env.toml"))
    assert statusd_main(["maintenance", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    other = tmp_path / "other.toml"
    assert statusd_main(["maintenance", "--file", str(other), *ADD]) == 0
    assert [w.id for w in load_windows(other)] == ["sms-de"]


def test_statusd_maintenance_reports_a_bad_setting(tmp_path: Path) -> None:
    """A settings problem is one line on stderr and exit 2, nothing written."""
    from statusd.maintenance.cli import statusd_main

    err = io.StringIO()
    environ = {"STATUSD_CONFIG": str(tmp_path / "missing.toml")}
    assert statusd_main(["list"], environ, stdout=io.StringIO(), stderr=err) == 2
    assert err.getvalue().startswith("statusd maintenance: config file ")
    assert "does not exist" in err.getvalue()
