"""Fixtures shared by every test package."""

from __future__ import annotations

import pytest
import trio
import trio.testing


@pytest.fixture
def thread_friendly_clock() -> trio.testing.MockClock:
    """Autojump only after 20 ms of real idleness: for tests whose code waits on a worker
    thread (a file read, a parse), where a zero threshold would jump past a deadline while
    the thread works."""
    return trio.testing.MockClock(autojump_threshold=0.02)
