"""The planner's and the senders' side of the subscription tables (``PlannerStore``,
``OutboxStore`` of ``subscriptions.model``).

``record_event`` is the decision: in one transaction the event, one outbox entry per active
subscriber it concerns and the new notified verdicts. Entries are claimed (``claimed_until``,
``claimed_by``) so two senders, or two replicas, never send the same entry at once: on
PostgreSQL the claiming ``SELECT`` locks the rows it picks (``FOR UPDATE … SKIP LOCKED``), so a
replica claiming at the same instant takes the next ones; on SQLite the claim is one
``BEGIN IMMEDIATE`` transaction. A claim that runs out, or is released when the same replica's
senders start again (``release_claims``: a daemon killed mid-send), makes the entry due again:
at least once, with the same message id.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from statusd.storage.engine import Connection
from statusd.subscriptions.codec import (
    columns_of,
    event_from_json,
    event_to_json,
    scope_from_texts,
    subscription_from_row,
)
from statusd.subscriptions.database import Database
from statusd.subscriptions.model import Channel, NotificationEvent, OutboxEntry, OutboxStats
from statusd.subscriptions.tokens import event_message_prefix

log = logging.getLogger("statusd.subscriptions")

EVENT_KEEP_SECONDS = 7 * 86400
"""An event is kept this long after its last entry went, so a replayed decision (another
replica, a restart) is recognised by its id and not sent twice."""


class OutboxQueries(Database):
    """``PlannerStore`` and ``OutboxStore`` over the subscription tables."""

    # --- PlannerStore ------------------------------------------------------------------------

    def notified(self) -> dict[str, str]:
        with self._read() as conn:
            return dict(conn.execute("SELECT cell, verdict FROM notified").fetchall())

    def record_event(
        self, event: NotificationEvent, notified: Mapping[str, str], now: float
    ) -> int:
        with self._write() as conn:
            if conn.execute(
                "SELECT 1 FROM notification_events WHERE id = ?", (event.id,)
            ).fetchone():
                return 0
            conn.execute(
                "DELETE FROM notification_events WHERE occurred_at < ? AND NOT EXISTS "
                "(SELECT 1 FROM outbox WHERE outbox.event_id = notification_events.id)",
                (now - EVENT_KEEP_SECONDS,),
            )
            conn.execute(
                "INSERT INTO notification_events (id, type, occurred_at, body) VALUES (?, ?, ?, ?)",
                (event.id, event.type, event.occurred_at, event_to_json(event)),
            )
            added = self._add_entries(conn, event, now)
            self._set_notified(conn, notified, now)
            return added

    def record_notified(self, notified: Mapping[str, str], now: float) -> None:
        """Set notified verdicts without an event: the silent first records (a cell or an
        incident seen for the first time) are kept before any event comes."""
        if notified:
            with self._write() as conn:
                self._set_notified(conn, notified, now)

    @staticmethod
    def _set_notified(conn: Connection, notified: Mapping[str, str], now: float) -> None:
        conn.executemany(
            "INSERT INTO notified (cell, verdict, at) VALUES (?, ?, ?) "
            "ON CONFLICT (cell) DO UPDATE SET verdict = excluded.verdict, at = excluded.at",
            [(cell, verdict, now) for cell, verdict in notified.items()],
        )

    @staticmethod
    def _add_entries(conn: Connection, event: NotificationEvent, now: float) -> int:
        """One entry per active subscription ``event`` concerns. Subscribers share few
        scopes: each distinct scope is judged once (``for_scope``), then SQLite copies the
        subscriptions of the scopes told, without a row passing through Python."""
        scopes = conn.execute(
            "SELECT DISTINCT products, countries FROM subscriptions WHERE state = 'active'"
        ).fetchall()
        told = [
            (products, countries)
            for products, countries in scopes
            if event.for_scope(scope_from_texts(products, countries)) is not None
        ]
        if not told:
            return 0
        insert = (
            "INSERT INTO outbox (event_id, subscription_id, message_id, created_at, "
            "next_attempt_at) SELECT ?, s.id, ? || s.id, ?, ? FROM subscriptions s "
        )
        parameters = (event.id, event_message_prefix(event.id), now, now)
        if len(told) == len(scopes):
            return conn.execute(insert + "WHERE s.state = 'active'", parameters).rowcount
        columns = (
            "(products TEXT NOT NULL, countries TEXT NOT NULL, PRIMARY KEY (products, countries))"
        )
        if conn.dialect == "postgresql":
            conn.execute(f"CREATE TEMP TABLE told_scopes {columns} ON COMMIT DROP")
        else:
            conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS told_scopes {columns}")
            conn.execute("DELETE FROM told_scopes")
        conn.executemany("INSERT INTO told_scopes (products, countries) VALUES (?, ?)", told)
        return conn.execute(
            insert + "JOIN told_scopes t ON s.products = t.products "
            "AND s.countries = t.countries WHERE s.state = 'active'",
            parameters,
        ).rowcount

    # --- OutboxStore -------------------------------------------------------------------------

    def claim_due(
        self, now: float, limit: int, claim_seconds: float, channel: Channel | None = None
    ) -> Sequence[OutboxEntry]:
        """Due entries, oldest due first (of ``channel``'s subscriptions only, when given);
        the event of each is the part in its subscriber's scope; an email entry carries the
        subscriber's manage token (``List-Unsubscribe``). A confirmation whose subscription
        has expired is not sent any more. The entries are claimed by this store's ``owner``
        until ``now + claim_seconds``; on PostgreSQL rows another replica is claiming are
        skipped (``SKIP LOCKED``), never waited for or taken twice."""
        lock = " FOR UPDATE OF o SKIP LOCKED" if self.engine.dialect == "postgresql" else ""
        of_channel, parameters = _of_channel("s.channel", channel)
        with self._write() as conn:
            rows = conn.execute(
                "SELECT o.id, o.message_id, o.event_id, o.confirm_token, o.attempts, "
                f"o.created_at, o.next_attempt_at, e.body, {columns_of('s')} "
                "FROM outbox o JOIN subscriptions s ON s.id = o.subscription_id "
                "LEFT JOIN notification_events e ON e.id = o.event_id "
                "WHERE o.next_attempt_at <= ? "
                "AND (o.claimed_until IS NULL OR o.claimed_until <= ?) "
                "AND s.state <> 'disabled' "
                "AND NOT (s.state = 'pending' AND s.expires_at <= ?) "
                f"{of_channel}ORDER BY o.next_attempt_at, o.id LIMIT ?{lock}",
                (now, now, now, *parameters, limit),
            ).fetchall()
            conn.executemany(
                "UPDATE outbox SET claimed_until = ?, claimed_by = ? WHERE id = ?",
                [(now + claim_seconds, self.owner, row[0]) for row in rows],
            )
        events: dict[str, NotificationEvent] = {}
        entries = []
        for row in rows:
            entry_id, message_id, event_id, confirm_token, attempts, created, due, body = row[:8]
            subscription = subscription_from_row(row[8:])
            event = None
            if event_id is not None:
                whole = events.get(event_id)
                if whole is None:
                    whole = events[event_id] = event_from_json(event_id, body)
                event = whole.for_scope(subscription.scope) or whole
            entries.append(
                OutboxEntry(
                    id=entry_id,
                    message_id=message_id,
                    subscription=subscription,
                    event=event,
                    confirm_token=confirm_token,
                    attempts=attempts,
                    created_at=created,
                    next_attempt_at=due,
                    manage_token=self.token_key.token_for(subscription.id)
                    if subscription.channel == "email"
                    else None,
                )
            )
        return entries

    def release_claims(self, channel: Channel | None = None) -> int:
        """Release this store's ``owner``'s claims (of ``channel``'s subscriptions only, when
        given; and those of a version that did not name its claims), never another
        replica's."""
        of_channel, parameters = _of_channel(
            "subscription_id IN (SELECT id FROM subscriptions WHERE channel = ?)", channel
        )
        with self._write() as conn:
            released: int = conn.execute(
                "UPDATE outbox SET claimed_until = NULL, claimed_by = NULL "
                "WHERE claimed_until IS NOT NULL AND (claimed_by = ? OR claimed_by IS NULL) "
                + of_channel,
                (self.owner, *parameters),
            ).rowcount
        return released

    def delivered(self, entry: OutboxEntry, now: float) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM outbox WHERE id = ?", (entry.id,))
            conn.execute(
                "UPDATE subscriptions SET failing_since = NULL "
                "WHERE id = ? AND failing_since IS NOT NULL",
                (entry.subscription.id,),
            )

    def retry_later(self, entry: OutboxEntry, at: float, error: str, now: float) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, "
                "claimed_until = NULL, claimed_by = NULL, last_error = ? WHERE id = ?",
                (at, error[:1000], entry.id),
            )
            self._failing(conn, entry, now)

    def give_up(self, entry: OutboxEntry, error: str, now: float) -> None:
        log.warning(
            "notification given up",
            extra={
                "subscription": entry.subscription.id,
                "message_id": entry.message_id,
                "attempts": entry.attempts + 1,
                "error": error[:1000],
            },
        )
        with self._write() as conn:
            conn.execute("DELETE FROM outbox WHERE id = ?", (entry.id,))
            self._failing(conn, entry, now)

    @staticmethod
    def _failing(conn: Connection, entry: OutboxEntry, now: float) -> None:
        if entry.subscription.channel == "webhook":
            conn.execute(
                "UPDATE subscriptions SET failing_since = COALESCE(failing_since, ?) WHERE id = ?",
                (now, entry.subscription.id),
            )

    def unsubscribe(self, subscription_id: str) -> None:
        with self._write() as conn:
            self._delete(conn, "id = ?", (subscription_id,))

    def disable(self, subscription_id: str, now: float) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM outbox WHERE subscription_id = ?", (subscription_id,))
            conn.execute(
                "UPDATE subscriptions SET state = 'disabled', "
                "failing_since = COALESCE(failing_since, ?) WHERE id = ?",
                (now, subscription_id),
            )

    def stats(self, now: float) -> OutboxStats:
        with self._read() as conn:
            depth, oldest = conn.execute("SELECT COUNT(*), MIN(created_at) FROM outbox").fetchone()
        return OutboxStats(depth=depth, oldest_created_at=oldest)

    @staticmethod
    def _delete(conn: Connection, where: str, parameters: tuple[object, ...]) -> list[str]:
        """Delete the subscriptions matching ``where`` and their outbox entries; their ids."""
        ids: list[str] = [
            row[0]
            for row in conn.execute(f"SELECT id FROM subscriptions WHERE {where}", parameters)
        ]
        for subscription_id in ids:
            conn.execute("DELETE FROM outbox WHERE subscription_id = ?", (subscription_id,))
            conn.execute("DELETE FROM subscriptions WHERE id = ?", (subscription_id,))
        return ids


def _of_channel(condition: str, channel: Channel | None) -> tuple[str, tuple[str, ...]]:
    """``AND <condition> `` and its parameter for one channel; nothing for every channel.
    (Not ``? IS NULL OR …``: PostgreSQL cannot type a parameter that is only compared with
    NULL.)"""
    if channel is None:
        return "", ()
    if "?" not in condition:
        condition += " = ?"
    return f"AND {condition} ", (channel,)
