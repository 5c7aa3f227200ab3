"""What a subscription is, what it covers, and what is told to whom (SPEC §8).

Pure values shared by the three stages of notifications: the write path
(``subscriptions.routes``) creates ``Subscription``s, the planner (``notify.planner``)
turns settled changes into ``NotificationEvent``s and records them with one outbox entry
per subscriber in scope, the senders (``deliver``) send ``OutboxEntry``s. The storage
those stages share is described by the protocols at the end; ``subscriptions.store``
implements them on the history database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, get_args

from statusd import i18n
from statusd.verdicts.cells import COUNTRY_PRODUCTS, split_cell_id

NOTIFY_PRODUCTS = (*COUNTRY_PRODUCTS, "billing", "support", "incidents")
"""What a subscription can name in ``products`` (SPEC §8); ``[]`` means all of them."""
LANGUAGES = i18n.languages()
"""Languages of the emails and the subscription pages (SPEC §10): one catalog file each."""

Channel = Literal["email", "webhook"]
WebhookFormat = Literal["json", "slack"]
SubscriptionState = Literal["pending", "active", "disabled"]
EventType = Literal[
    "status.changed",
    "incident.opened",
    "incident.resolved",
    "maintenance.scheduled",
    "maintenance.started",
    "maintenance.completed",
]
EVENT_TYPES: tuple[EventType, ...] = get_args(EventType)


@dataclass(frozen=True, slots=True)
class Scope:
    """Products and countries a subscriber cares about; an empty set means all.

    Billing functions and support have no country: a scope naming countries still covers
    them when it covers their product.
    """

    products: frozenset[str] = frozenset()
    countries: frozenset[str] = frozenset()

    def covers_product(self, product: str) -> bool:
        return not self.products or product in self.products

    def covers(self, product: str, country: str | None) -> bool:
        """Whether a change of ``product`` (in ``country``, None for none) is in scope."""
        if not self.covers_product(product):
            return False
        return country is None or not self.countries or country in self.countries

    def covers_cell(self, cell: str) -> bool:
        """``sms:DE``, ``billing:payout``, ``support:support``."""
        product, key = split_cell_id(cell)
        return self.covers(product, key if product in COUNTRY_PRODUCTS else None)

    def to_json(self) -> dict[str, list[str]]:
        return {"products": sorted(self.products), "countries": sorted(self.countries)}


@dataclass(frozen=True, slots=True)
class Subscription:
    """One subscriber: an email address or a webhook URL, with its scope."""

    id: str
    channel: Channel
    address: str
    """The normalised email address, or the webhook URL."""
    scope: Scope
    lang: str = "en"
    format: WebhookFormat | None = None
    """Webhooks only."""
    secret: str | None = None
    """Webhooks only: ``whsec_…``, signs every delivery (Standard Webhooks)."""
    state: SubscriptionState = "pending"
    created_at: float = 0.0
    confirmed_at: float | None = None
    expires_at: float | None = None
    """Pending email subscriptions expire (created + 48 h)."""
    failing_since: float | None = None
    """Webhooks: the first failed delivery not followed by a success."""


@dataclass(frozen=True, slots=True)
class Change:
    """One cell's settled verdict going from one value to another."""

    product: str
    country: str | None
    """None for billing functions and support."""
    key: str
    """The cell key: the country, the billing function, or ``support``."""
    component_id: str
    """The cell's Statuspage component id."""
    before: str
    after: str

    def to_json(self) -> dict[str, Any]:
        return {
            "product": self.product,
            "country": self.country,
            "key": self.key,
            "component_id": self.component_id,
            "from": self.before,
            "to": self.after,
        }


@dataclass(frozen=True, slots=True)
class NotificationEvent:
    """Something every subscriber in scope is told once: settled changes, an incident
    opening or closing, a maintenance window announced, starting or ending."""

    id: str
    """Stable: a replay of the same decision gives the same id (used in message ids)."""
    type: EventType
    occurred_at: float
    changes: tuple[Change, ...] = ()
    incident: Mapping[str, Any] | None = None
    maintenance: Mapping[str, Any] | None = None
    products: frozenset[str] = field(default_factory=frozenset)
    """For incident/maintenance events: the products they concern (``incidents`` for an
    incident); empty for ``status.changed`` (its changes say it)."""
    countries: frozenset[str] = field(default_factory=frozenset)
    """For maintenance events: the countries in the window's scope (empty = all)."""

    def for_scope(self, scope: Scope) -> NotificationEvent | None:
        """What of this event a subscriber with ``scope`` is told; None for nothing."""
        if self.type == "status.changed":
            changes = tuple(c for c in self.changes if scope.covers(c.product, c.country))
            return (
                NotificationEvent(self.id, self.type, self.occurred_at, changes)
                if changes
                else None
            )
        # A product without countries (billing, support, incidents) concerns every country,
        # so a window on "sms in DE and billing" concerns a subscriber to billing in FR.
        countries_meet = not (scope.countries and self.countries) or bool(
            scope.countries & self.countries
        )
        concerned = any(
            scope.covers_product(p) and (p not in COUNTRY_PRODUCTS or countries_meet)
            for p in self.products or NOTIFY_PRODUCTS
        )
        return self if concerned else None


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One message to send: an event to one subscriber, or a confirmation email."""

    id: int
    message_id: str
    """Stable across retries: the ``webhook-id`` header or the email's ``Message-ID``."""
    subscription: Subscription
    event: NotificationEvent | None
    """None for a confirmation email."""
    confirm_token: str | None
    """Confirmation emails only: the token of the link (kept until the email is sent)."""
    attempts: int
    created_at: float
    next_attempt_at: float
    manage_token: str | None = None
    """Email entries: the subscriber's manage token, for the ``List-Unsubscribe`` link. It is
    stored only as a digest, so the store derives it (``subscriptions.tokens.TokenKey``);
    None for webhooks (their token was handed to the owner once)."""


@dataclass(frozen=True, slots=True)
class OutboxStats:
    depth: int
    oldest_created_at: float | None


class PlannerStore(Protocol):
    """What the planner needs: the last notified verdicts, and one transaction that records
    an event, an outbox entry per active subscriber in scope, and the new notified verdicts."""

    def notified(self) -> dict[str, str]:
        """Cell id → the last settled verdict subscribers were told (never ``unknown``)."""
        ...

    def record_event(
        self, event: NotificationEvent, notified: Mapping[str, str], now: float
    ) -> int:
        """Store ``event`` with an outbox entry for every active subscription it concerns
        (``event.for_scope``), and set ``notified`` (cells → verdicts) — all or nothing.
        An event id already recorded is not recorded again. Returns the entries added."""
        ...

    def record_notified(self, notified: Mapping[str, str], now: float) -> None:
        """Set ``notified`` without an event (silent first records: nobody is told)."""
        ...


class OutboxStore(Protocol):
    """What the senders need."""

    def claim_due(
        self, now: float, limit: int, claim_seconds: float, channel: Channel | None = None
    ) -> Sequence[OutboxEntry]:
        """Up to ``limit`` entries due at ``now`` and not claimed (to subscriptions of
        ``channel``, or of any), claimed until ``now + claim_seconds`` (another replica or
        sender skips them meanwhile)."""
        ...

    def release_claims(self, channel: Channel | None = None) -> int:
        """Make every claimed entry (of ``channel``, or of any) claimable again; how many
        were claimed. Called when the senders of a channel start: the only senders of it on
        the database, they find only the claims of a run that is gone (killed mid-send),
        which would otherwise wait for their claim to run out."""
        ...

    def delivered(self, entry: OutboxEntry, now: float) -> None:
        """The other side accepted it: remove the entry; a webhook is no longer failing."""
        ...

    def retry_later(self, entry: OutboxEntry, at: float, error: str, now: float) -> None:
        """Keep the entry for another attempt at ``at``; note the error."""
        ...

    def give_up(self, entry: OutboxEntry, error: str, now: float) -> None:
        """Drop the entry (retries exhausted or a permanent refusal); note the error."""
        ...

    def unsubscribe(self, subscription_id: str) -> None:
        """Delete a subscription and its outbox entries (a webhook answered 410)."""
        ...

    def disable(self, subscription_id: str, now: float) -> None:
        """Stop sending to a webhook failing for 3 days; its entries are dropped."""
        ...

    def stats(self, now: float) -> OutboxStats: ...


def scope_of(products: Iterable[str], countries: Iterable[str]) -> Scope:
    return Scope(frozenset(products), frozenset(countries))
