"""Verdict rules of SPEC §7: every threshold boundary, per-country rule, indicator precedence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statusd.sources.records import (
    BillingRecord,
    EmailRecord,
    IncidentRecord,
    MmsRecord,
    SmsRecord,
    SupportTopic,
    VoiceRecord,
)
from statusd.verdicts.cells import DEGRADED, MAJOR, OPERATIONAL, PARTIAL, UNKNOWN, Cell, cell_name
from statusd.verdicts.rules import (
    VerdictThresholds,
    compute_verdicts,
    is_good_email_row,
    is_good_mms_row,
    is_good_sms_row,
    is_good_voice_row,
    overall_indicator,
    rule_texts,
    support_load,
    worst_verdict,
)
from statusd.verdicts.timeline import CellClock, Timeline, advance_timeline, incident_id

T = VerdictThresholds()
GOOD_VOICE = VoiceRecord("DE", "50", "100", "E-Voice", 0.9, 100, 80, 3)


def sms(
    country: str = "DE", bandwidth: int = 50, response_time: int = 100, provider: str = "Topolo"
) -> SmsRecord:
    return SmsRecord(country, str(bandwidth), str(response_time), provider)


def everything(**overrides: Sequence[Any] | None) -> dict[str, Sequence[Any] | None]:
    """Records of every source, all good, with some replaced."""
    records: dict[str, Sequence[Any] | None] = {
        "sms": [sms()],
        "mms": [MmsRecord("DE", "Rond", "50", "100")],
        "voice_call": [GOOD_VOICE],
        "email": [EmailRecord("DE", "Gmail", 100)],
        "billing": [BillingRecord(True, True, True, True, True, True)],
        "support": [SupportTopic("billing", 1)],
        "incident": [IncidentRecord("db", "closed")],
    }
    records.update(overrides)
    return records


# --- thresholds -------------------------------------------------------------------------------


def test_defaults_are_the_spec_values() -> None:
    """The defaults are SPEC §7's numbers."""
    assert VerdictThresholds() == VerdictThresholds(1000, 20, 1000, 20, 0.8, 50, 500, 90, 300)


def test_from_mapping_overrides_given_keys() -> None:
    """Keys of [verdicts] replace their defaults; the rest stay."""
    t = VerdictThresholds.from_mapping(
        {"sms_min_bandwidth": 30, "voice_min_connection_stability": 1}
    )
    assert t.sms_min_bandwidth == 30
    assert t.voice_min_connection_stability == 1.0
    assert isinstance(t.voice_min_connection_stability, float)
    assert t.sms_max_response_time == 1000


@pytest.mark.parametrize(
    ("table", "named"),
    [
        ({"sms_max_latency": 5}, "sms_max_latency"),
        ({"sms_min_bandwidth": "20"}, "sms_min_bandwidth"),
        ({"sms_min_bandwidth": True}, "sms_min_bandwidth"),
        ({"sms_min_bandwidth": 20.5}, "sms_min_bandwidth"),
        ({"sms_min_bandwidth": 101}, "sms_min_bandwidth"),
        ({"voice_max_ttfb": -1}, "voice_max_ttfb"),
        ({"voice_min_voice_purity": 150}, "voice_min_voice_purity"),
        ({"voice_min_connection_stability": 1.5}, "voice_min_connection_stability"),
        ({"voice_min_connection_stability": "0.8"}, "voice_min_connection_stability"),
        ({"voice_min_connection_stability": float("nan")}, "voice_min_connection_stability"),
        ({"email_max_delivery_time": None}, "email_max_delivery_time"),
    ],
)
def test_from_mapping_rejects_bad_keys_naming_them(table: dict[str, object], named: str) -> None:
    """An unknown key, a wrong type or an out-of-range value is a ValueError naming the key."""
    with pytest.raises(ValueError, match=named):
        VerdictThresholds.from_mapping(table)


# --- row rules at their boundaries ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("bandwidth", "response_time", "good"),
    [
        (20, 1000, True),  # both exactly at the limit: good
        (19, 1000, False),
        (20, 1001, False),
        (100, 0, True),
        (0, 0, False),
    ],
)
def test_sms_and_mms_rows_at_the_limits(bandwidth: int, response_time: int, good: bool) -> None:
    """SMS/MMS: response_time ≤ 1000 and bandwidth ≥ 20, limits included."""
    assert is_good_sms_row(sms(bandwidth=bandwidth, response_time=response_time), T) is good
    mms = MmsRecord("DE", "Rond", str(bandwidth), str(response_time))
    assert is_good_mms_row(mms, T) is good


def test_mms_uses_its_own_thresholds() -> None:
    """The MMS limits are separate keys from the SMS ones."""
    t = replace(T, mms_max_response_time=500, mms_min_bandwidth=60)
    row = MmsRecord("DE", "Rond", "59", "400")
    assert not is_good_mms_row(row, t)
    assert is_good_sms_row(sms(bandwidth=59, response_time=400), t)


@pytest.mark.parametrize(
    ("change", "good"),
    [
        ({}, True),
        ({"connection_stability": 0.8}, True),
        ({"connection_stability": 0.79}, False),
        ({"voice_purity": 50}, True),
        ({"voice_purity": 49}, False),
        ({"ttfb": 500}, True),
        ({"ttfb": 501}, False),
        ({"bandwidth": "90"}, True),
        ({"bandwidth": "91"}, False),
        ({"bandwidth": "0"}, True),
    ],
)
def test_voice_rows_at_the_limits(change: dict[str, Any], good: bool) -> None:
    """Voice: stability ≥ 0.8, purity ≥ 50, ttfb ≤ 500, load ≤ 90, limits included."""
    assert is_good_voice_row(GOOD_VOICE._replace(**change), T) is good


@pytest.mark.parametrize(("delivery_time", "good"), [(300, True), (301, False), (0, True)])
def test_email_rows_at_the_limit(delivery_time: int, good: bool) -> None:
    """Email: delivery_time ≤ 300, limit included."""
    assert is_good_email_row(EmailRecord("DE", "Gmail", delivery_time), T) is good


@given(
    bandwidth=st.integers(0, 100),
    response_time=st.integers(0, 5000),
    min_bandwidth=st.integers(0, 100),
    max_response_time=st.integers(0, 5000),
)
def test_sms_rule_is_the_definition(
    bandwidth: int, response_time: int, min_bandwidth: int, max_response_time: int
) -> None:
    """For any configured thresholds the SMS rule is exactly ≤ / ≥."""
    t = replace(T, sms_min_bandwidth=min_bandwidth, sms_max_response_time=max_response_time)
    expected = bandwidth >= min_bandwidth and response_time <= max_response_time
    assert is_good_sms_row(sms(bandwidth=bandwidth, response_time=response_time), t) is expected


@pytest.mark.parametrize(("total", "load"), [(0, 1), (8, 1), (9, 2), (16, 2), (17, 3), (500, 3)])
def test_support_load_boundaries(total: int, load: int) -> None:
    """Support load: < 9 is 1, 9–16 is 2, > 16 is 3 (SPEC §2)."""
    assert support_load(total) == load


# --- cells ------------------------------------------------------------------------------------


def test_one_good_provider_row_makes_the_country_operational() -> None:
    """A country is operational when any provider row is good (traffic routes around)."""
    rows = [
        sms(bandwidth=1, provider="Rond"),
        sms(provider="Topolo"),
        sms(response_time=9999, provider="Kildy"),
    ]
    cell = compute_verdicts(everything(sms=rows), T).cells[("sms", "DE")]
    assert cell == Cell("sms", "DE", OPERATIONAL, "sms", ("Topolo",), 3)


def test_country_with_rows_but_none_good_is_degraded() -> None:
    """A country with rows and no good row is degraded_performance."""
    rows = [sms(bandwidth=1, provider="Rond"), sms(response_time=1001, provider="Topolo")]
    cell = compute_verdicts(everything(sms=rows), T).cells[("sms", "DE")]
    assert cell.verdict == DEGRADED
    assert cell.good_providers == ()
    assert cell.providers == 2


def test_country_without_rows_has_no_cell() -> None:
    """Only countries with rows for a product get a cell for it."""
    verdicts = compute_verdicts(everything(sms=[sms("FR")]), T)
    assert ("sms", "FR") in verdicts.cells
    assert ("sms", "DE") not in verdicts.cells
    assert ("mms", "DE") in verdicts.cells


def test_every_product_and_cell_key() -> None:
    """Products sms, mms, voice, email per country; six billing functions; one support cell."""
    verdicts = compute_verdicts(everything(), T)
    assert list(verdicts.cells) == [
        ("sms", "DE"),
        ("mms", "DE"),
        ("voice", "DE"),
        ("email", "DE"),
        ("billing", "checkout_page"),
        ("billing", "create_customer"),
        ("billing", "fraud_control"),
        ("billing", "payout"),
        ("billing", "purchase"),
        ("billing", "recurring"),
        ("support", "support"),
    ]
    assert verdicts.cells[("voice", "DE")].source == "voice_call"


def test_billing_up_is_operational_and_down_is_major_outage() -> None:
    """Each billing function: up → operational, down → major_outage (recurring is bit 3)."""
    billing = BillingRecord(True, False, True, False, True, False)
    verdicts = compute_verdicts(everything(billing=[billing]), T)
    got = {key: c.verdict for (product, key), c in verdicts.cells.items() if product == "billing"}
    assert got == {
        "create_customer": OPERATIONAL,
        "purchase": MAJOR,
        "payout": OPERATIONAL,
        "recurring": MAJOR,
        "fraud_control": OPERATIONAL,
        "checkout_page": MAJOR,
    }


@pytest.mark.parametrize(
    ("tickets", "verdict"),
    [([8], OPERATIONAL), ([4, 5], DEGRADED), ([16], DEGRADED), ([9, 8], PARTIAL)],
)
def test_support_levels(tickets: list[int], verdict: str) -> None:
    """Support: load 1 operational, 2 degraded_performance, 3 partial_outage (all topics summed)."""
    topics = [SupportTopic(f"t{i}", n) for i, n in enumerate(tickets)]
    assert (
        compute_verdicts(everything(support=topics), T).cells[("support", "support")].verdict
        == verdict
    )


@pytest.mark.parametrize("source", ["sms", "mms", "voice_call", "email", "billing", "support"])
def test_cells_of_a_stale_source_are_unknown(source: str) -> None:
    """A stale source's cells are unknown, whatever its last records say; others are untouched."""
    verdicts = compute_verdicts(everything(), T, stale={source})
    for cell in verdicts.cells.values():
        assert (cell.verdict == UNKNOWN) is (cell.source == source)
        if cell.source == source:
            assert cell.good_providers == ()


def test_never_collected_sources() -> None:
    """No result at all: no country cells; billing and support are still there, unknown."""
    verdicts = compute_verdicts({}, T)
    assert {c.id: c.verdict for c in verdicts.cells.values()} == {
        **{
            f"billing:{k}": UNKNOWN
            for k in (
                "checkout_page",
                "create_customer",
                "fraud_control",
                "payout",
                "purchase",
                "recurring",
            )
        },
        "support:support": UNKNOWN,
    }
    assert verdicts.incidents is None
    assert verdicts.indicator == "minor"


def test_verdict_map_uses_text_cell_ids() -> None:
    """The history gets ``product:key`` → verdict."""
    assert compute_verdicts(everything(), T).verdict_map()["billing:recurring"] == OPERATIONAL


# --- overall indicator ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("verdicts", "incident", "document_ok", "indicator"),
    [
        ([OPERATIONAL], False, True, "none"),
        ([OPERATIONAL], True, True, "minor"),
        ([OPERATIONAL, UNKNOWN], False, True, "minor"),
        ([OPERATIONAL, DEGRADED], False, True, "minor"),
        ([DEGRADED, PARTIAL], True, True, "major"),
        ([MAJOR, UNKNOWN], False, True, "major"),
        ([MAJOR], True, False, "critical"),
        ([OPERATIONAL], False, False, "critical"),
        ([], False, True, "none"),
    ],
)
def test_indicator_precedence(
    verdicts: list[str], incident: bool, document_ok: bool, indicator: str
) -> None:
    """critical (error document) > major (partial/major outage) > minor (degraded, unknown,
    active incident) > none."""
    assert overall_indicator(verdicts, incident, document_ok=document_ok) == indicator


def test_indicator_from_records() -> None:
    """compute_verdicts feeds cells and active incidents into the indicator."""
    assert compute_verdicts(everything(), T).indicator == "none"
    active = [IncidentRecord("db", "closed"), IncidentRecord("network", "active")]
    assert compute_verdicts(everything(incident=active), T).indicator == "minor"
    down = BillingRecord(True, True, False, True, True, True)
    assert compute_verdicts(everything(incident=active, billing=[down]), T).indicator == "major"
    assert compute_verdicts(everything(), T, document_ok=False).indicator == "critical"
    assert compute_verdicts(everything(), T, stale={"sms"}).indicator == "minor"


def test_worst_verdict_ranks_unknown_between_up_and_degraded() -> None:
    """Groups show their worst cell; unknown beats operational but not degraded."""
    assert worst_verdict([OPERATIONAL, UNKNOWN]) == UNKNOWN
    assert worst_verdict([UNKNOWN, DEGRADED]) == DEGRADED
    assert worst_verdict([PARTIAL, MAJOR, OPERATIONAL]) == MAJOR
    assert worst_verdict([]) == UNKNOWN


def test_rule_texts_state_the_configured_thresholds() -> None:
    """The tooltip texts and numbers follow the configured thresholds."""
    t = replace(
        T, sms_min_bandwidth=33, voice_min_connection_stability=0.75, email_max_delivery_time=250
    )
    rules = rule_texts(t)
    assert rules["sms"]["min_bandwidth"] == 33
    assert "bandwidth ≥ 33 %" in rules["sms"]["text"]
    assert "connection_stability ≥ 0.75" in rules["voice"]["text"]
    assert rules["email"] == {"text": "good when delivery_time ≤ 250 ms", "max_delivery_time": 250}


def test_cell_names() -> None:
    """Countries by their ISO short name; billing functions and support by words."""
    assert cell_name("sms", "RU") == "Russian Federation"
    assert cell_name("voice", "BL") == "Saint Barthélemy"
    assert cell_name("billing", "fraud_control") == "Fraud control"
    assert cell_name("support", "support") == "Support"


# --- timeline ---------------------------------------------------------------------------------


def test_timeline_keeps_first_seen_and_moves_changed_at_on_change() -> None:
    """A cell's first_seen never moves; changed_at moves only when its verdict changes."""
    good = compute_verdicts(everything(), T)
    bad = compute_verdicts(everything(sms=[sms(bandwidth=0)]), T)
    t1 = advance_timeline(Timeline(), good, 100.0)
    t2 = advance_timeline(t1, good, 200.0)
    t3 = advance_timeline(t2, bad, 300.0)
    assert t2.cells["sms:DE"] == CellClock(OPERATIONAL, 100.0, 100.0)
    assert t3.cells["sms:DE"] == CellClock(DEGRADED, 100.0, 300.0)
    assert t3.cells["mms:DE"] == CellClock(OPERATIONAL, 100.0, 100.0)


def test_incidents_open_resolve_and_reopen_with_stable_ids() -> None:
    """Active opens an investigating incident; closed resolves it; active again opens a new one
    that records the one it reopens."""

    def at(status: str, now: float, timeline: Timeline) -> Timeline:
        verdicts = compute_verdicts(everything(incident=[IncidentRecord("db", status)]), T)
        return advance_timeline(timeline, verdicts, now)

    opened = at("active", 1000.0, Timeline())
    [incident] = opened.incidents
    assert (incident.status, incident.started_at, incident.resolved_at) == (
        "investigating",
        1000.0,
        None,
    )
    assert incident.id == incident_id("db", 1000.0)
    assert at("active", 1030.0, opened) == opened
    resolved = at("closed", 1060.0, opened)
    assert [(i.id, i.status, i.resolved_at) for i in resolved.incidents] == [
        (incident.id, "resolved", 1060.0)
    ]
    assert at("closed", 1090.0, resolved).incidents == resolved.incidents
    reopened = at("active", 2000.0, resolved)
    assert [i.status for i in reopened.incidents] == ["investigating", "resolved"]
    assert reopened.incidents[0].id != incident.id
    assert (reopened.incidents[0].reopens, incident.reopens) == (incident.id, None)


def test_incident_first_seen_closed_is_resolved_at_once_and_vanished_topic_resolves() -> None:
    """A topic first seen closed is resolved at once; an open one gone from the source resolves."""
    records = [IncidentRecord("old", "closed"), IncidentRecord("new", "active")]
    t1 = advance_timeline(Timeline(), compute_verdicts(everything(incident=records), T), 10.0)
    assert {i.topic: i.status for i in t1.incidents} == {"old": "resolved", "new": "investigating"}
    t2 = advance_timeline(t1, compute_verdicts(everything(incident=[]), T), 20.0)
    assert {i.topic: (i.status, i.resolved_at) for i in t2.incidents} == {
        "old": ("resolved", 10.0),
        "new": ("resolved", 20.0),
    }


def test_incidents_unchanged_while_the_source_never_answered() -> None:
    """Without any incident result (None), open incidents stay open."""
    t1 = advance_timeline(
        Timeline(), compute_verdicts(everything(incident=[IncidentRecord("x", "active")]), T), 1.0
    )
    t2 = advance_timeline(t1, compute_verdicts(everything(incident=None), T), 2.0)
    assert t2.incidents == t1.incidents


def test_resolved_incidents_are_capped() -> None:
    """Only the newest keep_resolved resolved incidents are kept; open ones always."""
    timeline = Timeline()
    for n in range(10):
        records = [IncidentRecord(f"t{n}", "closed"), IncidentRecord("open", "active")]
        timeline = advance_timeline(
            timeline, compute_verdicts(everything(incident=records), T), float(n), keep_resolved=3
        )
    assert [i.topic for i in timeline.incidents] == ["t9", "t8", "t7", "open"]


def test_many_closed_topics_keep_their_ids() -> None:
    """More closed topics than keep_resolved: the ones still listed keep their incident ids."""
    records = [IncidentRecord(f"t{n:02d}", "closed") for n in range(80)]
    verdicts = compute_verdicts(everything(incident=records), T)
    t1 = advance_timeline(Timeline(), verdicts, 10.0, keep_resolved=5)
    t2 = advance_timeline(t1, verdicts, 20.0, keep_resolved=5)
    assert len(t1.incidents) == 80
    assert t2 == t1
    gone = advance_timeline(t2, compute_verdicts(everything(incident=[]), T), 30.0, keep_resolved=5)
    assert len(gone.incidents) == 5
