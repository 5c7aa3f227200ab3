"""Statements outside the writer's batches (tests, benchmarks, tools): each in a transaction of
its own, on either engine."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from statusd.storage.engine import Connection, Database, Rows
from statusd.storage.url import Dialect


class EachStatement(Connection):
    """A ``Connection`` that runs each statement in a write transaction of its own and hands
    back its rows read in full: for reads and small changes outside the writer's batches."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.dialect: Dialect = database.dialect

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Rows:
        with self.database.transaction(write=True) as conn:
            cursor = conn.execute(sql, parameters)
            rows = cursor.fetchall() if _returns_rows(cursor) else []
            return FetchedRows(rows, cursor.rowcount)

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> None:
        with self.database.transaction(write=True) as conn:
            conn.executemany(sql, parameters)


def _returns_rows(cursor: Rows) -> bool:
    """Whether the statement produced a result set (DB-API: ``description`` is set)."""
    return getattr(cursor, "description", None) is not None


class FetchedRows:
    """Rows already read (``Rows`` of a finished transaction)."""

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self._next = 0
        self.rowcount = rowcount

    def fetchone(self) -> Any:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    def fetchall(self) -> list[Any]:
        rest, self._next = self._rows[self._next :], len(self._rows)
        return rest

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())
