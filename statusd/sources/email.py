"""Email: the file ``email.data`` (SPEC §1) and its /api value (SPEC §2).

A line is ``country;provider;delivery_time`` — exactly 3 fields (else ``field_count``),
each stripped, checked in order: ``country`` an assigned ISO 3166-1 alpha-2 code, upper
case; ``provider`` one of the thirteen below, case-sensitive; ``delivery_time`` a plain
decimal integer ≥ 0 (ms).

/api value: an object keyed by country code, keys in ascending code order (so the document
does not depend on file order). For each country its records sorted by (delivery_time,
provider), ties in source order; the value is ``[fastest, slowest]``: the first three and
the last three, both ascending. With three records or fewer both lists are the same rows.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Sequence

from statusd.countries import country_codes
from statusd.sources._lines import (
    FIELD_COUNT,
    PlainLines,
    converted,
    parse_lines,
    parse_uint,
    records_of,
    shared_columns,
)
from statusd.sources.base import JsonValue, Limits, ParseResult, SourceSpec
from statusd.sources.records import EmailRecord, record_json

EMAIL_PROVIDERS = frozenset(
    {
        "Gmail",
        "Yahoo",
        "Hotmail",
        "MSN",
        "Orange",
        "Comcast",
        "AOL",
        "Live",
        "RediffMail",
        "GMX",
        "Protonmail",
        "Yandex",
        "Mail.ru",
    }
)
SHOWN_PER_END = 3

_COUNTRIES = country_codes()


def parse_email_line(line: str) -> EmailRecord | str:
    """One line of ``email.data`` → its record, or the reason it is skipped."""
    fields = line.split(";")
    if len(fields) != 3:
        return FIELD_COUNT
    country, provider, delivery_time = fields
    country = country.strip()
    if country not in _COUNTRIES:
        return "country"
    provider = provider.strip()
    if provider not in EMAIL_PROVIDERS:
        return "provider"
    milliseconds = parse_uint(delivery_time.strip())
    if milliseconds is None:
        return "delivery_time"
    return EmailRecord(country, provider, milliseconds)


def _plain_email(rows: list[tuple[str, ...]]) -> list[EmailRecord] | None:
    """Records of lines that match ``PLAIN_EMAIL``, or None if a country is not assigned."""
    columns = list(zip(*rows, strict=True))  # transposed once, in C
    if not _COUNTRIES.issuperset(columns[0]):
        return None
    countries, providers = shared_columns(columns[:2])
    delivery_times = converted(columns[2], int)
    return records_of(EmailRecord, (countries, providers, delivery_times))


PLAIN_EMAIL = PlainLines(
    re.compile(
        r"^([A-Z]{2});("
        + "|".join(re.escape(name) for name in sorted(EMAIL_PROVIDERS))
        + r");([0-9]{1,9})$",
        re.MULTILINE,
    ),
    _plain_email,
    max_length=2 + 1 + max(map(len, EMAIL_PROVIDERS)) + 1 + 9,
)
"""The plain form of an email line (``RU;Gmail;141``)."""


def parse_email(raw: bytes, limits: Limits) -> ParseResult[EmailRecord]:
    """Every line of ``email.data``: the valid records in file order, the rest counted."""
    return parse_lines(raw, limits, parse_email_line, PLAIN_EMAIL)


def _delivery_order(record: EmailRecord) -> tuple[int, str]:
    return (record.delivery_time, record.provider)


def fastest_and_slowest(rows: Sequence[EmailRecord]) -> tuple[list[EmailRecord], list[EmailRecord]]:
    """``ordered[:3]`` and ``ordered[-3:]`` of ``ordered = sorted(rows, key=_delivery_order)``.

    A big country is not sorted whole: ``heapq`` picks each end in one pass. ``nsmallest``
    is the stable sort's head; ``nlargest`` over the reversed rows, reversed back, is its
    tail (ties keep source order in both, as ``heapq`` promises ``sorted`` semantics).
    """
    if len(rows) <= 2 * SHOWN_PER_END:
        ordered = sorted(rows, key=_delivery_order)
        return ordered[:SHOWN_PER_END], ordered[-SHOWN_PER_END:]
    fastest = heapq.nsmallest(SHOWN_PER_END, rows, key=_delivery_order)
    slowest = heapq.nlargest(SHOWN_PER_END, reversed(rows), key=_delivery_order)
    slowest.reverse()
    return fastest, slowest


def prepare_email(records: Sequence[EmailRecord]) -> JsonValue:
    """The /api value of email: ``{code: [fastest three, slowest three]}``, codes sorted."""
    by_country: dict[str, list[EmailRecord]] = {}
    for record in records:
        rows = by_country.get(record.country)
        if rows is None:
            by_country[record.country] = [record]
        else:
            rows.append(record)
    prepared: dict[str, list[list[JsonValue]]] = {}
    for code in sorted(by_country):
        fastest, slowest = fastest_and_slowest(by_country[code])
        prepared[code] = [
            [record_json(record) for record in fastest],
            [record_json(record) for record in slowest],
        ]
    return prepared


SPEC: SourceSpec[EmailRecord] = SourceSpec(
    name="email",
    kind="file",
    location="email.data",
    record_type=EmailRecord,
    parse=parse_email,
    prepare=prepare_email,
)
