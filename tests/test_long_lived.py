"""LongLivedObjects: the heap frozen after a slow full collection, renewed periodically."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
import trio
import trio.testing

from statusd.long_lived import LongLivedObjects
from statusd.metrics import Metrics
from tests.test_metrics import SOURCES, value


class Cycle:
    """An object in a reference cycle: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture(autouse=True)
def thawed() -> Iterator[None]:
    """Each test starts and ends with nothing frozen and no callback of ours left."""
    gc.collect()
    gc.unfreeze()
    callbacks = list(gc.callbacks)
    yield
    gc.unfreeze()
    assert gc.callbacks == callbacks


def observed_collection(objects: LongLivedObjects) -> None:
    gc.callbacks.append(objects.observe)
    try:
        gc.collect()
    finally:
        gc.callbacks.remove(objects.observe)


def test_a_slow_full_collection_freezes_what_survived_it() -> None:
    survivor = Cycle()
    objects = LongLivedObjects(slow_seconds=0.0)
    observed_collection(objects)
    assert objects.freezes == 1
    assert gc.get_freeze_count() > 0
    assert not any(obj is survivor for obj in gc.get_objects())  # out of the collector's sight


def test_a_fast_full_collection_freezes_nothing() -> None:
    objects = LongLivedObjects(slow_seconds=3600.0)
    observed_collection(objects)
    assert objects.freezes == 0
    assert gc.get_freeze_count() == 0


def test_younger_collections_are_not_watched() -> None:
    objects = LongLivedObjects(slow_seconds=0.0)
    gc.callbacks.append(objects.observe)
    try:
        gc.collect(0)
        gc.collect(1)
    finally:
        gc.callbacks.remove(objects.observe)
    assert objects.freezes == 0
    assert gc.get_freeze_count() == 0


def test_frozen_cyclic_garbage_is_freed_by_the_next_renewal() -> None:
    """The price of freezing, and its bound: a cycle frozen while alive survives collections
    after it became garbage, until ``renew`` hands it back to the collector."""
    cycle = Cycle()
    gone = weakref.ref(cycle)
    objects = LongLivedObjects(slow_seconds=0.0)
    observed_collection(objects)
    del cycle
    gc.collect()
    assert gone() is not None  # frozen: the collector cannot see it
    assert objects.renew() >= 1
    assert gone() is None
    assert objects.renewals == 1
    assert gc.get_freeze_count() > 0  # what is still alive is frozen again


def test_each_full_collection_is_reported() -> None:
    metrics = Metrics(SOURCES)
    objects = LongLivedObjects(slow_seconds=0.0, on_full_collection=metrics.full_collection)
    observed_collection(objects)
    assert value(metrics, "statusd_gc_full_collection_seconds_count") == 1
    assert value(metrics, "statusd_gc_freezes_total") == 1
    frozen = value(metrics, "statusd_gc_frozen_objects")
    assert frozen is not None
    assert frozen > 0


async def test_run_renews_every_period_and_removes_its_callback(
    autojump_clock: trio.testing.MockClock,
) -> None:
    objects = LongLivedObjects(slow_seconds=3600.0, renew_seconds=600.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(objects.run)
        assert objects.observe in gc.callbacks
        await trio.sleep(1250.0)
        assert objects.renewals == 2
        nursery.cancel_scope.cancel()
    assert objects.observe not in gc.callbacks
