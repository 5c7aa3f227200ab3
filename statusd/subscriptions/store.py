"""``SubscriptionStore``: the subscription tables in the history database (SPEC §8).

Synchronous, one transaction per method (``subscriptions.database``); the daemon calls it
through ``subscriptions.facade`` so the event loop never blocks. Besides the planner's and
the senders' protocols (``subscriptions.outbox``) it holds the public write path and the
operator's queries. Instants are UNIX seconds passed in by the caller.

Tokens are never stored, only their SHA-256 digests (``subscriptions.tokens``): a pending
email subscription has a confirmation token (sent once, kept in its outbox entry until the
email is accepted) and every subscription a manage token (webhooks: random, returned once;
email: derived from the id, so each notification can carry its unsubscribe link).
"""

from __future__ import annotations

from dataclasses import dataclass

from statusd.storage.engine import Connection
from statusd.subscriptions.codec import SUBSCRIPTION_COLUMNS, scope_texts, subscription_from_row
from statusd.subscriptions.model import Channel, Scope, Subscription, WebhookFormat
from statusd.subscriptions.outbox import OutboxQueries
from statusd.subscriptions.tokens import (
    new_message_id,
    new_subscription_id,
    new_token,
    new_webhook_secret,
    token_digest,
)

PENDING_SECONDS = 48 * 3600
"""An unconfirmed email subscription expires this long after it was made (SPEC §8)."""
MAX_PENDING_PER_ADDRESS = 3
"""More sign-ups of one address while this many wait for confirmation send nothing (the
answer stays the same): a stranger cannot flood someone's mailbox with confirmations."""


class SubscriptionsFull(Exception):
    """``max_subscriptions`` are stored; no new one is taken."""


@dataclass(frozen=True, slots=True)
class NewWebhook:
    """What the owner of a new webhook is told, once."""

    id: str
    secret: str
    token: str


class SubscriptionStore(OutboxQueries):
    """The subscription tables: write path, planner and senders, operators."""

    # --- the public write path ---------------------------------------------------------------

    def add_email(
        self, address: str, scope: Scope, lang: str, now: float, *, limit: int
    ) -> str | None:
        """A pending subscription of ``address`` and, in the same transaction, the outbox entry
        of its confirmation email; returns the confirmation token, or None when the address
        already has ``MAX_PENDING_PER_ADDRESS`` pending (nothing stored). Raises
        ``SubscriptionsFull``."""
        with self._write() as conn:
            self._expire(conn, now)
            (pending,) = conn.execute(
                "SELECT COUNT(*) FROM subscriptions WHERE address = ? AND channel = 'email' "
                "AND state = 'pending'",
                (address,),
            ).fetchone()
            if pending >= MAX_PENDING_PER_ADDRESS:
                return None
            self._check_room(conn, limit)
            subscription_id = new_subscription_id()
            confirm = new_token()
            self._insert(
                conn,
                subscription_id,
                "email",
                address,
                scope,
                lang,
                now,
                token=self.token_key.token_for(subscription_id),
                confirm_digest=token_digest(confirm),
                expires_at=now + PENDING_SECONDS,
            )
            conn.execute(
                "INSERT INTO outbox (event_id, subscription_id, message_id, confirm_token, "
                "created_at, next_attempt_at) VALUES (NULL, ?, ?, ?, ?, ?)",
                (subscription_id, new_message_id(), confirm, now, now),
            )
        return confirm

    def add_webhook(
        self, url: str, format: WebhookFormat, scope: Scope, lang: str, now: float, *, limit: int
    ) -> NewWebhook:
        """An active webhook subscription; raises ``SubscriptionsFull``."""
        with self._write() as conn:
            self._expire(conn, now)
            self._check_room(conn, limit)
            created = NewWebhook(new_subscription_id(), new_webhook_secret(), new_token())
            self._insert(
                conn,
                created.id,
                "webhook",
                url,
                scope,
                lang,
                now,
                token=created.token,
                format=format,
                secret=created.secret,
                state="active",
            )
        return created

    def pending_by_confirm_token(self, token: str, now: float) -> Subscription | None:
        """The subscription a confirmation link names (pending and not expired, or already
        confirmed by it), without changing anything: what the confirmation page shows."""
        with self._read() as conn:
            return self._by_confirm(conn, token, now)

    def confirm(self, token: str, now: float) -> Subscription | None:
        """Activate the subscription of a confirmation token (again: no change); an older
        active subscription of the same address is replaced (deleted with its entries)."""
        with self._write() as conn:
            found = self._by_confirm(conn, token, now)
            if found is None or found.state == "active":
                return found
            self._delete(
                conn,
                "channel = 'email' AND state = 'active' AND address = ?",
                (found.address,),
            )
            conn.execute(
                "UPDATE subscriptions SET state = 'active', confirmed_at = ?, expires_at = NULL "
                "WHERE id = ?",
                (now, found.id),
            )
            conn.execute(
                "DELETE FROM outbox WHERE subscription_id = ? AND event_id IS NULL", (found.id,)
            )
            return self._one(conn, "id = ?", found.id)

    def by_token(self, token: str) -> Subscription | None:
        """The subscription a manage token names (the unsubscribe page), changing nothing."""
        with self._read() as conn:
            return self._one(conn, "token_digest = ?", token_digest(token))

    def remove_by_token(self, token: str) -> Subscription | None:
        """Unsubscribe: delete the subscription a manage token names and its outbox entries;
        what it was, or None."""
        with self._write() as conn:
            found = self._one(conn, "token_digest = ?", token_digest(token))
            if found is not None:
                self._delete(conn, "id = ?", (found.id,))
        return found

    def delete_webhook(self, subscription_id: str, token: str) -> bool:
        """Delete a webhook by id when ``token`` is its manage token; False otherwise."""
        with self._write() as conn:
            return bool(
                self._delete(
                    conn,
                    "id = ? AND token_digest = ? AND channel = 'webhook'",
                    (subscription_id, token_digest(token)),
                )
            )

    def count(self) -> int:
        """Subscriptions stored, in any state (what ``max_subscriptions`` bounds)."""
        with self._read() as conn:
            (count,) = conn.execute("SELECT COUNT(*) FROM subscriptions").fetchone()
        return int(count)

    def expire_pending(self, now: float) -> int:
        """Delete pending subscriptions made more than 48 h ago; how many went."""
        with self._write() as conn:
            return self._expire(conn, now)

    # --- operators ---------------------------------------------------------------------------

    def subscriptions(self, channel: Channel | None = None) -> list[Subscription]:
        """Every subscription (of one channel), oldest first."""
        where, parameters = ("WHERE channel = ?", (channel,)) if channel else ("", ())
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions {where} ORDER BY created_at, id",
                parameters,
            ).fetchall()
        return [subscription_from_row(row) for row in rows]

    def remove(self, address_or_id: str) -> list[str]:
        """Delete the subscription with this id, or every one of this address (email address
        or webhook URL), with their outbox entries; the ids removed."""
        with self._write() as conn:
            return self._delete(conn, "id = ? OR address = ?", (address_or_id, address_or_id))

    # --- inside transactions -----------------------------------------------------------------

    def _insert(
        self,
        conn: Connection,
        subscription_id: str,
        channel: Channel,
        address: str,
        scope: Scope,
        lang: str,
        now: float,
        *,
        token: str,
        format: WebhookFormat | None = None,
        secret: str | None = None,
        confirm_digest: bytes | None = None,
        state: str = "pending",
        expires_at: float | None = None,
    ) -> None:
        products, countries = scope_texts(scope)
        conn.execute(
            "INSERT INTO subscriptions (id, channel, address, format, products, countries, "
            "lang, secret, token_digest, confirm_digest, state, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                subscription_id,
                channel,
                address,
                format,
                products,
                countries,
                lang,
                secret,
                token_digest(token),
                confirm_digest,
                state,
                now,
                expires_at,
            ),
        )

    @staticmethod
    def _check_room(conn: Connection, limit: int) -> None:
        (count,) = conn.execute("SELECT COUNT(*) FROM subscriptions").fetchone()
        if count >= limit:
            raise SubscriptionsFull(f"statusd holds its maximum of {limit} subscriptions")

    def _by_confirm(self, conn: Connection, token: str, now: float) -> Subscription | None:
        found = self._one(conn, "confirm_digest = ?", token_digest(token))
        if found is None:
            return None
        if found.state == "pending" and (found.expires_at or 0.0) <= now:
            return None
        return found

    @staticmethod
    def _one(conn: Connection, where: str, value: object) -> Subscription | None:
        row = conn.execute(
            f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE {where}", (value,)
        ).fetchone()
        return None if row is None else subscription_from_row(row)

    def _expire(self, conn: Connection, now: float) -> int:
        return len(self._delete(conn, "state = 'pending' AND expires_at <= ?", (now,)))
