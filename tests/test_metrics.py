"""Prometheus metrics: scrape the text format and watch the numbers move."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from statusd.metrics import DURATION_BUCKETS, UNMATCHED_ROUTE, Metrics

SOURCES = ("sms", "mms", "voice_call", "email", "billing", "support", "incident")


def scrape(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape, keyed by (sample name, labels)."""
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return scrape(metrics).get((name, frozenset(labels.items())))


def test_every_source_starts_at_zero() -> None:
    """Before any collection every source has its counters at 0 and no last success."""
    metrics = Metrics(SOURCES)
    for source in SOURCES:
        assert value(metrics, "statusd_collections_total", source=source) == 0
        assert value(metrics, "statusd_collection_failures_total", source=source) == 0
        assert value(metrics, "statusd_collection_duration_seconds_count", source=source) == 0
        assert (
            value(metrics, "statusd_source_last_success_timestamp_seconds", source=source) is None
        )


def test_success_moves_collections_and_last_success() -> None:
    """A good collection counts, sets the last-success time and adds its skipped records."""
    metrics = Metrics(SOURCES)
    metrics.collection_finished(
        "sms",
        ok=True,
        duration_seconds=0.004,
        finished_at=1_800_000_000.5,
        skipped={"country": 2, "provider": 1, "bandwidth": 0},
    )
    assert value(metrics, "statusd_collections_total", source="sms") == 1
    assert value(metrics, "statusd_collection_failures_total", source="sms") == 0
    assert (
        value(metrics, "statusd_source_last_success_timestamp_seconds", source="sms")
        == 1_800_000_000.5
    )
    assert value(metrics, "statusd_skipped_records_total", source="sms", reason="country") == 2
    assert value(metrics, "statusd_skipped_records_total", source="sms", reason="provider") == 1
    # A zero count creates no series: reasons appear only once they happen.
    assert value(metrics, "statusd_skipped_records_total", source="sms", reason="bandwidth") is None
    assert value(metrics, "statusd_collections_total", source="mms") == 0


def test_failure_counts_and_keeps_the_last_success() -> None:
    """A failed collection counts as a collection and a failure; last success stays."""
    metrics = Metrics(SOURCES)
    metrics.collection_finished("mms", ok=True, duration_seconds=0.1, finished_at=100.0, skipped={})
    metrics.collection_finished(
        "mms", ok=False, duration_seconds=5.0, finished_at=130.0, skipped={}
    )
    metrics.collection_finished(
        "mms", ok=False, duration_seconds=5.0, finished_at=160.0, skipped={}
    )
    assert value(metrics, "statusd_collections_total", source="mms") == 3
    assert value(metrics, "statusd_collection_failures_total", source="mms") == 2
    assert value(metrics, "statusd_source_last_success_timestamp_seconds", source="mms") == 100.0


def test_duration_histogram() -> None:
    """Durations land in buckets from 1 ms to 30 s; count and sum follow."""
    metrics = Metrics(SOURCES)
    for seconds in (0.0005, 0.02, 3.0, 45.0):
        metrics.collection_finished(
            "email", ok=True, duration_seconds=seconds, finished_at=1.0, skipped={}
        )
    name = "statusd_collection_duration_seconds"
    assert DURATION_BUCKETS[0] == 0.001
    assert DURATION_BUCKETS[-1] == 30.0

    def bucket(le: str) -> float | None:
        return value(metrics, f"{name}_bucket", source="email", le=le)

    assert bucket("0.001") == 1
    assert bucket("0.025") == 2
    assert bucket("5.0") == 3
    assert bucket("30.0") == 3
    assert bucket("+Inf") == 4
    assert value(metrics, f"{name}_count", source="email") == 4
    assert value(metrics, f"{name}_sum", source="email") == pytest.approx(48.0205)


def test_http_requests_by_route_and_status() -> None:
    """Responses are counted by route pattern and status code."""
    metrics = Metrics(SOURCES)
    metrics.request_served("/api", 200)
    metrics.request_served("/api", 200)
    metrics.request_served("/api", 304)
    metrics.request_served("/badge/<product>/<country>.svg", 404)
    metrics.request_served("", 404)
    assert value(metrics, "statusd_http_requests_total", route="/api", status="200") == 2
    assert value(metrics, "statusd_http_requests_total", route="/api", status="304") == 1
    assert (
        value(
            metrics,
            "statusd_http_requests_total",
            route="/badge/<product>/<country>.svg",
            status="404",
        )
        == 1
    )
    assert value(metrics, "statusd_http_requests_total", route=UNMATCHED_ROUTE, status="404") == 1


def test_instances_do_not_share_state() -> None:
    """Two apps in one process keep separate registries, never the global one."""
    first, second = Metrics(SOURCES), Metrics(SOURCES)
    first.collection_finished("sms", ok=False, duration_seconds=1, finished_at=1, skipped={})
    assert value(first, "statusd_collections_total", source="sms") == 1
    assert value(second, "statusd_collections_total", source="sms") == 0
    assert REGISTRY.get_sample_value("statusd_collections_total", {"source": "sms"}) is None


def test_help_and_type_lines() -> None:
    """The exposition declares every series of SPEC §4 with its type."""
    body, _ = Metrics(SOURCES).render()
    text = body.decode()
    for name, kind in [
        ("statusd_collections_total", "counter"),
        ("statusd_collection_failures_total", "counter"),
        ("statusd_source_last_success_timestamp_seconds", "gauge"),
        ("statusd_skipped_records_total", "counter"),
        ("statusd_collection_duration_seconds", "histogram"),
        ("statusd_http_requests_total", "counter"),
    ]:
        assert f"# TYPE {name} {kind}\n" in text


@given(st.lists(st.tuples(st.sampled_from(SOURCES), st.booleans()), max_size=30))
def test_totals_match_the_history(history: list[tuple[str, bool]]) -> None:
    """For any sequence of results, collections and failures per source add up."""
    metrics = Metrics(SOURCES)
    for source, ok in history:
        metrics.collection_finished(source, ok=ok, duration_seconds=0.01, finished_at=1, skipped={})
    samples = scrape(metrics)
    for source in SOURCES:
        results = [ok for name, ok in history if name == source]
        labels = frozenset({("source", source)})
        assert samples[("statusd_collections_total", labels)] == len(results)
        assert samples[("statusd_collection_failures_total", labels)] == results.count(False)


def test_leader_gauge_and_terms_follow_the_leadership() -> None:
    """statusd_leader is 1 during a term and 0 between; each term counts once."""
    metrics = Metrics(SOURCES)
    assert value(metrics, "statusd_leader") == 0
    assert value(metrics, "statusd_leader_terms_total") == 0
    for leading in (True, False, True):
        metrics.leadership_changed(leading)
        assert value(metrics, "statusd_leader") == (1 if leading else 0)
    assert value(metrics, "statusd_leader_terms_total") == 2
