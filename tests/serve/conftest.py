"""A running state holder of two sources for the route tests of serve/."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio

from statusd.collect.outcome import CollectionOutcome
from statusd.state.holder import StateHolder

NAMES = ("a", "b")

Holder = tuple[StateHolder, trio.MemorySendChannel[CollectionOutcome]]


@pytest.fixture
async def holder() -> AsyncIterator[Holder]:
    """The state holder running in the test's nursery, and the channel that feeds it."""
    state = StateHolder(NAMES, stale_after=90)
    send, receive = trio.open_memory_channel[CollectionOutcome](0)
    async with trio.open_nursery() as nursery:
        await nursery.start(state.run, receive)
        yield state, send
        nursery.cancel_scope.cancel()
