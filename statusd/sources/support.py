"""Support: the JSON array of ``GET {base}/support`` (SPEC §1) and its /api value (SPEC §2).

Each item is an object ``{"topic": str, "active_tickets": int}``; the topic is stripped,
the ticket count must be a JSON integer (not ``true``/``false``, not ``3.0``) from 0 to
2**63 - 1 (reason ``active_tickets``); a topic that cannot be written as UTF-8 (a lone
surrogate from a ``\ud800`` escape) is ``invalid_string``. Items are skipped by reason; a
body that is not a JSON array fails the source.

/api value: ``[load, wait_minutes]`` from the total of open tickets: load 1 below 9, 2 from
9 to 16, 3 above 16; one agent answers 18 tickets an hour, so the wait is the total × 60 / 18
minutes rounded up. No topics means a total of 0: ``[1, 0]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from statusd.sources._json import (
    INVALID_STRING,
    WRONG_TYPE,
    is_encodable,
    object_values,
    parse_items,
)
from statusd.sources.base import JsonValue, Limits, ParseResult, SourceSpec
from statusd.sources.records import SupportTopic

SUPPORT_KEYS = ("topic", "active_tickets")
TICKETS_PER_HOUR = 18
LOW_LOAD_BELOW = 9
HIGH_LOAD_ABOVE = 16
# The largest count a real ticket system stores (int64); bigger is skipped, which also bounds
# the arithmetic (a 4300-digit count would make the wait time unencodable).
MAX_TICKETS = 2**63 - 1


def parse_support_item(item: Any) -> SupportTopic | str:
    """One decoded JSON item → its topic, or the reason it is skipped."""
    values = object_values(item, SUPPORT_KEYS)
    if isinstance(values, str):
        return values
    topic, tickets = values
    # bool is a subclass of int, and JSON true is not a count.
    if not isinstance(topic, str) or not isinstance(tickets, int) or isinstance(tickets, bool):
        return WRONG_TYPE
    if not is_encodable(topic):
        return INVALID_STRING
    if not 0 <= tickets <= MAX_TICKETS:
        return "active_tickets"
    return SupportTopic(topic.strip(), tickets)


def parse_support(raw: bytes, limits: Limits) -> ParseResult[SupportTopic]:
    """The body of ``/support``: valid topics in array order, the rest counted by reason."""
    del limits  # the body's size cap is the fetcher's; a JSON body has no lines
    return parse_items(raw, parse_support_item)


def support_load(total: int) -> int:
    """1, 2 or 3: below 9 open tickets, 9 to 16, above 16."""
    if total < LOW_LOAD_BELOW:
        return 1
    if total <= HIGH_LOAD_ABOVE:
        return 2
    return 3


def wait_minutes(total: int) -> int:
    """Minutes until a new ticket is answered: ``ceil(total * 60 / 18)`` in integers."""
    return (total * 60 + TICKETS_PER_HOUR - 1) // TICKETS_PER_HOUR


def prepare_support(records: Sequence[SupportTopic]) -> JsonValue:
    """The /api value of support: ``[load, wait_minutes]`` of all open tickets."""
    total = sum(record.active_tickets for record in records)
    return [support_load(total), wait_minutes(total)]


SPEC: SourceSpec[SupportTopic] = SourceSpec(
    name="support",
    kind="http",
    location="/support",
    record_type=SupportTopic,
    parse=parse_support,
    prepare=prepare_support,
)
