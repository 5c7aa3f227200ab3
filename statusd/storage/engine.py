"""One storage interface, two engines: SQLite (embedded, the default) and PostgreSQL (shared by
replicas, SPEC §11).

The stores (history, incident history, subscriptions, outbox) write their SQL once, with ``?``
placeholders and the types both engines know, and run it through a ``Database``:

    with database.transaction(write=True) as conn:
        conn.execute("UPDATE … WHERE id = ?", (row_id,))

Everything here is synchronous and blocking — the drivers are (``sqlite3``; psycopg 3's sync
API, whose async API needs asyncio). Callers under trio run it in worker threads
(``trio.to_thread.run_sync``); every call is bounded by a timeout (SQLite's ``busy_timeout``;
PostgreSQL's ``connect_timeout``, the pool's wait and ``statement_timeout``).

Differences kept here and nowhere else:
- placeholders: ``?`` becomes ``%s`` for psycopg (``%`` in the SQL text is escaped);
- DDL: ``ddl()`` turns the SQLite spelling into PostgreSQL's (``INTEGER PRIMARY KEY`` → an
  identity column, ``REAL`` → ``DOUBLE PRECISION``, ``BLOB`` → ``BYTEA``, no
  ``WITHOUT ROWID``); new row ids come from ``INSERT … RETURNING id`` on both;
- transactions: SQLite writes begin ``IMMEDIATE`` on the one kept connection (two writers
  queue for the lock at the start instead of failing halfway); its reads each open a
  connection of their own (WAL: readers never wait for the writer). PostgreSQL takes a
  connection from a ``psycopg_pool.ConnectionPool`` for each transaction, so a connection lost
  with the server is replaced on the next call;
- errors: each driver's errors become ``StorageError`` and its subclasses, so the stores and
  routes catch one family (``StorageUnavailable`` → retry later / answer 503).
"""

from __future__ import annotations

import re
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager, suppress
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import psycopg
import psycopg.errors
import psycopg_pool

from statusd.storage.url import DatabaseUrl, Dialect

DEFAULT_TIMEOUT = 5.0
"""Seconds a call may wait: for SQLite's write lock, for a PostgreSQL connection or statement."""
POOL_SIZE = 4
"""PostgreSQL connections per process and database: the worker threads that use it at once."""


class StorageError(Exception):
    """A database call failed; nothing of its transaction was written. The message is the
    engine's own words (never a password)."""


class StorageUnavailable(StorageError):
    """The database cannot be reached now (server down, connection lost, pool exhausted):
    retry later; routes that need it answer 503."""


class StorageFull(StorageError):
    """The disk or the database is full."""


class StorageCorrupt(StorageError):
    """The SQLite file is damaged or is not a database."""


class StorageConflict(StorageError):
    """A constraint refused the write (a unique key taken, a reference missing)."""


class Rows(Protocol):
    """What ``Connection.execute`` returns: a DB-API cursor (``sqlite3``'s or psycopg's)."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(ABC):
    """One connection inside one transaction; SQL with ``?`` placeholders."""

    dialect: Dialect

    @abstractmethod
    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Rows: ...

    @abstractmethod
    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> None: ...


class Database(ABC):
    """Transactions on one database; safe to use from several threads."""

    url: DatabaseUrl

    @property
    def dialect(self) -> Dialect:
        return self.url.dialect

    @abstractmethod
    @contextmanager
    def transaction(self, *, write: bool = False) -> Iterator[Connection]:
        """One transaction: committed when the block ends, rolled back if it raises.
        Driver errors leave it as ``StorageError``s."""

    @abstractmethod
    def close(self) -> None: ...

    def run_ddl(self, statements: Iterable[str]) -> None:
        """Create tables and indexes (``CREATE … IF NOT EXISTS``) in one transaction."""
        with self.transaction(write=True) as conn:
            for statement in statements:
                conn.execute(ddl(statement, self.dialect))


def open_database(url: DatabaseUrl, *, timeout: float = DEFAULT_TIMEOUT) -> Database:
    """The database at ``url``. SQLite: the file is created (with its directory) and opened
    now. PostgreSQL: the pool connects in the background; the first transaction waits for a
    connection at most ``timeout`` seconds and raises ``StorageUnavailable`` after."""
    if url.dialect == "sqlite":
        return SqliteDatabase.open(url, timeout=timeout)
    return PostgresDatabase(url, timeout=timeout)


# --- SQL spelling -------------------------------------------------------------------------------

_DDL_REWRITES = (
    (re.compile(r"\bINTEGER PRIMARY KEY\b"), "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (re.compile(r"\bINTEGER\b"), "BIGINT"),
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
    (re.compile(r"\bBLOB\b"), "BYTEA"),
    (re.compile(r"\)\s*WITHOUT ROWID\s*$"), ")"),
)


@lru_cache(maxsize=256)
def ddl(statement: str, dialect: Dialect) -> str:
    """``statement`` (written for SQLite) as ``dialect`` spells it."""
    if dialect == "sqlite":
        return statement
    for pattern, replacement in _DDL_REWRITES:
        statement = pattern.sub(replacement, statement)
    return statement


_QUOTED_OR_MARK = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?|%")


@lru_cache(maxsize=1024)
def pyformat(sql: str) -> str:
    """``sql`` with ``?`` placeholders as psycopg's ``%s``: a ``?`` inside quotes stays, every
    ``%`` is doubled (psycopg reads ``%`` even inside quotes)."""

    def replace(match: re.Match[str]) -> str:
        text = match.group(0)
        if text == "?":
            return "%s"
        return text.replace("%", "%%")

    return _QUOTED_OR_MARK.sub(replace, sql)


# --- SQLite ---------------------------------------------------------------------------------------


def sqlite_error(error: sqlite3.Error) -> StorageError:
    """The ``StorageError`` of an sqlite3 error (by SQLite's result code)."""
    code = getattr(error, "sqlite_errorcode", None)
    if code == sqlite3.SQLITE_FULL:
        return StorageFull(str(error))
    if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return StorageCorrupt(str(error))
    if isinstance(error, sqlite3.IntegrityError):
        return StorageConflict(str(error))
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN):
        return StorageUnavailable(str(error))
    return StorageError(str(error))


class SqliteConnection(Connection):
    dialect: Dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Rows:
        try:
            return self._conn.execute(sql, parameters)
        except sqlite3.Error as error:
            raise sqlite_error(error) from error

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> None:
        try:
            self._conn.executemany(sql, parameters)
        except sqlite3.Error as error:
            raise sqlite_error(error) from error


class SqliteDatabase(Database):
    """The embedded file: writes on one kept connection (WAL), reads on their own."""

    def __init__(self, url: DatabaseUrl, conn: sqlite3.Connection, timeout: float) -> None:
        self.url = url
        self._conn = conn
        self._lock = threading.Lock()
        self._timeout = timeout

    @property
    def path(self) -> Path:
        return self.url.path

    @classmethod
    def open(cls, url: DatabaseUrl, *, timeout: float = DEFAULT_TIMEOUT) -> SqliteDatabase:
        path = url.path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
        except OSError as error:
            raise StorageUnavailable(f"cannot open {path}: {error}") from error
        except sqlite3.Error as error:
            raise sqlite_error(error) from error
        try:
            conn.execute("PRAGMA journal_mode=WAL").fetchone()
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as error:
            conn.close()
            raise sqlite_error(error) from error
        return cls(url, conn, timeout)

    @contextmanager
    def transaction(self, *, write: bool = False) -> Iterator[Connection]:
        if write:
            with self._lock:
                yield from _sqlite_transaction(self._conn, "BEGIN IMMEDIATE")
            return
        try:
            reader = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None)
        except sqlite3.Error as error:
            raise sqlite_error(error) from error
        with closing(reader):
            yield from _sqlite_transaction(reader, "BEGIN")

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _sqlite_transaction(conn: sqlite3.Connection, begin: str) -> Iterator[Connection]:
    try:
        conn.execute(begin)
    except sqlite3.Error as error:
        raise sqlite_error(error) from error
    try:
        yield SqliteConnection(conn)
        conn.execute("COMMIT")
    except sqlite3.Error as error:
        with suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise sqlite_error(error) from error
    except BaseException:
        with suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise


# --- PostgreSQL -----------------------------------------------------------------------------------


def postgres_error(error: psycopg.Error | psycopg_pool.PoolTimeout) -> StorageError:
    """The ``StorageError`` of a psycopg (or pool) error."""
    if isinstance(error, psycopg_pool.PoolTimeout | psycopg.OperationalError):
        if isinstance(error, psycopg.errors.DiskFull):
            return StorageFull(str(error))
        return StorageUnavailable(str(error).strip() or type(error).__name__)
    if isinstance(error, psycopg.InterfaceError):
        return StorageUnavailable(str(error).strip() or type(error).__name__)
    if isinstance(error, psycopg.IntegrityError):
        return StorageConflict(str(error).strip())
    return StorageError(str(error).strip() or type(error).__name__)


class PostgresConnection(Connection):
    dialect: Dialect = "postgresql"

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Rows:
        try:
            return self._conn.execute(pyformat(sql), tuple(parameters))
        except psycopg.Error as error:
            raise postgres_error(error) from error

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> None:
        try:
            with self._conn.cursor() as cursor:
                cursor.executemany(pyformat(sql), [tuple(p) for p in parameters])
        except psycopg.Error as error:
            raise postgres_error(error) from error


class PostgresDatabase(Database):
    """A server that replicas share: a small pool of connections, one per transaction."""

    def __init__(
        self, url: DatabaseUrl, *, timeout: float = DEFAULT_TIMEOUT, size: int = POOL_SIZE
    ) -> None:
        self.url = url
        milliseconds = int(timeout * 1000)
        self._timeout = timeout
        self._pool = psycopg_pool.ConnectionPool(
            url.target,
            min_size=1,
            max_size=size,
            open=False,
            timeout=timeout,
            kwargs={
                "autocommit": True,
                "connect_timeout": max(1, int(timeout)),
                "options": f"-c statement_timeout={milliseconds} -c lock_timeout={milliseconds}",
                "keepalives": 1,
                "keepalives_idle": 10,
                "keepalives_interval": 5,
                "keepalives_count": 3,
            },
            check=psycopg_pool.ConnectionPool.check_connection,
            name="statusd",
        )
        self._pool.open(wait=False)

    @contextmanager
    def transaction(self, *, write: bool = False) -> Iterator[Connection]:
        # One transaction per pooled connection; a broken connection is discarded by the pool.
        try:
            with self._pool.connection(timeout=self._timeout) as conn, conn.transaction():
                yield PostgresConnection(conn)
        except (psycopg.Error, psycopg_pool.PoolTimeout) as error:
            raise postgres_error(error) from error

    def close(self) -> None:
        self._pool.close(timeout=self._timeout)
