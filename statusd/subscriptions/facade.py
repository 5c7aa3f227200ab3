"""``AsyncStore``: the subscription store under trio, every call in a worker thread.

The drivers block (sqlite3, psycopg's sync API), so each call runs through
``trio.to_thread.run_sync`` under one ``trio.CapacityLimiter`` (SQLite: one call at a time,
as the engine has one write connection; PostgreSQL: as many as the engine's pool holds); the
event loop never waits on the database. A thread cannot be cancelled: a call is bounded by
the engine's timeout (``database.BUSY_TIMEOUT_SECONDS``: SQLite's ``busy_timeout``,
PostgreSQL's pool wait and ``statement_timeout``), and a cancelled caller stops waiting for
its result but not the transaction, which commits or rolls back on its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar, TypeVarTuple

import trio

from statusd.storage.engine import POOL_SIZE
from statusd.storage.url import DatabaseUrl
from statusd.subscriptions.database import PROCESS_OWNER, StoreError
from statusd.subscriptions.store import SubscriptionStore

log = logging.getLogger("statusd.subscriptions")

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

DATABASE_CONNECTIONS = 1
"""Threads that may use an SQLite store at once: its one write connection."""


class AsyncStore:
    """Runs ``SubscriptionStore`` methods in worker threads: ``await db.run(store.count)``."""

    def __init__(self, store: SubscriptionStore) -> None:
        self.store = store
        shared = store.url.shared
        self.limiter = trio.CapacityLimiter(POOL_SIZE if shared else DATABASE_CONNECTIONS)

    @classmethod
    async def open(cls, where: DatabaseUrl | Path, *, owner: str = PROCESS_OWNER) -> AsyncStore:
        """Open the store on the database ``where`` (``settings.database``, or an SQLite
        file's path), in a thread: it may create tables."""
        return cls(
            await trio.to_thread.run_sync(partial(SubscriptionStore.open, where, owner=owner))
        )

    async def run(self, call: Callable[[*Ts], T], *args: *Ts) -> T:
        """``call(*args)`` in a worker thread, one at a time (``abandon_on_cancel`` so a
        cancelled request does not wait out a slow transaction)."""
        return await trio.to_thread.run_sync(
            call, *args, limiter=self.limiter, abandon_on_cancel=True
        )

    async def aclose(self) -> None:
        """Close the connection once the calls in flight are done (shielded: it runs at
        shutdown, when the caller may already be cancelled)."""
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(self.store.close, limiter=self.limiter)


async def open_store_or_none(
    where: DatabaseUrl | Path, *, owner: str = PROCESS_OWNER
) -> AsyncStore | None:
    """The store on ``where``, or None (logged) when it cannot be opened: the daemon serves
    everything else and the subscription routes answer 503 (SPEC §11). A PostgreSQL server
    that is away is no reason: the store opens and answers 503 until the server returns."""
    try:
        return await AsyncStore.open(where, owner=owner)
    except StoreError as error:
        log.error("subscriptions unavailable", extra={"path": str(where), "error": str(error)})
        return None
