"""Billing: the file ``billing.data`` (SPEC §1) and its /api value (SPEC §2).

The file holds one bit mask of exactly six ``0``/``1`` characters, read right to left: the
rightmost character is bit 0 (``create_customer``), then ``purchase``, ``payout``,
``reccuring`` (the contract's spelling), ``fraud_control`` and ``checkout_page`` (bit 5, the
leftmost). So ``010011`` means create_customer, purchase and fraud_control are up.

Accepted around the mask: a leading UTF-8 byte order mark and whitespace on either side
(what ``str.strip()`` strips, so a trailing ``\\n`` or ``\\r\\n`` is fine). Anything else —
invalid UTF-8, another length, another character, a second line with content — fails the
source with ``SourceError``: a half-read mask must never show functions as up or down.
"""

from __future__ import annotations

from collections.abc import Sequence

from statusd.sources.base import JsonValue, Limits, ParseResult, SourceError, SourceSpec
from statusd.sources.records import BillingRecord, record_json

BOM = b"\xef\xbb\xbf"
MASK_LENGTH = 6


def parse_billing_mask(mask: str) -> BillingRecord | None:
    """Six ``0``/``1`` characters → the functions they switch on, or None if not a mask."""
    if len(mask) != MASK_LENGTH or not set(mask) <= {"0", "1"}:
        return None
    up = [char == "1" for char in reversed(mask)]  # up[n] is bit n
    return BillingRecord(
        create_customer=up[0],
        purchase=up[1],
        payout=up[2],
        reccuring=up[3],
        fraud_control=up[4],
        checkout_page=up[5],
    )


def parse_billing(raw: bytes, limits: Limits) -> ParseResult[BillingRecord]:
    """The whole ``billing.data``: one record, or ``SourceError`` if it is not one mask."""
    del limits  # one short line; the file's size cap is the reader's
    if raw.startswith(BOM):
        raw = raw[len(BOM) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SourceError("billing file is not valid UTF-8") from None
    record = parse_billing_mask(text.strip())
    if record is None:
        raise SourceError("billing file is not six 0/1 characters")
    return ParseResult((record,))


def prepare_billing(records: Sequence[BillingRecord]) -> JsonValue:
    """The /api value of billing: the six booleans of the one record ``parse`` yields."""
    if len(records) != 1:
        raise ValueError(f"billing has exactly one record, got {len(records)}")
    return record_json(records[0])


SPEC: SourceSpec[BillingRecord] = SourceSpec(
    name="billing",
    kind="file",
    location="billing.data",
    record_type=BillingRecord,
    parse=parse_billing,
    prepare=prepare_billing,
)
