"""How big and how long each measurement is: the full run (``make bench``) or the smoke run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Sizes:
    """Every knob of the benchmarks in one place."""

    wrk_seconds: int
    """Length of one wrk run (issue 7: 10 s)."""
    connections: int
    """wrk connections for /api throughput (issue 7: 32)."""
    repeats: int
    """Alternating runs of each side of a comparison; medians are compared."""
    nginx_kill_seconds: int
    """Length of the wrk run during which one statusd upstream is killed."""
    big_rows: int
    """Rows per data file for the big-input measurement (issue 7: 1,000,000)."""
    big_connections: int
    """wrk connections while the big collection runs (issue 7: 8)."""
    start_repeats: int
    """Cold starts timed for start-to-ready."""
    settle_seconds: float
    """Idle time before idle RSS is read, and load time before SIGTERM is sent."""
    crowd_direct_pages: int
    """Open pages directly against one statusd (issue 16: 5,000)."""
    crowd_nginx_pages: int
    """Open pages through nginx in front of two replicas (issue 16: 10,000)."""
    crowd_observe_seconds: float
    """How long a change is given to reach the pages (and the pages after a kill)."""
    crowd_poll_seconds: float
    """The polling pages' interval (the page's default: 10 s)."""
    crowd_processes: int
    """Processes the crowd through nginx is split over (one Python process cannot read
    10,000 events and send 10,000 requests in a second)."""
    crowd_go: bool
    """The crowd runs the Go client (``bench/crowd_go``, built once per run) when ``go`` is on
    PATH; else, and in the smoke run (``make test`` needs no Go), the Python one."""
    notify_emails: int
    """Confirmed email subscribers told of one change (issue 18: 100,000)."""
    notify_webhooks: int
    """Webhook subscriptions told of one change (issue 18: 1,000)."""
    notify_blast: int
    """Messages the plain smtplib client sends to measure the sink's own rate."""


FULL = Sizes(
    wrk_seconds=10,
    connections=32,
    repeats=3,
    nginx_kill_seconds=10,
    big_rows=1_000_000,
    big_connections=8,
    start_repeats=5,
    settle_seconds=2.0,
    crowd_direct_pages=5000,
    crowd_nginx_pages=10_000,
    crowd_observe_seconds=35.0,
    crowd_poll_seconds=10.0,
    crowd_processes=2,
    crowd_go=True,
    notify_emails=100_000,
    notify_webhooks=1_000,
    notify_blast=20_000,
)

SMOKE = Sizes(
    wrk_seconds=1,
    connections=4,
    repeats=1,
    nginx_kill_seconds=3,
    big_rows=2_000,
    big_connections=2,
    start_repeats=1,
    settle_seconds=0.5,
    crowd_direct_pages=50,
    crowd_nginx_pages=100,
    crowd_observe_seconds=8.0,
    crowd_poll_seconds=2.0,
    crowd_processes=2,
    crowd_go=False,
    notify_emails=300,
    notify_webhooks=30,
    notify_blast=300,
)
