"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import trio
import trio.testing

from tests.support.postgres import PostgresServer, running_postgres


@pytest.fixture
def thread_friendly_clock() -> trio.testing.MockClock:
    """Autojump only after 20 ms of real idleness: for tests whose code waits on a worker
    thread (a file read, a parse), where a zero threshold would jump past a deadline while
    the thread works."""
    return trio.testing.MockClock(autojump_threshold=0.02)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL per test session (per xdist worker); tests take a fresh
    database each with ``postgres.create_database()``."""
    with running_postgres() as server:
        yield server
