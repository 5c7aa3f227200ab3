"""The valid records of every source, and their JSON shape (SPEC §3) in one place.

Each record is a named tuple whose fields are declared in the order of the JSON keys, so
``record_json`` is the only shaping function: a record becomes an object with exactly those
keys, in that order. Named tuples, not dataclasses: they are as immutable, and a parser can
make a million of them from the tuples a regular expression returns in C
(``tuple.__new__``), about 8 times faster than a dataclass ``__init__`` per record.
"""

from __future__ import annotations

from typing import Any, NamedTuple, get_type_hints


class SmsRecord(NamedTuple):
    """One SMS provider row; numbers stay the validated decimal strings (SPEC §2)."""

    country: str
    bandwidth: str
    response_time: str
    provider: str


class MmsRecord(NamedTuple):
    """One MMS provider row; same values as SMS, JSON keys in MMS order."""

    country: str
    provider: str
    bandwidth: str
    response_time: str


class VoiceRecord(NamedTuple):
    """One voice-call provider row; bandwidth is the current load in percent."""

    country: str
    bandwidth: str
    response_time: str
    provider: str
    connection_stability: float
    ttfb: int
    voice_purity: int
    median_of_calls_time: int


class EmailRecord(NamedTuple):
    """One email provider row for one country."""

    country: str
    provider: str
    delivery_time: int


class BillingRecord(NamedTuple):
    """The six billing functions, up (True) or down; ``reccuring`` is the contract's spelling."""

    create_customer: bool
    purchase: bool
    payout: bool
    reccuring: bool
    fraud_control: bool
    checkout_page: bool


class SupportTopic(NamedTuple):
    """Open tickets of one support topic."""

    topic: str
    active_tickets: int


class IncidentRecord(NamedTuple):
    """One incident; ``status`` is ``active`` or ``closed``."""

    topic: str
    status: str


_FIELDS: dict[type, tuple[tuple[str, str], ...]] = {}


def record_fields(record_type: type) -> tuple[tuple[str, str], ...]:
    """(name, type name) of every field of a record type, in order (``("country", "str")``)."""
    found = _FIELDS.get(record_type)
    if found is None:
        hints = get_type_hints(record_type)
        names: tuple[str, ...] = record_type._fields  # type: ignore[attr-defined]
        found = _FIELDS[record_type] = tuple((name, hints[name].__name__) for name in names)
    return found


def record_json(record: Any) -> dict[str, Any]:
    """The JSON object of a record: its fields, in declaration order."""
    return dict(zip(record._fields, record, strict=True))
