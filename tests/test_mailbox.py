"""The mailbox between observers and the tasks that act on them (``statusd.mailbox``)."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from statusd.mailbox import Mailbox


def test_latest_value_only_by_default() -> None:
    """``keep=1`` conflates: a task that was busy gets the newest value, not a backlog."""
    box: Mailbox[int] = Mailbox()
    for value in (1, 2, 3):
        box.put(value)
    assert len(box) == 1
    assert box.dropped == 2
    assert box.take_latest() == 3
    assert len(box) == 0
    assert box.take_latest() is None


def test_keep_n_drops_the_oldest_and_counts_them() -> None:
    box: Mailbox[str] = Mailbox(keep=3)
    for value in "abcde":
        box.put(value)
    assert box.dropped == 2
    assert box.take() == ["c", "d", "e"]
    assert box.take() == []


def test_keep_must_be_positive() -> None:
    with pytest.raises(ValueError, match="keep must be >= 1"):
        Mailbox[int](keep=0)


async def test_wait_returns_at_once_when_a_value_is_waiting(
    autojump_clock: trio.testing.MockClock,
) -> None:
    box: Mailbox[int] = Mailbox()
    box.put(7)
    with trio.fail_after(1):
        await box.wait()
    assert trio.current_time() == 0
    assert box.take() == [7]


async def test_wait_blocks_until_a_put_and_again_after_a_take(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A put from another task wakes the waiter at that moment; once taken, wait blocks."""
    box: Mailbox[int] = Mailbox()
    woke_at: list[float] = []

    async def put_later() -> None:
        await trio.sleep(5)
        box.put(1)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(put_later)
        await box.wait()
        woke_at.append(trio.current_time())
    assert woke_at == [5]
    assert box.take_latest() == 1
    with trio.move_on_after(60) as scope:
        await box.wait()
    assert scope.cancelled_caught


async def test_a_put_while_the_task_works_is_not_lost(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The task takes, works for a while; a value put meanwhile wakes its next wait."""
    box: Mailbox[int] = Mailbox()
    seen: list[tuple[float, int]] = []

    async def consumer() -> None:
        while True:
            await box.wait()
            value = box.take_latest()
            assert value is not None
            seen.append((trio.current_time(), value))
            await trio.sleep(10)  # busy: puts made now wait in the box

    async with trio.open_nursery() as nursery:
        nursery.start_soon(consumer)
        box.put(1)
        await trio.sleep(1)
        box.put(2)
        box.put(3)
        await trio.sleep(30)
        nursery.cancel_scope.cancel()
    assert seen == [(0, 1), (10, 3)]
