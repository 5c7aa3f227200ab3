"""The tables of subscriptions and notifications, in the history database (SPEC §8).

Written for SQLite and run on PostgreSQL through ``storage.engine.ddl`` (SPEC §11 puts the
same tables there): no SQLite-only types, instants as UNIX seconds in REAL (DOUBLE PRECISION
on PostgreSQL) columns, digests and keys in BLOB (BYTEA).

Why one global ``notified`` table and not a verdict per subscriber: every subscriber in scope
is told every settled change, so the last verdict a subscriber was told is the cell's last
notified verdict (a new subscriber starts from the current one). That is one row per cell, not
one per subscriber and cell. A subscriber's message is the part of an event in its scope,
computed when it is sent, so an outbox entry is small (an event id and a subscriber).
"""

from __future__ import annotations

SUBSCRIPTION_TABLES = (
    """CREATE TABLE IF NOT EXISTS subscriptions (
        id TEXT PRIMARY KEY,
        channel TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
        address TEXT NOT NULL,
        format TEXT,
        products TEXT NOT NULL,
        countries TEXT NOT NULL,
        lang TEXT NOT NULL,
        secret TEXT,
        token_digest BLOB NOT NULL UNIQUE,
        confirm_digest BLOB UNIQUE,
        state TEXT NOT NULL CHECK (state IN ('pending', 'active', 'disabled')),
        created_at REAL NOT NULL,
        confirmed_at REAL,
        expires_at REAL,
        failing_since REAL
    )""",
    # One active email subscription per address: confirming a new scope replaces the old one.
    """CREATE UNIQUE INDEX IF NOT EXISTS subscriptions_active_email
        ON subscriptions (address) WHERE channel = 'email' AND state = 'active'""",
    # The planner's question: which active subscriptions share a scope (outbox.record_event).
    "CREATE INDEX IF NOT EXISTS subscriptions_scope ON subscriptions (state, products, countries)",
    "CREATE INDEX IF NOT EXISTS subscriptions_address ON subscriptions (address)",
    """CREATE TABLE IF NOT EXISTS notified (
        cell TEXT PRIMARY KEY,
        verdict TEXT NOT NULL,
        at REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS notification_events (
        id TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        occurred_at REAL NOT NULL,
        body TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS outbox (
        id INTEGER PRIMARY KEY,
        event_id TEXT REFERENCES notification_events (id),
        subscription_id TEXT NOT NULL,
        message_id TEXT NOT NULL UNIQUE,
        confirm_token TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        next_attempt_at REAL NOT NULL,
        claimed_until REAL,
        claimed_by TEXT,
        last_error TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS outbox_due ON outbox (next_attempt_at)",
    "CREATE INDEX IF NOT EXISTS outbox_event ON outbox (event_id)",
    "CREATE INDEX IF NOT EXISTS outbox_subscription ON outbox (subscription_id)",
    # Secrets of the subscriptions themselves: the key that derives email manage tokens
    # (subscriptions.tokens.TokenKey). In the database so every replica (SPEC §11) has it.
    """CREATE TABLE IF NOT EXISTS subscription_keys (
        name TEXT PRIMARY KEY,
        key BLOB NOT NULL
    )""",
)
"""Created (if missing) when the database is opened; see the module docstring."""

OUTBOX_UPGRADES = (
    # Whose claim it is (``database.replica_owner``): a replica releases only its own.
    ("claimed_by", "ALTER TABLE outbox ADD COLUMN claimed_by TEXT"),
)
"""Columns added to ``outbox`` since it was first created: (column, statement), run on an
older SQLite file that lacks the column."""
