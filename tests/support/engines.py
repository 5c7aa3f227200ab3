"""The same test on both storage engines (SPEC §11): a fixture parametrized over
``ENGINES`` takes a new empty database of each from ``engine_url``."""

from __future__ import annotations

from pathlib import Path

import pytest

from statusd.storage.url import DatabaseUrl, sqlite_url
from tests.support.postgres import PostgresServer

ENGINES = ["sqlite", "postgresql"]


def engine_url(engine: str, request: pytest.FixtureRequest, tmp_path: Path) -> DatabaseUrl:
    """A new empty database of ``engine``: an SQLite file in ``tmp_path``, or a PostgreSQL
    database on the session's throwaway server (the ``postgres`` fixture)."""
    if engine == "sqlite":
        return sqlite_url(tmp_path / "history.sqlite3")
    server: PostgresServer = request.getfixturevalue("postgres")
    return DatabaseUrl("postgresql", server.create_database())
