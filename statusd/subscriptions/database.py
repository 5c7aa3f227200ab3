"""The subscription tables' database: a thin user of ``storage.engine`` (SQLite or
PostgreSQL, SPEC §11), one transaction per call, safe to call from several threads.

SQLite (the default): the tables live in the history file; writes queue on the engine's one
kept connection (``BEGIN IMMEDIATE``), reads each on a connection of their own (WAL).
PostgreSQL: every replica uses the same tables; each transaction takes a pooled connection.
The async facade (``subscriptions.facade``) runs every call in a worker thread, so the event
loop never waits on either.

The tables and the manage-token key (a row of ``subscription_keys``, so every replica derives
the same tokens) are prepared when the store opens; on PostgreSQL a server that is away then
does not stop the opening: the first call after it returns prepares them
(``StorageUnavailable`` until then, and routes answer 503).

Errors are ``storage.engine.StorageError``s (``StoreError`` is the same class, the name the
callers knew): ``StorageUnavailable`` for a server away, a lock held too long or a closed
store — retry later; others for a full disk, a damaged file or a refused write.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

from statusd.storage.engine import (
    DEFAULT_TIMEOUT,
    Connection,
    StorageError,
    StorageUnavailable,
    ddl,
    open_database,
)
from statusd.storage.engine import Database as Engine
from statusd.storage.url import DatabaseUrl, sqlite_url
from statusd.subscriptions.schema import OUTBOX_UPGRADES, SUBSCRIPTION_TABLES
from statusd.subscriptions.tokens import TokenKey, new_key

log = logging.getLogger("statusd.subscriptions")

BUSY_TIMEOUT_SECONDS = DEFAULT_TIMEOUT
"""How long a call waits for a lock or a connection before failing."""
TOKEN_KEY_NAME = "manage-token-key"

StoreError = StorageError
"""The subscription database failed: the engine's error family."""

PROCESS_OWNER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
"""This process's name on the outbox claims it makes, unless the daemon names its replica."""


def replica_owner(state_dir: Path) -> str:
    """A replica's name on its claims, the same across its restarts (host and state
    directory): the senders of a restarted replica release what its killed run claimed,
    never another replica's claims."""
    return f"{socket.gethostname()}:{state_dir.resolve()}"


class Database:
    """The subscription tables on one database and the transactions over them."""

    def __init__(self, engine: Engine, *, owner: str = PROCESS_OWNER) -> None:
        self.engine = engine
        self.url = engine.url
        self.owner = owner
        """Written in ``outbox.claimed_by``: whose claims ``release_claims`` releases."""
        self._token_key: TokenKey | None = None
        self._prepare_lock = threading.Lock()
        self._closed = False

    @classmethod
    def open(
        cls,
        where: DatabaseUrl | Path,
        *,
        owner: str = PROCESS_OWNER,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> Self:
        """Open (and create where missing) the tables in the database ``where`` (a
        ``database_url``, or an SQLite file's path). Raises ``StoreError``, except for a
        PostgreSQL server that is away (prepared on a later call)."""
        url = where if isinstance(where, DatabaseUrl) else sqlite_url(where)
        engine = open_database(url, timeout=timeout)
        opened = cls(engine, owner=owner)
        try:
            opened._prepare()
        except StorageUnavailable as error:
            if not url.shared:
                engine.close()
                raise StorageUnavailable(f"cannot open {url}: {error}") from error
            log.warning(
                "subscription database unavailable, tables prepared when it returns",
                extra={"database": str(url), "error": str(error)},
            )
        except StorageError as error:
            engine.close()
            raise type(error)(f"cannot prepare the subscription tables in {url}: {error}") from (
                error
            )
        return opened

    @property
    def path(self) -> Path:
        """The SQLite file (only on SQLite)."""
        return self.url.path

    @property
    def token_key(self) -> TokenKey:
        """Derives the manage tokens of email subscriptions (``tokens.TokenKey``)."""
        return self._ready()

    def close(self) -> None:
        self._closed = True
        self.engine.close()

    def _prepare(self) -> TokenKey:
        with self.engine.transaction(write=True) as conn:
            for statement in SUBSCRIPTION_TABLES:
                conn.execute(ddl(statement, self.engine.dialect))
            self._upgrade(conn)
            conn.execute(
                "INSERT INTO subscription_keys (name, key) VALUES (?, ?) "
                "ON CONFLICT (name) DO NOTHING",
                (TOKEN_KEY_NAME, new_key()),
            )
            (key,) = conn.execute(
                "SELECT key FROM subscription_keys WHERE name = ?", (TOKEN_KEY_NAME,)
            ).fetchone()
        self._token_key = TokenKey(bytes(key))
        return self._token_key

    def _upgrade(self, conn: Connection) -> None:
        """Columns added since a table was first created (an older SQLite file)."""
        if self.engine.dialect != "sqlite":
            return  # PostgreSQL tables are created by this version, with every column
        have = {row[1] for row in conn.execute("PRAGMA table_info(outbox)")}
        for column, statement in OUTBOX_UPGRADES:
            if column not in have:
                conn.execute(statement)

    def _ready(self) -> TokenKey:
        """The token key, preparing the tables first if the opening could not."""
        if self._closed:
            raise StorageUnavailable("the subscription store is closed")
        if self._token_key is not None:
            return self._token_key
        with self._prepare_lock:
            return self._token_key or self._prepare()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        self._ready()
        with self.engine.transaction(write=True) as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """One read transaction: a consistent view across the block's queries."""
        self._ready()
        with self.engine.transaction() as conn:
            yield conn
