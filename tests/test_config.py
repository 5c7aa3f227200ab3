"""Settings precedence and validation (SPEC §5)."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import pytest

from statusd.cli import load_settings, main
from statusd.config import ConfigError, Listen, build_settings
from statusd.environ import ENV_SETTINGS, UnknownVariable, unknown_environ, warn_unknown_environ

ROOT = Path(__file__).resolve().parents[1]


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_defaults() -> None:
    """With nothing set, the defaults of SPEC §5 apply; stale_after is 3 × interval."""
    settings, check = load_settings([], {})
    assert settings.listen == Listen("127.0.0.1", 8080)
    assert settings.data_dir == Path("data")
    assert settings.source_url == "http://127.0.0.1:8383"
    assert (settings.interval, settings.deadline, settings.stale_after) == (30, 5, 90)
    assert settings.state_file == Path("state/last-good.json")
    assert settings.incident_path == "/accendent"
    assert settings.log_level == "info"
    assert check is False


def test_precedence_defaults_toml_env_flags(tmp_path: Path) -> None:
    """Each layer overrides the one below it, setting by setting."""
    config = write(
        tmp_path / "s.toml",
        'interval = 10\ndeadline = 2\nlisten = "127.0.0.1:9000"\nmms_path = "/v2/mms"\n',
    )
    env = {"STATUSD_CONFIG": str(config), "STATUSD_INTERVAL": "20", "STATUSD_DEADLINE": "3"}
    settings, _ = load_settings(["--deadline", "4"], env)
    assert settings.interval == 20  # env over TOML
    assert settings.deadline == 4  # flag over env
    assert settings.listen == Listen("127.0.0.1", 9000)  # TOML over default
    assert settings.mms_path == "/v2/mms"
    assert settings.stale_after == 60  # derived from the final interval


@pytest.mark.parametrize(
    ("argv", "env", "toml", "expected"),
    [
        (["--interval", "1"], {}, "", (1, 1, 3)),
        (["--interval", "2.5"], {}, "", (2.5, 2.5, 7.5)),
        (["--interval", "60"], {}, "", (60, 5, 180)),
        ([], {"STATUSD_INTERVAL": "1"}, "", (1, 1, 3)),
        ([], {}, "interval = 0.5\n", (0.5, 0.5, 1.5)),
        (["--interval", "1", "--deadline", "0.4"], {}, "", (1, 0.4, 3)),
    ],
    ids=["flag_1", "flag_2.5", "flag_60", "env_1", "toml_0.5", "explicit_deadline"],
)
def test_deadline_and_stale_after_follow_the_interval(
    tmp_path: Path,
    argv: list[str],
    env: dict[str, str],
    toml: str,
    expected: tuple[float, float, float],
) -> None:
    """Unset, deadline is min(5, interval) and stale_after 3 × interval, wherever the
    interval comes from: a faster interval alone is never an error (SPEC §5)."""
    config = write(tmp_path / "s.toml", toml)
    settings, _ = load_settings(argv, {**env, "STATUSD_CONFIG": str(config)})
    assert (settings.interval, settings.deadline, settings.stale_after) == expected


@pytest.mark.parametrize(
    ("argv", "env", "toml", "where"),
    [
        (["--interval", "1", "--deadline", "2"], {}, "", "flag"),
        (["--interval", "1"], {"STATUSD_DEADLINE": "2"}, "", "environment"),
        (["--interval", "1"], {}, "deadline = 2\n", "config file"),
    ],
    ids=["flag", "env", "toml"],
)
def test_explicit_deadline_above_interval_exits_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    env: dict[str, str],
    toml: str,
    where: str,
) -> None:
    """A deadline set above the interval stays an error: exit 2, one line naming both and
    where the deadline came from."""
    config = write(tmp_path / "s.toml", toml)
    for name, value in {**env, "STATUSD_CONFIG": str(config)}.items():
        monkeypatch.setenv(name, value)
    assert main(argv) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"statusd: setting deadline ({where}")
    assert lines[0].endswith("2 s must not exceed interval (1 s)")


def test_state_dir_moves_state_file_and_history(tmp_path: Path) -> None:
    """The state file and history database live in the state directory unless set."""
    settings, _ = load_settings(["--state-dir", str(tmp_path)], {})
    assert settings.state_file == tmp_path / "last-good.json"
    assert settings.history_db == tmp_path / "history.sqlite3"
    assert settings.maintenance_file == tmp_path / "maintenance.toml"


def test_maintenance_file_can_be_set_apart_from_the_state_dir(tmp_path: Path) -> None:
    """maintenance_file set explicitly wins over the state directory's default."""
    environ = {"STATUSD_MAINTENANCE_FILE": str(tmp_path / "planned.toml")}
    settings, _ = load_settings(["--state-dir", str(tmp_path / "state")], environ)
    assert settings.maintenance_file == tmp_path / "planned.toml"


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--listen", "nonsense"], {}, "setting listen (flag): expected HOST:PORT"),
        (["--listen", "127.0.0.1:99999"], {}, "port must be 0-65535"),
        (["--listen", "example.com:80"], {}, "host must be an IP address"),
        (["--interval", "-1"], {}, "setting interval (flag): must be > 0"),
        ([], {"STATUSD_INTERVAL": "soon"}, "setting interval (environment): expected a number"),
        (["--source-url", "ftp://x"], {}, "expected an http:// or https:// URL"),
        (["--log-level", "loud"], {}, "expected one of debug, info, warning, error"),
        (["--interval", "5", "--deadline", "6"], {}, "deadline (flag): 6 s must not exceed"),
        (["--interval", "10", "--stale-after", "5"], {}, "stale_after (5 s) must be at least"),
        (["--config", "/nonexistent/statusd.toml"], {}, "does not exist"),
    ],
)
def test_bad_settings_name_the_setting(argv: list[str], env: dict[str, str], message: str) -> None:
    """A bad value raises ConfigError naming the setting and where it came from."""
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings(argv, env)


def test_unknown_toml_key_is_rejected(tmp_path: Path) -> None:
    """A typo in the config file is an error naming the key, not silently ignored."""
    config = write(tmp_path / "s.toml", "intervall = 10\n")
    with pytest.raises(ConfigError, match="unknown setting 'intervall'"):
        load_settings(["--config", str(config)], {})


def test_invalid_toml_is_rejected(tmp_path: Path) -> None:
    config = write(tmp_path / "s.toml", "interval = = 3\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(["--config", str(config)], {})


def test_main_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """A bad setting exits 2 with exactly one line on stderr, before starting anything."""
    assert main(["--interval", "-5"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("statusd: setting interval")


def test_unknown_flag_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--intervall", "5"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_check_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--check-config validates and exits 0 without starting anything."""
    config = write(tmp_path / "s.toml", "interval = 10\n")
    assert main(["--config", str(config), "--check-config"]) == 0
    assert "valid" in capsys.readouterr().err
    bad = write(tmp_path / "bad.toml", "interval = -1\n")
    assert main(["--config", str(bad), "--check-config"]) == 2


# --- unknown STATUSD_* environment variables ---------------------------------------------------


@pytest.mark.parametrize(
    ("name", "nearest"),
    [
        ("STATUSD_INTERAVL", "STATUSD_INTERVAL"),
        ("STATUSD_DEADLIEN", "STATUSD_DEADLINE"),
        ("STATUSD_STATEDIR", "STATUSD_STATE_DIR"),
        ("STATUSD_log_level", "STATUSD_LOG_LEVEL"),
        ("STATUSD_CONFIGG", "STATUSD_CONFIG"),
        ("STATUSD_OPT", "STATUSD_OPTS"),
        ("STATUSD_XYZZY", None),
    ],
)
def test_unknown_variable_names_the_nearest_known_one(name: str, nearest: str | None) -> None:
    assert unknown_environ({name: "5"}) == [UnknownVariable(name, nearest)]


def test_known_and_foreign_variables_are_not_reported() -> None:
    """Settings, STATUSD_CONFIG, the project's own non-settings and other prefixes pass."""
    environ = dict.fromkeys(ENV_SETTINGS, "1") | {
        "STATUSD_CONFIG": "/etc/statusd/statusd.toml",
        "STATUSD_OPTS": "--log-format json",
        "STATUSD_NGINX_LISTEN": "80",
        "STATUSD_CACHE_DIR": "/var/cache/nginx/statusd",
        "PATH": "/usr/bin",
        "XSTATUSD_INTERAVL": "5",
    }
    assert unknown_environ(environ) == []


def test_a_table_setting_in_the_environment_points_to_the_file() -> None:
    [unknown] = unknown_environ({"STATUSD_VERDICTS": "x"})
    assert unknown.hint == "verdicts is set in the config file only"
    assert "config file only" in str(unknown)


def test_the_projects_own_statusd_names_are_known() -> None:
    """Every STATUSD_* name the examples put in an environment (systemd units and env files,
    the nginx example's envsubst names, install.mk's overridable variables) is known, so
    following the docs never logs a warning."""
    texts = [path.read_text(encoding="utf-8") for path in (ROOT / "systemd").iterdir()]
    texts.append((ROOT / "bench" / "nginx-cache.conf").read_text(encoding="utf-8"))
    names = {name for text in texts for name in re.findall(r"\bSTATUSD_[A-Z0-9_]+", text)}
    install = (ROOT / "mk" / "install.mk").read_text(encoding="utf-8")
    names |= set(re.findall(r"(?m)^(STATUSD_[A-Z0-9_]+) \?=", install))
    assert {"STATUSD_OPTS", "STATUSD_UPSTREAM_A", "STATUSD_PREFIX"} <= names
    assert unknown_environ(dict.fromkeys(names, "")) == []


def test_unknown_variables_are_logged_one_warning_each(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="statusd")
    warn_unknown_environ({"STATUSD_INTERAVL": "5", "STATUSD_XYZZY": "1", "STATUSD_INTERVAL": "5"})
    records = [
        (r.levelname, r.__dict__.get("variable"), r.__dict__.get("did_you_mean"))
        for r in caplog.records
    ]
    assert records == [
        ("WARNING", "STATUSD_INTERAVL", "STATUSD_INTERVAL"),
        ("WARNING", "STATUSD_XYZZY", None),
    ]


def test_check_config_warns_about_unknown_variables(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--check-config says it too, and the configuration is still valid (exit 0)."""
    for name in [name for name in os.environ if name.startswith("STATUSD_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("STATUSD_INTERAVL", "5")
    assert main(["--check-config"]) == 0
    assert capsys.readouterr().err.splitlines() == [
        "statusd: warning: environment variable STATUSD_INTERAVL is not a setting and is "
        "ignored (did you mean STATUSD_INTERVAL?)",
        "statusd: configuration is valid",
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"smtp_url": "smtp://relay:25", "mail_from": "status@example.com"}, "smtp://relay:25"),
        (
            {"smtp_url": "smtp+starttls://u:p@relay:587", "mail_from": "s@example.com"},
            "smtp+starttls://u:p@relay:587",
        ),
        ({"smtp_url": "smtps://relay:465", "mail_from": "s@example.com"}, "smtps://relay:465"),
        ({}, ""),
    ],
)
def test_smtp_url_schemes(raw: dict[str, str], expected: str) -> None:
    """The three relay schemes of SPEC §8 are taken; without smtp_url email is off."""
    assert build_settings([("flag", raw)]).smtp_url == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"smtp_url": "http://relay"}, "setting smtp_url (flag): expected smtp://"),
        ({"smtp_url": "smtp://relay:99999", "mail_from": "a@b.c"}, "setting smtp_url (flag)"),
        ({"smtp_url": "smtp://relay"}, "setting mail_from is required with smtp_url"),
        ({"mail_from": "a@b.c\r\nBcc: x@y.z"}, "setting mail_from (flag): expected one"),
        ({"webhook_allow_private": "maybe"}, "setting webhook_allow_private (flag): expected"),
        ({"subscribe_rate": "0"}, "setting subscribe_rate (flag): must be >= 1"),
        ({"notify_hold": "-1"}, "setting notify_hold (flag): must be > 0"),
        ({"trusted_proxies": "127.0.0.1, nginx"}, "setting trusted_proxies (flag): expected an IP"),
        ({"trusted_proxies": 5}, "setting trusted_proxies (flag): expected a list"),
    ],
)
def test_notification_settings_are_validated(raw: dict[str, str], message: str) -> None:
    """A bad relay, a header-injecting From, a bad flag or count names the setting."""
    with pytest.raises(ConfigError, match=re.escape(message)):
        build_settings([("flag", raw)])


@pytest.mark.parametrize(("text", "value"), [("true", True), ("0", False), ("off", False)])
def test_boolean_settings_from_the_environment(text: str, value: bool) -> None:
    settings, _ = load_settings([], {"STATUSD_WEBHOOK_ALLOW_HTTP": text})
    assert settings.webhook_allow_http is value


@pytest.mark.parametrize(
    ("layer", "value", "expected"),
    [
        ("environment", "10.0.0.0/8, ::1", ("10.0.0.0/8", "::1")),
        ("environment", "", ()),
        ("config file", ["192.0.2.1"], ("192.0.2.1",)),
        ("config file", [], ()),
    ],
)
def test_trusted_proxies(layer: str, value: object, expected: tuple[str, ...]) -> None:
    """A TOML list or a comma-separated variable; empty trusts no proxy."""
    assert build_settings([(layer, {"trusted_proxies": value})]).trusted_proxies == expected
    assert build_settings([]).trusted_proxies == ("127.0.0.1", "::1")
