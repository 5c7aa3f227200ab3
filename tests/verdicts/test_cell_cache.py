"""Reuse between rebuilds: cached country cells and stable ids (performance must not change
what is computed)."""

from __future__ import annotations

import base64
import hashlib

from hypothesis import given
from hypothesis import strategies as st

from statusd.sources.records import SmsRecord
from statusd.verdicts.cells import DEGRADED, OPERATIONAL, UNKNOWN
from statusd.verdicts.rules import CountryCellCache, VerdictThresholds, compute_verdicts
from statusd.verdicts.timeline import short_id

ROWS = (SmsRecord("DE", "50", "100", "Topolo"), SmsRecord("FR", "5", "100", "Rond"))


@given(st.text())
def test_short_id_is_the_first_twelve_characters_of_the_whole_digest(text: str) -> None:
    """Ids published before the shortcut stay the same (feed entry ids, component ids)."""
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
    try:
        text.encode()
    except UnicodeEncodeError:
        return  # ids are made of cell ids and topics: valid text only
    assert short_id(text) == base64.b32encode(digest).decode().lower()[:12]


def test_same_records_object_reuses_the_cells() -> None:
    cache = CountryCellCache()
    thresholds = VerdictThresholds()
    first = cache.cells("sms", ROWS, thresholds, False)
    assert cache.cells("sms", ROWS, thresholds, False) is first
    assert [(c.key, c.verdict) for c in first] == [("DE", OPERATIONAL), ("FR", DEGRADED)]


def test_equal_but_new_records_stale_flag_or_thresholds_recompute() -> None:
    cache = CountryCellCache()
    thresholds = VerdictThresholds()
    first = cache.cells("sms", ROWS, thresholds, False)
    equal = cache.cells("sms", list(ROWS), thresholds, False)
    assert equal is not first
    assert equal == first
    stale = cache.cells("sms", ROWS, thresholds, True)
    assert [c.verdict for c in stale] == [UNKNOWN, UNKNOWN]
    strict = VerdictThresholds.from_mapping({"sms_min_bandwidth": 60})
    assert [c.verdict for c in cache.cells("sms", ROWS, strict, False)] == [DEGRADED, DEGRADED]


def test_compute_verdicts_with_a_cache_equals_without() -> None:
    records = {"sms": ROWS, "billing": None, "support": None, "incident": None}
    cache = CountryCellCache()
    thresholds = VerdictThresholds()
    for stale in (frozenset(), frozenset({"sms"}), frozenset()):
        cached = compute_verdicts(records, thresholds, stale=stale, cache=cache)
        fresh = compute_verdicts(records, thresholds, stale=stale)
        assert cached == fresh
