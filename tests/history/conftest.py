"""The history's tests run on both engines (SPEC §11): ``url`` is a fresh SQLite file or a
fresh PostgreSQL database of the session's throwaway server."""

from __future__ import annotations

from pathlib import Path

import pytest

from statusd.storage.url import DatabaseUrl, sqlite_url
from tests.support.postgres import PostgresServer


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> DatabaseUrl:
    """Where a test's history lives: an empty database on each engine in turn."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "state" / "history.sqlite3")
    server: PostgresServer = request.getfixturevalue("postgres")
    return DatabaseUrl("postgresql", server.create_database())
