"""A file rewritten in place while statusd reads it never replaces good data with a torn one.

A torn read cannot be produced on demand between two processes, so the writer here is
``os.read`` itself: after the reader's first chunk it rewrites the file in place, the way a
non-atomic writer would. The real collector loop, file reader and state holder run on a mock
clock; only the interleaving is forced.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import trio
import trio.testing

from statusd.collect.outcome import CollectionOutcome
from statusd.collect.supervisor import run_collectors
from statusd.config import Settings
from statusd.sources.sms import SPEC as SMS
from statusd.state.holder import StateHolder

GOOD = b"RU;50;300;Topolo\nUS;20;900;Rond\n"
NEWER = b"FR;70;100;Kildy\nDE;30;400;Topolo\nGB;90;50;Rond\n"
LONGER = NEWER + b"AT;10;10;Kildy\n"


def rewrite_in_place_during_reads(
    monkeypatch: pytest.MonkeyPatch, path: Path, contents: list[bytes], times: int
) -> Callable[[], int]:
    """The next ``times`` openings of ``path`` see it rewritten in place after their first
    chunk, with ``contents`` in turn (sizes differ, so each rewrite is a real change);
    returns a function counting the torn reads so far."""
    real_read = os.read
    torn = [0]
    target = os.stat(path).st_ino

    def read(fd: int, size: int) -> bytes:
        first_chunk = os.lseek(fd, 0, os.SEEK_CUR) == 0
        chunk = real_read(fd, size)
        if chunk and first_chunk and torn[0] < times and os.fstat(fd).st_ino == target:
            with path.open("r+b") as file:
                file.write(contents[torn[0] % len(contents)])
                file.truncate()
            torn[0] += 1
        return chunk

    monkeypatch.setattr(os, "read", read)
    return lambda: torn[0]


async def collect_until(
    tmp_path: Path,
    state: StateHolder,
    done: Callable[[CollectionOutcome], bool],
) -> list[CollectionOutcome]:
    """Run the SMS collector into ``state`` until an outcome satisfies ``done``, and the
    state holder has applied it; return the outcomes seen."""
    settings = Settings(data_dir=tmp_path, interval=1.0, deadline=1.0, stale_after=10.0)
    seen: list[CollectionOutcome] = []
    finished = trio.Event()
    to_state, state_inbox = trio.open_memory_channel[CollectionOutcome](0)
    from_collector, collected = trio.open_memory_channel[CollectionOutcome](0)

    async def tap() -> None:
        async with collected, to_state:
            async for outcome in collected:
                seen.append(outcome)
                await to_state.send(outcome)
                if done(outcome):
                    finished.set()

    with trio.fail_after(120):
        async with httpx.AsyncClient() as client, trio.open_nursery() as nursery:
            nursery.start_soon(tap)
            await nursery.start(state.run, state_inbox)
            await nursery.start(run_collectors, [SMS], settings, client, from_collector)
            await finished.wait()
            await trio.testing.wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
    return seen


def records_of(state: StateHolder) -> tuple[object, ...]:
    good = state.view.sources["sms"].good
    assert good is not None
    return good.records


async def test_torn_twice_keeps_the_last_good_data(
    thread_friendly_clock: trio.testing.MockClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rewritten during every read of a collection: the collection fails with the cause and
    the good result of before is kept whole; the next clean read takes the new file."""
    path = tmp_path / "sms.data"
    path.write_bytes(GOOD)
    state = StateHolder(["sms"], stale_after=10.0)
    await collect_until(tmp_path, state, lambda o: o.result is not None)
    good = records_of(state)
    assert len(good) == 2

    # Every read of the collection (two per attempt, three attempts) sees a rewrite.
    torn = rewrite_in_place_during_reads(monkeypatch, path, [NEWER, LONGER], times=6)
    outcomes = await collect_until(tmp_path, state, lambda o: o.error is not None)
    assert torn() == 6
    assert outcomes[-1].result is None
    assert state.view.sources["sms"].error == "sms.data: file changed while being read"
    assert records_of(state) == good  # not the torn mix of GOOD and NEWER
    assert "sms" in state.view.fresh

    monkeypatch.undo()
    await collect_until(tmp_path, state, lambda o: o.error is None)
    assert [r.country for r in records_of(state)] == ["FR", "DE", "GB", "AT"]  # type: ignore[attr-defined]


async def test_torn_once_is_read_again_whole(
    thread_friendly_clock: trio.testing.MockClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rewritten during the first read only: the retry reads the new file whole."""
    path = tmp_path / "sms.data"
    path.write_bytes(GOOD)
    torn = rewrite_in_place_during_reads(monkeypatch, path, [NEWER], times=1)
    state = StateHolder(["sms"], stale_after=10.0)
    await collect_until(tmp_path, state, lambda o: o.result is not None)
    assert torn() == 1
    assert state.view.sources["sms"].error is None
    assert [r.country for r in records_of(state)] == ["FR", "DE", "GB"]  # type: ignore[attr-defined]
    good = state.view.sources["sms"].good
    assert good is not None
    assert good.skipped == {}  # no half line was read
