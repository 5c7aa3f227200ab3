"""Parsing where it costs the loop least (``statusd.collect.parse``): the cyclic GC pause."""

from __future__ import annotations

import gc

from statusd.collect.parse import cyclic_gc_paused


def test_cyclic_gc_is_paused_then_restored_and_new_objects_frozen() -> None:
    """Inside: the collector is off; after: it is as before, and new objects are frozen."""
    assert gc.isenabled()
    before = gc.get_freeze_count()
    with cyclic_gc_paused():
        assert not gc.isenabled()
        made = [[index] for index in range(1000)]
    assert gc.isenabled()
    assert gc.get_freeze_count() >= before + len(made)
    gc.disable()
    try:
        with cyclic_gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()
