"""``AsyncStore``: the subscription store under trio, every call in a worker thread.

sqlite3 blocks, so each call runs through ``trio.to_thread.run_sync`` under one
``trio.CapacityLimiter`` (the store has one connection: one call at a time); the event loop
never waits on the database. A thread cannot be cancelled: a call is bounded by SQLite's
``busy_timeout`` (``database.BUSY_TIMEOUT_SECONDS``), and a cancelled caller stops waiting
for its result but not the transaction, which commits or rolls back on its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar, TypeVarTuple

import trio

from statusd.subscriptions.database import StoreError
from statusd.subscriptions.store import SubscriptionStore

log = logging.getLogger("statusd.subscriptions")

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

DATABASE_CONNECTIONS = 1
"""Threads that may use the store at once: its one connection."""


class AsyncStore:
    """Runs ``SubscriptionStore`` methods in worker threads: ``await db.run(store.count)``."""

    def __init__(self, store: SubscriptionStore) -> None:
        self.store = store
        self.limiter = trio.CapacityLimiter(DATABASE_CONNECTIONS)

    @classmethod
    async def open(cls, path: Path) -> AsyncStore:
        """Open the store on the database file ``path`` (in a thread: it may create tables)."""
        return cls(await trio.to_thread.run_sync(SubscriptionStore.open, path))

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


async def open_store_or_none(path: Path) -> AsyncStore | None:
    """The store on ``path``, or None (logged) when it cannot be opened: the daemon serves
    everything else and the subscription routes answer 503 (SPEC §11)."""
    try:
        return await AsyncStore.open(path)
    except StoreError as error:
        log.error("subscriptions unavailable", extra={"path": str(path), "error": str(error)})
        return None
