"""The subscription tables' connection: opened on the history database, one transaction per
call, safe to call from any one thread at a time.

The store has its own sqlite3 connection to the history file (WAL, so it never waits for the
history writer's readers, and ``busy_timeout`` while the writer commits). Every call is one
transaction; writes begin ``IMMEDIATE`` so two writers queue for the lock at the start
instead of failing halfway. A lock serialises threads on the one connection; the async
facade (``subscriptions.facade``) adds a ``trio.CapacityLimiter`` so the event loop never
waits on it.

Errors: ``StoreError`` (any SQLite failure: locked too long, disk full, damaged file) —
routes answer 503 with its message.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Self

from statusd.subscriptions.schema import SUBSCRIPTION_TABLES
from statusd.subscriptions.tokens import TokenKey, new_key

BUSY_TIMEOUT_SECONDS = 5.0
"""How long a call waits for another connection's write lock before failing."""
TOKEN_KEY_NAME = "manage-token-key"


class StoreError(Exception):
    """The subscription database failed; the message says how (SQLite's words)."""


class Database:
    """One connection to the subscription tables and the transactions over it."""

    def __init__(self, conn: sqlite3.Connection, path: Path, token_key: TokenKey) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self.path = path
        self.token_key = token_key
        """Derives the manage tokens of email subscriptions (``tokens.TokenKey``)."""

    @classmethod
    def open(cls, path: Path) -> Self:
        """Open (and create where missing) the tables in the database file ``path``."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as error:
            raise StoreError(f"cannot open {path}: {error}") from error
        try:
            conn.execute("PRAGMA journal_mode=WAL").fetchone()
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("BEGIN IMMEDIATE")
            for statement in SUBSCRIPTION_TABLES:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO subscription_keys (name, key) VALUES (?, ?) "
                "ON CONFLICT (name) DO NOTHING",
                (TOKEN_KEY_NAME, new_key()),
            )
            (key,) = conn.execute(
                "SELECT key FROM subscription_keys WHERE name = ?", (TOKEN_KEY_NAME,)
            ).fetchone()
            conn.execute("COMMIT")
        except sqlite3.Error as error:
            conn.close()
            raise StoreError(
                f"cannot prepare the subscription tables in {path}: {error}"
            ) from error
        return cls(conn, path, TokenKey(bytes(key)))

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        with self._transaction("BEGIN IMMEDIATE") as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: a consistent view across the block's queries."""
        with self._transaction("BEGIN") as conn:
            yield conn

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._conn
            try:
                conn.execute(begin)
            except sqlite3.Error as error:
                raise StoreError(str(error)) from error
            try:
                yield conn
                conn.execute("COMMIT")
            except sqlite3.Error as error:
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise StoreError(str(error)) from error
            except BaseException:
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
