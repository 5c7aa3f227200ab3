"""``statusd.serve.publish``: each change of /api is POSTed once to nchan; failures are retried
until a newer document supersedes them (``httpx.MockTransport``, fake clock)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
import trio
import trio.testing

from statusd.collect.outcome import CollectionOutcome
from statusd.serve.publish import PUBLISH_DEADLINE, RETRY_PAUSES, run_publisher
from statusd.state.holder import StateHolder
from tests.fakes import outcome

URL = "http://nginx.test/statusd/publish"
Handler = Callable[[httpx.Request], httpx.Response]


class Nginx:
    """Records the ETags it accepted; ``answers`` decides each answer in turn."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.accepted: list[str] = []
        self.answers: list[int] = []
        self.changed = trio.Event()

    def handle(self, request: httpx.Request) -> httpx.Response:
        etag = request.content.decode()
        self.received.append(etag)
        status = self.answers.pop(0) if self.answers else 201
        if status < 300:
            self.accepted.append(etag)
        self.changed.set()
        self.changed = trio.Event()
        return httpx.Response(status)

    async def wait_received(self, count: int) -> None:
        while len(self.received) < count:
            await self.changed.wait()


@pytest.fixture
async def running(
    autojump_clock: trio.testing.MockClock,
) -> AsyncIterator[tuple[StateHolder, trio.MemorySendChannel[CollectionOutcome], Nginx]]:
    nginx = Nginx()
    state = StateHolder(("a",), stale_after=90)
    send, receive = trio.open_memory_channel[CollectionOutcome](0)
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(nginx.handle)) as client,
        trio.open_nursery() as nursery,
    ):
        await nursery.start(state.run, receive)
        await nursery.start(run_publisher, state, client, URL)
        yield state, send, nginx
        nursery.cancel_scope.cancel()


async def test_current_etag_then_each_change_once(
    running: tuple[StateHolder, trio.MemorySendChannel[CollectionOutcome], Nginx],
) -> None:
    """The current document at start, then one publish per new document, none repeated."""
    state, send, nginx = running
    await nginx.wait_received(1)
    assert nginx.accepted == [state.view.document.etag]
    await send.send(outcome("a", [1]))
    await nginx.wait_received(2)
    await send.send(outcome("a", [1]))  # same data: no new document, nothing published
    await send.send(outcome("a", [2]))
    await nginx.wait_received(3)
    await trio.testing.wait_all_tasks_blocked()
    assert nginx.accepted[-1] == state.view.document.etag
    assert len(nginx.accepted) == len(set(nginx.accepted)) == 3


async def test_failed_publish_is_retried_after_a_pause(
    running: tuple[StateHolder, trio.MemorySendChannel[CollectionOutcome], Nginx],
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A 502 from nginx: the same ETag again after the first retry pause, then accepted."""
    state, send, nginx = running
    await nginx.wait_received(1)
    nginx.answers = [502, 502]
    await send.send(outcome("a", [1]))
    await nginx.wait_received(2)
    failed_at = trio.current_time()
    await nginx.wait_received(4)
    assert nginx.received[1] == nginx.received[2] == nginx.received[3]
    assert nginx.accepted[-1] == state.view.document.etag
    assert trio.current_time() - failed_at == pytest.approx(RETRY_PAUSES[0] + RETRY_PAUSES[1])


async def test_a_newer_document_supersedes_a_failing_publish(
    running: tuple[StateHolder, trio.MemorySendChannel[CollectionOutcome], Nginx],
) -> None:
    """While a publish fails, a new document is published instead of the old one."""
    state, send, nginx = running
    await nginx.wait_received(1)
    nginx.answers = [503]
    await send.send(outcome("a", [1]))
    await nginx.wait_received(2)
    await send.send(outcome("a", [2]))
    await nginx.wait_received(3)
    assert nginx.received[2] == state.view.document.etag != nginx.received[1]
    assert nginx.accepted[-1] == state.view.document.etag


async def test_a_hanging_nginx_is_cut_at_the_deadline(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A publish that gets no answer fails after PUBLISH_DEADLINE and is tried again."""
    calls: list[float] = []

    async def hang(request: httpx.Request) -> httpx.Response:
        calls.append(trio.current_time())
        if len(calls) == 1:
            await trio.sleep_forever()
        return httpx.Response(201)

    state = StateHolder(("a",), stale_after=90)
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(hang)) as client,
        trio.open_nursery() as nursery,
    ):
        await nursery.start(run_publisher, state, client, URL)
        await trio.sleep(PUBLISH_DEADLINE + RETRY_PAUSES[0] + 1)
        assert calls[1] - calls[0] == pytest.approx(PUBLISH_DEADLINE + RETRY_PAUSES[0])
        nursery.cancel_scope.cancel()
