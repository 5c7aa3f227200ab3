"""The state holder: last good data, staleness, document rebuilds and waiters."""

from __future__ import annotations

import json

import trio
import trio.testing

from statusd.body.document import ERROR_BODY
from statusd.collect.outcome import CollectionOutcome
from statusd.state.holder import EARLIER_ETAGS_KEPT, StateHolder
from tests.fakes import good, outcome

NAMES = ("a", "b")


async def start(
    nursery: trio.Nursery, holder: StateHolder
) -> trio.MemorySendChannel[CollectionOutcome]:
    send, receive = trio.open_memory_channel[CollectionOutcome](0)
    await nursery.start(holder.run, receive)
    return send


async def test_error_document_until_every_source_has_data(autojump_clock: trio.abc.Clock) -> None:
    """/api is the error document until all sources are fresh, then the data in order."""
    holder = StateHolder(NAMES, stale_after=90)
    async with trio.open_nursery() as nursery:
        send = await start(nursery, holder)
        assert holder.view.document.body == ERROR_BODY
        assert holder.view.fresh == frozenset()
        await send.send(outcome("b", [2]))
        await trio.testing.wait_all_tasks_blocked()
        assert holder.view.document.body == ERROR_BODY
        await send.send(outcome("a", [1]))
        await trio.testing.wait_all_tasks_blocked()
        body = json.loads(holder.view.document.body)
        assert body == {"status": True, "data": {"a": [1], "b": [2]}, "error": ""}
        assert holder.view.ready
        nursery.cancel_scope.cancel()


async def test_failed_collection_keeps_last_good_until_stale(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A failure keeps the last good data; at exactly stale_after the document turns to error."""
    holder = StateHolder(NAMES, stale_after=90)
    async with trio.open_nursery() as nursery:
        send = await start(nursery, holder)
        await send.send(outcome("a", [1]))
        await send.send(outcome("b", [2]))
        await trio.testing.wait_all_tasks_blocked()
        good_etag = holder.view.document.etag
        await trio.sleep(30)
        await send.send(outcome("a", None, error="HTTP 500"))
        await trio.testing.wait_all_tasks_blocked()
        assert holder.view.document.etag == good_etag
        assert holder.view.sources["a"].error == "HTTP 500"
        await trio.sleep(59.9)  # t = 89.9 s since a's good result
        assert holder.view.document.etag == good_etag
        await trio.sleep(0.2)  # t = 90.1 s: the holder woke by itself, no message needed
        assert holder.view.document.body == ERROR_BODY
        assert holder.view.fresh == frozenset()  # b was collected at the same moment as a
        await send.send(outcome("a", [1]))
        await send.send(outcome("b", [2]))
        await trio.testing.wait_all_tasks_blocked()
        assert holder.view.document.etag == good_etag  # recovered: same data, same bytes
        assert holder.view.ready
        nursery.cancel_scope.cancel()


async def test_unchanged_data_does_not_change_the_document(
    autojump_clock: trio.abc.Clock,
) -> None:
    """Same bytes again: same version, so SSE subscribers are not woken for nothing."""
    holder = StateHolder(NAMES, stale_after=90)
    async with trio.open_nursery() as nursery:
        send = await start(nursery, holder)
        await send.send(outcome("a", [1]))
        await send.send(outcome("b", [2]))
        await trio.testing.wait_all_tasks_blocked()
        version = holder.view.document_version
        await send.send(outcome("a", [1]))
        await trio.testing.wait_all_tasks_blocked()
        assert holder.view.document_version == version
        await send.send(outcome("a", [5]))
        await trio.testing.wait_all_tasks_blocked()
        assert holder.view.document_version == version + 1
        nursery.cancel_scope.cancel()


async def test_the_view_remembers_the_documents_it_replaced(
    autojump_clock: trio.abc.Clock,
) -> None:
    """Each new document puts the one it replaced into ``earlier_etags`` (the newest
    ``EARLIER_ETAGS_KEPT``), so ``knows`` names the current and the recent versions."""
    holder = StateHolder(("a",), stale_after=90)
    async with trio.open_nursery() as nursery:
        send = await start(nursery, holder)
        etags = [holder.view.document.etag]
        for value in range(EARLIER_ETAGS_KEPT + 1):
            await send.send(outcome("a", [value]))
            await trio.testing.wait_all_tasks_blocked()
            etags.append(holder.view.document.etag)
        view = holder.view
        assert view.earlier_etags == tuple(etags[-EARLIER_ETAGS_KEPT - 1 : -1])
        assert view.knows(etags[-1])
        assert view.knows(etags[1])
        assert not view.knows(etags[0])
        nursery.cancel_scope.cancel()


async def test_waiters_wake_on_change_and_on_close(autojump_clock: trio.abc.Clock) -> None:
    """wait_document_changed returns on a new document and when the holder closes."""
    holder = StateHolder(("a",), stale_after=90)
    woken: list[int] = []
    async with trio.open_nursery() as nursery:
        send = await start(nursery, holder)

        async def waiter() -> None:
            await holder.wait_document_changed(holder.view.document_version)
            woken.append(holder.view.document_version)

        nursery.start_soon(waiter)
        await trio.testing.wait_all_tasks_blocked()
        assert woken == []
        await send.send(outcome("a", [1]))
        await trio.testing.wait_all_tasks_blocked()
        assert woken == [1]
        nursery.start_soon(waiter)
        await trio.testing.wait_all_tasks_blocked()
        holder.close()
        await trio.testing.wait_all_tasks_blocked()
        assert woken == [1, 1]
        nursery.cancel_scope.cancel()


async def test_restored_results_count_their_age(autojump_clock: trio.abc.Clock) -> None:
    """A restored result younger than stale_after serves at once; an older one does not."""
    import time

    holder = StateHolder(NAMES, stale_after=90)
    holder.restore([good("a", [1], wall=time.time() - 10), good("b", [2], wall=time.time() - 10)])
    async with trio.open_nursery() as nursery:
        await start(nursery, holder)
        assert json.loads(holder.view.document.body)["status"] is True
        assert holder.view.ready
        nursery.cancel_scope.cancel()

    old = StateHolder(NAMES, stale_after=90)
    old.restore([good("a", [1], wall=time.time() - 100), good("b", [2], wall=time.time() - 10)])
    async with trio.open_nursery() as nursery:
        await start(nursery, old)
        assert old.view.document.body == ERROR_BODY
        assert old.view.sources["a"].good is not None
        nursery.cancel_scope.cancel()


async def test_max_age_counts_down_to_the_next_collection(autojump_clock: trio.abc.Clock) -> None:
    holder = StateHolder(("a",), stale_after=90)
    async with trio.open_nursery() as nursery:
        send = await start(nursery, holder)
        await send.send(outcome("a", [1], next_at=trio.current_time() + 30))
        await trio.testing.wait_all_tasks_blocked()
        assert holder.view.seconds_until_next_collection(trio.current_time()) == 30
        await trio.sleep(29.5)
        assert holder.view.seconds_until_next_collection(trio.current_time()) == 1
        await trio.sleep(5)
        assert holder.view.seconds_until_next_collection(trio.current_time()) == 1
        nursery.cancel_scope.cancel()
