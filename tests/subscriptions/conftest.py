"""A subscription store on a temporary history database file, and helpers to fill it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from statusd.subscriptions.model import Scope
from statusd.subscriptions.store import SubscriptionStore

NOW = 1_780_000_000.0
LIMIT = 100_000


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SubscriptionStore]:
    opened = SubscriptionStore.open(tmp_path / "history.sqlite3")
    yield opened
    opened.close()


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
