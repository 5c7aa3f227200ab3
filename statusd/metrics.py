"""Prometheus metrics for ``GET /metrics`` (SPEC §4), on a registry of their own.

Each ``Metrics`` owns a ``CollectorRegistry``: nothing touches prometheus-client's global
registry, so several apps in one test process never collide. Series::

    statusd_collections_total{source}                   collections finished (ok or not)
    statusd_collection_failures_total{source}           collections that failed
    statusd_source_last_success_timestamp_seconds{source}  Unix time of the last success
    statusd_skipped_records_total{source,reason}        records skipped, by reason
    statusd_collection_duration_seconds{source}         histogram, 1 ms .. 30 s
    statusd_http_requests_total{route,status}           responses, by route pattern
    statusd_notifications_total{channel,result}         outbox sends, by channel and result
    statusd_outbox_depth                                entries waiting in the outbox
    statusd_outbox_oldest_entry_age_seconds             age of the oldest entry (0 if none)
    statusd_event_streams_open                          /api/events streams open now
    statusd_event_streams_limit                         max_event_streams
    statusd_leader                                      1 while this replica leads, else 0
    statusd_leader_terms_total                          times this replica became the leader
    statusd_gc_full_collection_seconds                  histogram of the cyclic GC's full passes
    statusd_gc_freezes_total                            full passes after which the heap was frozen
    statusd_gc_frozen_objects                           objects out of the GC's sight now

Label values stay bounded: sources are the seven fixed names, reasons are the parsers'
short words, routes are route patterns (never raw paths) and statuses are HTTP codes.
Notification channels are ``email``/``webhook``, results the five ``NOTIFICATION_RESULTS``.
"""

from __future__ import annotations

import gc
from collections.abc import Mapping, Sequence

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

DURATION_BUCKETS: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
"""Collection duration buckets: a small file parses in about a millisecond; the default
deadline is 5 s and nothing should ever take longer than 30 s."""

GC_PAUSE_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
"""Full-collection buckets: 5-20 ms over statusd's own heap, 0.7 s over 5,000 open streams."""

NOTIFICATION_CHANNELS = ("email", "webhook")
NOTIFICATION_RESULTS = ("delivered", "retried", "given_up", "unsubscribed", "disabled")
"""What became of one send (``statusd.deliver.senders``)."""

UNMATCHED_ROUTE = "<unmatched>"
"""The ``route`` label for requests no route matched (404s): one series, not one per path."""


class Metrics:
    """The daemon's metrics; the supervisor and the app report events, /metrics renders."""

    def __init__(self, sources: Sequence[str]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._collections = Counter(
            "statusd_collections",
            "Collections finished, successful or not.",
            ["source"],
            registry=self.registry,
        )
        self._failures = Counter(
            "statusd_collection_failures",
            "Collections that failed (the source could not be read at all).",
            ["source"],
            registry=self.registry,
        )
        self._last_success = Gauge(
            "statusd_source_last_success_timestamp_seconds",
            "Unix time at which the last successful collection of the source finished.",
            ["source"],
            registry=self.registry,
        )
        self._skipped = Counter(
            "statusd_skipped_records",
            "Records skipped because they broke a rule, by reason.",
            ["source", "reason"],
            registry=self.registry,
        )
        self._duration = Histogram(
            "statusd_collection_duration_seconds",
            "Duration of one collection of one source, retries included.",
            ["source"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self._requests = Counter(
            "statusd_http_requests",
            "HTTP responses served, by route pattern and status code.",
            ["route", "status"],
            registry=self.registry,
        )
        self._notifications = Counter(
            "statusd_notifications",
            "Notification sends from the outbox, by channel and what became of the entry.",
            ["channel", "result"],
            registry=self.registry,
        )
        self._outbox_depth = Gauge(
            "statusd_outbox_depth",
            "Notifications waiting in the outbox (due or scheduled for a retry).",
            registry=self.registry,
        )
        self._outbox_oldest = Gauge(
            "statusd_outbox_oldest_entry_age_seconds",
            "Age of the oldest outbox entry; 0 when the outbox is empty.",
            registry=self.registry,
        )
        for channel in NOTIFICATION_CHANNELS:
            for result in NOTIFICATION_RESULTS:
                self._notifications.labels(channel=channel, result=result)
        self.event_streams_open = Gauge(
            "statusd_event_streams_open",
            "/api/events streams open now (statusd.serve.streams).",
            registry=self.registry,
        )
        self.event_streams_limit = Gauge(
            "statusd_event_streams_limit",
            "max_event_streams: streams beyond it get 503 and the page polls.",
            registry=self.registry,
        )
        self._leader = Gauge(
            "statusd_leader",
            "1 while this replica writes the history and sends notifications (SPEC §11).",
            registry=self.registry,
        )
        self._leader_terms = Counter(
            "statusd_leader_terms",
            "Times this replica became the leader (always 1 on SQLite).",
            registry=self.registry,
        )
        self._full_collections = Histogram(
            "statusd_gc_full_collection_seconds",
            "Full passes of the cyclic garbage collector, each holding the event loop.",
            buckets=GC_PAUSE_BUCKETS,
            registry=self.registry,
        )
        self._gc_freezes = Counter(
            "statusd_gc_freezes",
            "Full passes slow enough that the heap was frozen after them (statusd.long_lived).",
            registry=self.registry,
        )
        frozen = Gauge(
            "statusd_gc_frozen_objects",
            "Objects frozen out of the cyclic garbage collector's sight (gc.get_freeze_count).",
            registry=self.registry,
        )
        frozen.set_function(gc.get_freeze_count)
        # Create every per-source series at zero, so a scrape shows all sources from the
        # start and rate() works from the first collection on.
        for source in sources:
            self._collections.labels(source=source)
            self._failures.labels(source=source)
            self._duration.labels(source=source)

    def collection_finished(
        self,
        source: str,
        *,
        ok: bool,
        duration_seconds: float,
        finished_at: float,
        skipped: Mapping[str, int],
    ) -> None:
        """Count one finished collection; ``finished_at`` is Unix time (``time.time()``)."""
        self._collections.labels(source=source).inc()
        self._duration.labels(source=source).observe(max(duration_seconds, 0.0))
        if ok:
            self._last_success.labels(source=source).set(finished_at)
        else:
            self._failures.labels(source=source).inc()
        for reason, count in skipped.items():
            if count > 0:
                self._skipped.labels(source=source, reason=reason).inc(count)

    def request_served(self, route: str, status: int) -> None:
        """Count one response; ``route`` is the route pattern (``/badge/<p>/<c>.svg``)."""
        self._requests.labels(route=route or UNMATCHED_ROUTE, status=str(status)).inc()

    def notification_sent(self, channel: str, result: str, count: int = 1) -> None:
        """Count ``count`` sends; ``result`` is one of ``NOTIFICATION_RESULTS``."""
        self._notifications.labels(channel=channel, result=result).inc(count)

    def outbox_observed(self, depth: int, oldest_age_seconds: float) -> None:
        self._outbox_depth.set(depth)
        self._outbox_oldest.set(max(oldest_age_seconds, 0.0))

    def leadership_changed(self, leading: bool) -> None:
        """``Leadership.on_change``: this replica began (``True``) or ended a term."""
        self._leader.set(1 if leading else 0)
        if leading:
            self._leader_terms.inc()

    def full_collection(self, seconds: float, froze: bool) -> None:
        """``LongLivedObjects.on_full_collection``: one full pass of the cyclic collector."""
        self._full_collections.observe(seconds)
        if froze:
            self._gc_freezes.inc()

    def render(self) -> tuple[bytes, str]:
        """The exposition body and its ``Content-Type``."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
