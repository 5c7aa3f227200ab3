"""The storage interface behaves the same on SQLite and PostgreSQL (SPEC §11): the same SQL,
transactions, row ids, bytes, and errors in one family."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from statusd.storage.engine import (
    Database,
    StorageConflict,
    StorageUnavailable,
    ddl,
    open_database,
    pyformat,
)
from statusd.storage.url import DatabaseUrl, sqlite_url
from tests.support.postgres import PostgresServer

TABLES = (
    """CREATE TABLE IF NOT EXISTS items (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        weight REAL NOT NULL,
        digest BLOB
    )""",
    """CREATE TABLE IF NOT EXISTS daily (
        cell INTEGER NOT NULL, day INTEGER NOT NULL, up_ms INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (cell, day)
    ) WITHOUT ROWID""",
)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = sqlite_url(tmp_path / "db" / "history.sqlite3")
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        url = DatabaseUrl("postgresql", server.create_database())
    database = open_database(url)
    database.run_ddl(TABLES)
    try:
        yield database
    finally:
        database.close()


def test_insert_returning_ids_and_reading_back(database: Database) -> None:
    with database.transaction(write=True) as conn:
        first = conn.execute(
            "INSERT INTO items (name, weight, digest) VALUES (?, ?, ?) RETURNING id",
            ("a", 0.1, b"\x00\xff"),
        ).fetchone()[0]
        second = conn.execute(
            "INSERT INTO items (name, weight) VALUES (?, ?) RETURNING id", ("b", 1e300)
        ).fetchone()[0]
    assert second > first
    with database.transaction() as conn:
        rows = conn.execute("SELECT name, weight, digest FROM items ORDER BY id").fetchall()
    # DOUBLE PRECISION on PostgreSQL: REAL there would be 4 bytes and lose both values.
    assert [tuple(row) for row in rows] == [("a", 0.1, b"\x00\xff"), ("b", 1e300, None)]


def test_upsert_and_executemany(database: Database) -> None:
    upsert = (
        "INSERT INTO daily (cell, day, up_ms) VALUES (?, ?, ?) "
        "ON CONFLICT (cell, day) DO UPDATE SET up_ms = daily.up_ms + excluded.up_ms"
    )
    with database.transaction(write=True) as conn:
        conn.executemany(upsert, [(1, 10, 500), (1, 10, 250), (2, 10, 3_000_000_000)])
    with database.transaction() as conn:
        rows = conn.execute("SELECT cell, up_ms FROM daily ORDER BY cell").fetchall()
    assert [tuple(row) for row in rows] == [(1, 750), (2, 3_000_000_000)]


def test_percent_and_question_marks_in_literals_are_not_placeholders(database: Database) -> None:
    with database.transaction(write=True) as conn:
        conn.execute("INSERT INTO items (name, weight) VALUES ('50% off?', ?)", (1.0,))
        rows = conn.execute(
            "SELECT name FROM items WHERE name LIKE '%off?' AND weight = ?", (1.0,)
        ).fetchall()
    assert [row[0] for row in rows] == ["50% off?"]


def test_a_raising_block_writes_nothing(database: Database) -> None:
    def insert_then_fail() -> None:
        with database.transaction(write=True) as conn:
            conn.execute("INSERT INTO items (name, weight) VALUES (?, ?)", ("gone", 1.0))
            raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        insert_then_fail()
    with database.transaction() as conn:
        assert conn.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 0


def test_constraint_violation_is_a_conflict_and_rolls_back(database: Database) -> None:
    with database.transaction(write=True) as conn:
        conn.execute("INSERT INTO items (name, weight) VALUES (?, ?)", ("x", 1.0))

    def insert_both() -> None:
        with database.transaction(write=True) as conn:
            conn.execute("INSERT INTO items (name, weight) VALUES (?, ?)", ("y", 1.0))
            conn.execute("INSERT INTO items (name, weight) VALUES (?, ?)", ("x", 2.0))

    with pytest.raises(StorageConflict):
        insert_both()
    with database.transaction() as conn:
        names = [row[0] for row in conn.execute("SELECT name FROM items")]
    assert names == ["x"]


def test_threads_write_without_losing_updates(database: Database) -> None:
    with database.transaction(write=True) as conn:
        conn.execute("INSERT INTO daily (cell, day, up_ms) VALUES (0, 0, 0)")

    def add() -> None:
        for _ in range(20):
            with database.transaction(write=True) as conn:
                conn.execute("UPDATE daily SET up_ms = up_ms + 1 WHERE cell = 0")

    threads = [threading.Thread(target=add) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with database.transaction() as conn:
        assert conn.execute("SELECT up_ms FROM daily WHERE cell = 0").fetchone()[0] == 80


def test_postgresql_outage_is_unavailable_then_recovers(postgres: PostgresServer) -> None:
    database = open_database(DatabaseUrl("postgresql", postgres.create_database()), timeout=2.0)
    try:
        database.run_ddl(TABLES)
        postgres.stop()
        try:
            with pytest.raises(StorageUnavailable), database.transaction(write=True) as conn:
                conn.execute("INSERT INTO items (name, weight) VALUES (?, ?)", ("lost", 1.0))
        finally:
            postgres.start()
        with database.transaction(write=True) as conn:
            conn.execute("INSERT INTO items (name, weight) VALUES (?, ?)", ("after", 1.0))
        with database.transaction() as conn:
            assert [row[0] for row in conn.execute("SELECT name FROM items")] == ["after"]
    finally:
        database.close()


def test_ddl_spelling() -> None:
    assert ddl(TABLES[1], "sqlite") == TABLES[1]
    spelled = ddl(TABLES[0], "postgresql")
    assert "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY" in spelled
    assert "DOUBLE PRECISION" in spelled
    assert "BYTEA" in spelled
    assert "WITHOUT ROWID" not in ddl(TABLES[1], "postgresql")
    assert pyformat("SELECT '?', \"a?\" WHERE x = ? AND y LIKE 'z%' AND m % 2 = 0") == (
        "SELECT '?', \"a?\" WHERE x = %s AND y LIKE 'z%%' AND m %% 2 = 0"
    )
