"""Benchmark of the subscription store at 100,000 subscribers (not run by the tests).

Fills the subscription tables of a fresh history database with confirmed subscribers (a mix
of scopes: everything, one product, a few countries), then times what the planner and the
senders do with it: ``record_event`` for a change every subscriber is told about and for one
a small part is, ``claim_due`` in batches, ``delivered`` per entry; and the database size.

    .venv/bin/python bench/subscriptions_bench.py                  # 100,000 subscribers
    .venv/bin/python bench/subscriptions_bench.py --subscribers 10000 --json out.json
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from statusd.subscriptions.codec import scope_texts
from statusd.subscriptions.model import Change, NotificationEvent, Scope
from statusd.subscriptions.store import SubscriptionStore
from statusd.subscriptions.tokens import new_subscription_id, new_token, token_digest

NOW = 1_780_000_000.0
COUNTRIES = ("DE", "FR", "RU", "US", "GB", "IT", "ES", "PL", "NL", "SE", "TR", "BR")


def random_scope(rng: random.Random) -> Scope:
    """30 % everything, 30 % one product everywhere, 40 % one or two products in 1–3
    countries (none of them ``AQ``, the country of the narrow event)."""
    roll = rng.random()
    if roll < 0.3:
        return Scope()
    products = frozenset(rng.sample(("sms", "mms", "voice", "email"), 1 if roll < 0.6 else 2))
    if roll < 0.6:
        return Scope(products)
    return Scope(products, frozenset(rng.sample(COUNTRIES, rng.randint(1, 3))))


def fill(path: Path, count: int, rng: random.Random) -> float:
    """Insert ``count`` active email subscriptions in one transaction; the seconds taken."""
    started = time.perf_counter()
    with sqlite3.connect(path) as conn:
        rows = []
        for number in range(count):
            products, countries = scope_texts(random_scope(rng))
            rows.append(
                (
                    new_subscription_id(),
                    f"user{number}@example.com",
                    products,
                    countries,
                    token_digest(new_token()),
                    NOW,
                )
            )
        conn.executemany(
            "INSERT INTO subscriptions (id, channel, address, products, countries, lang, "
            "token_digest, state, created_at, confirmed_at) "
            "VALUES (?, 'email', ?, ?, ?, 'en', ?, 'active', ?, ?)",
            [(*row, NOW) for row in rows],
        )
    return time.perf_counter() - started


def cell_change(product: str, country: str) -> Change:
    return Change(product, country, country, f"{product}-{country}", "operational", "major_outage")


def checkpointed_size(path: Path) -> int:
    """The file's size once the WAL is folded in and free pages are dropped."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    with sqlite3.connect(path, isolation_level=None) as conn:
        conn.execute("VACUUM")
    conn.close()
    return path.stat().st_size


def timed(label: str, results: dict[str, Any], call: Any, *args: Any) -> Any:
    started = time.perf_counter()
    value = call(*args)
    results[label] = round(time.perf_counter() - started, 3)
    print(f"{label:<36} {results[label]:>8.3f} s", file=sys.stderr)
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500, help="claim_due limit")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    rng = random.Random(18)
    results: dict[str, Any] = {"subscribers": args.subscribers}
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "history.sqlite3"
        SubscriptionStore.open(path).close()
        results["fill_seconds"] = round(fill(path, args.subscribers, rng), 3)
        store = SubscriptionStore.open(path)
        results["database_bytes_subscriptions"] = checkpointed_size(path)
        everyone = NotificationEvent("all", "incident.opened", NOW, incident={"id": "i1"})
        one_cell = NotificationEvent("sms-de", "status.changed", NOW, (cell_change("sms", "DE"),))
        nobody = NotificationEvent("voice-aq", "status.changed", NOW, (cell_change("voice", "AQ"),))
        for event in (everyone, one_cell, nobody):
            label = f"record_event ({event.id})"
            results[f"entries ({event.id})"] = timed(
                label, results, store.record_event, event, {}, NOW
            )
        results["database_bytes_with_outbox"] = checkpointed_size(path)
        timed("count()", results, store.count)
        timed("stats()", results, store.stats, NOW)
        claimed = delivered = 0
        claim_seconds = deliver_seconds = 0.0
        while True:
            started = time.perf_counter()
            batch = store.claim_due(NOW + 1, args.batch, 60)
            claim_seconds += time.perf_counter() - started
            if not batch:
                break
            claimed += len(batch)
            started = time.perf_counter()
            for entry in batch:
                store.delivered(entry, NOW + 2)
            deliver_seconds += time.perf_counter() - started
            delivered += len(batch)
        results["claimed"] = claimed
        results["claim_due_total_seconds"] = round(claim_seconds, 3)
        results["delivered_per_entry_us"] = round(deliver_seconds / max(1, delivered) * 1e6, 1)
        store.close()
        results["database_bytes_after_delivery"] = checkpointed_size(path)
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
