"""A subscription store on each engine (a temporary SQLite history file, a fresh PostgreSQL
database), and helpers to fill and read it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from statusd.storage.url import DatabaseUrl
from statusd.subscriptions.model import Scope
from statusd.subscriptions.store import SubscriptionStore
from tests.support.engines import ENGINES, engine_url

NOW = 1_780_000_000.0
LIMIT = 100_000


@pytest.fixture(params=ENGINES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> DatabaseUrl:
    """The same test on SQLite and on PostgreSQL (SPEC §11)."""
    return engine_url(request.param, request, tmp_path)


@pytest.fixture
def store(database_url: DatabaseUrl) -> Iterator[SubscriptionStore]:
    opened = SubscriptionStore.open(database_url)
    yield opened
    opened.close()


def rows(store: SubscriptionStore, sql: str) -> list[tuple[object, ...]]:
    """``sql``'s rows, read beside the store (whichever engine it is on)."""
    with store.engine.transaction() as conn:
        return [tuple(row) for row in conn.execute(sql).fetchall()]


def execute(store: SubscriptionStore, sql: str) -> None:
    """``sql`` written beside the store (what another process might do)."""
    with store.engine.transaction(write=True) as conn:
        conn.execute(sql)


def scope(products: tuple[str, ...] = (), countries: tuple[str, ...] = ()) -> Scope:
    return Scope(frozenset(products), frozenset(countries))


def active_email(
    store: SubscriptionStore, address: str, subscribed: Scope | None = None, now: float = NOW
) -> str:
    """An email subscription, confirmed; its id."""
    token = store.add_email(address, subscribed or scope(), "en", now, limit=LIMIT)
    assert token is not None
    confirmed = store.confirm(token, now + 1)
    assert confirmed is not None
    return confirmed.id
