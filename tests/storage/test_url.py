"""``database_url`` (SPEC §11): the two dialects, the default, and errors without passwords."""

from __future__ import annotations

from pathlib import Path

import pytest

from statusd.config import ConfigError, build_settings
from statusd.storage.url import parse_database_url

DEFAULT = Path("state/history.sqlite3")


def test_empty_means_the_history_file() -> None:
    url = parse_database_url("", default_path=DEFAULT)
    assert (url.dialect, url.path, url.shared) == ("sqlite", DEFAULT, False)


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("sqlite:///state/h.db", Path("state/h.db")),
        ("sqlite:////var/lib/s/h.db", Path("/var/lib/s/h.db")),
    ],
)
def test_sqlite_paths_relative_and_absolute(text: str, path: Path) -> None:
    url = parse_database_url(text, default_path=DEFAULT)
    assert (url.dialect, url.path) == ("sqlite", path)
    assert url.redacted() == text


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_postgresql_keeps_the_url_and_redacts_the_password(scheme: str) -> None:
    text = f"{scheme}://statusd:s3cret@db.example:5433/status?sslmode=require"
    url = parse_database_url(text, default_path=DEFAULT)
    assert (url.dialect, url.target, url.shared) == ("postgresql", text, True)
    assert "s3cret" not in url.redacted()
    assert "s3cret" not in str(url)
    assert url.redacted() == f"{scheme}://statusd:***@db.example:5433/status?sslmode=require"
    with pytest.raises(ValueError, match="no file path"):
        _ = url.path


@pytest.mark.parametrize(
    "text",
    [
        "mysql://u:pw@h/db",
        "sqlite://relative.db",
        "sqlite:///",
        "postgresql://u:pw@h:notaport/db",
        "postgresql:///db",
        "/var/lib/statusd/h.db",
    ],
)
def test_anything_else_is_refused_without_the_password(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build_settings([("environment", {"database_url": text})])
    message = str(caught.value)
    assert message.startswith("setting database_url (environment): ")
    assert "pw" not in message


def test_settings_database_follows_history_db() -> None:
    settings = build_settings([("flag", {"state_dir": "/srv/st"})])
    assert settings.database.path == Path("/srv/st/history.sqlite3")
    settings = build_settings([("flag", {"database_url": "postgresql://u@127.0.0.1/s"})])
    assert settings.database.dialect == "postgresql"
