"""Rows and JSON of the subscription tables (pure): scopes, subscriptions and events.

An event is stored once (``notification_events.body``) and rebuilt when its outbox entries
are claimed; ``event_to_json``/``event_from_json`` are exact inverses. A scope is stored as
two JSON arrays (sorted), so equal scopes have equal texts and are parsed once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, cast

from statusd.subscriptions.model import (
    Change,
    Channel,
    EventType,
    NotificationEvent,
    Scope,
    Subscription,
    SubscriptionState,
    WebhookFormat,
)

SUBSCRIPTION_COLUMNS = (
    "id, channel, address, format, products, countries, lang, secret, state, "
    "created_at, confirmed_at, expires_at, failing_since"
)
"""The columns ``subscription_from_row`` reads, in order (prefix them with a table alias
through ``columns_of``)."""


def columns_of(alias: str) -> str:
    return ", ".join(f"{alias}.{name.strip()}" for name in SUBSCRIPTION_COLUMNS.split(","))


def scope_texts(scope: Scope) -> tuple[str, str]:
    """The stored form of a scope: sorted JSON arrays of products and countries."""
    return json.dumps(sorted(scope.products)), json.dumps(sorted(scope.countries))


@lru_cache(maxsize=4096)
def scope_from_texts(products: str, countries: str) -> Scope:
    """The scope of two stored arrays (cached: subscribers share few scopes)."""
    return Scope(frozenset(json.loads(products)), frozenset(json.loads(countries)))


def subscription_from_row(row: Sequence[Any]) -> Subscription:
    (id_, channel, address, format_, products, countries, lang, secret, state) = row[:9]
    created_at, confirmed_at, expires_at, failing_since = row[9:13]
    return Subscription(
        id=id_,
        channel=cast(Channel, channel),
        address=address,
        scope=scope_from_texts(products, countries),
        lang=lang,
        format=cast("WebhookFormat | None", format_),
        secret=secret,
        state=cast(SubscriptionState, state),
        created_at=created_at,
        confirmed_at=confirmed_at,
        expires_at=expires_at,
        failing_since=failing_since,
    )


def subscription_json(subscription: Subscription) -> dict[str, Any]:
    """What an operator sees of a subscription (``list``, ``export``): no secret, no token."""
    return {
        "id": subscription.id,
        "channel": subscription.channel,
        "address": subscription.address,
        "format": subscription.format,
        **subscription.scope.to_json(),
        "lang": subscription.lang,
        "state": subscription.state,
        "created_at": subscription.created_at,
        "confirmed_at": subscription.confirmed_at,
        "expires_at": subscription.expires_at,
        "failing_since": subscription.failing_since,
    }


def change_from_json(value: Mapping[str, Any]) -> Change:
    return Change(
        product=value["product"],
        country=value["country"],
        key=value["key"],
        component_id=value["component_id"],
        before=value["from"],
        after=value["to"],
    )


def event_to_json(event: NotificationEvent) -> str:
    """The stored body of an event (everything but its id, which is the row's key)."""
    return json.dumps(
        {
            "type": event.type,
            "occurred_at": event.occurred_at,
            "changes": [change.to_json() for change in event.changes],
            "incident": None if event.incident is None else dict(event.incident),
            "maintenance": None if event.maintenance is None else dict(event.maintenance),
            "products": sorted(event.products),
            "countries": sorted(event.countries),
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )


def event_from_json(event_id: str, body: str) -> NotificationEvent:
    value = json.loads(body)
    return NotificationEvent(
        id=event_id,
        type=cast(EventType, value["type"]),
        occurred_at=value["occurred_at"],
        changes=tuple(change_from_json(change) for change in value["changes"]),
        incident=value["incident"],
        maintenance=value["maintenance"],
        products=frozenset(value["products"]),
        countries=frozenset(value["countries"]),
    )
