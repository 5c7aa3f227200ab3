"""The store under trio: calls run in worker threads one at a time; a store that cannot be
opened is None (the routes answer 503), never a crash of the daemon."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import trio

from statusd.subscriptions.database import StoreError
from statusd.subscriptions.facade import AsyncStore, open_store_or_none


async def test_calls_run_in_a_worker_thread_one_at_a_time(tmp_path: Path) -> None:
    db = await AsyncStore.open(tmp_path / "history.sqlite3")
    seen: list[int] = []
    running = 0
    most = 0

    def call() -> int:
        nonlocal running, most
        running += 1
        most = max(most, running)
        seen.append(threading.get_ident())
        count = db.store.count()
        running -= 1
        return count

    async with trio.open_nursery() as nursery:
        for _ in range(8):
            nursery.start_soon(db.run, call)
    await db.aclose()
    assert most == 1
    assert threading.get_ident() not in seen


async def test_a_store_that_cannot_be_opened_is_none(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "file").write_text("not a directory")
    assert await open_store_or_none(tmp_path / "file" / "history.sqlite3") is None
    assert "subscriptions unavailable" in caplog.text
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"this is not an SQLite database, not at all" * 100)
    assert await open_store_or_none(garbage) is None


async def test_close_runs_even_when_cancelled(tmp_path: Path) -> None:
    db = await AsyncStore.open(tmp_path / "history.sqlite3")
    with trio.CancelScope() as scope:
        scope.cancel()
        await db.aclose()
    with pytest.raises(StoreError, match="closed"):
        db.store.count()
