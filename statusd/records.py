"""The valid records of every source, and their JSON shape (SPEC §3) in one place.

Each record is a frozen dataclass whose fields are declared in the order of the JSON keys,
so ``record_json`` is the only shaping function: a record becomes an object with exactly
those keys, in that order.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cache
from typing import Any


@dataclass(frozen=True, slots=True)
class SmsRecord:
    """One SMS provider row; numbers stay the validated decimal strings (SPEC §2)."""

    country: str
    bandwidth: str
    response_time: str
    provider: str


@dataclass(frozen=True, slots=True)
class MmsRecord:
    """One MMS provider row; same values as SMS, JSON keys in MMS order."""

    country: str
    provider: str
    bandwidth: str
    response_time: str


@dataclass(frozen=True, slots=True)
class VoiceRecord:
    """One voice-call provider row; bandwidth is the current load in percent."""

    country: str
    bandwidth: str
    response_time: str
    provider: str
    connection_stability: float
    ttfb: int
    voice_purity: int
    median_of_calls_time: int


@dataclass(frozen=True, slots=True)
class EmailRecord:
    """One email provider row for one country."""

    country: str
    provider: str
    delivery_time: int


@dataclass(frozen=True, slots=True)
class BillingRecord:
    """The six billing functions, up (True) or down; ``reccuring`` is the contract's spelling."""

    create_customer: bool
    purchase: bool
    payout: bool
    reccuring: bool
    fraud_control: bool
    checkout_page: bool


@dataclass(frozen=True, slots=True)
class SupportTopic:
    """Open tickets of one support topic."""

    topic: str
    active_tickets: int


@dataclass(frozen=True, slots=True)
class IncidentRecord:
    """One incident; ``status`` is ``active`` or ``closed``."""

    topic: str
    status: str


@cache
def _field_names(record_type: type) -> tuple[str, ...]:
    """The field names of a record type, computed once (``fields()`` is slow per record)."""
    return tuple(f.name for f in fields(record_type))


def record_json(record: Any) -> dict[str, Any]:
    """The JSON object of a record: its fields, in declaration order."""
    return {name: getattr(record, name) for name in _field_names(record.__class__)}
