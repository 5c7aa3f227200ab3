"""SMS: the file ``sms.data`` (SPEC §1) and its /api value (SPEC §2).

A line is ``country;bandwidth;response_time;provider`` — exactly 4 fields, each stripped:

- ``country``: an assigned ISO 3166-1 alpha-2 code, upper case (reason ``country``);
- ``bandwidth``: a plain decimal integer 0–100, in % (reason ``bandwidth``);
- ``response_time``: a plain decimal integer ≥ 0, in ms (reason ``response_time``);
- ``provider``: ``Topolo``, ``Rond`` or ``Kildy``, case-sensitive (reason ``provider``).

A line with another number of fields is skipped as ``field_count``; the first rule broken,
in field order, names the reason. The numbers stay the validated strings (leading zeros
too), as /api shows them. The preparation rules are shared with MMS, which checks the same
values.

/api value: ``[by_provider, by_country]`` with the country code replaced by its English
short name, sorted by (provider, name) and by (name, provider); full ties keep source order.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from itertools import chain
from typing import TypeVar

from statusd.body.jsonpieces import JsonStrings, iter_coalesced, json_list_pieces, json_rows_pieces
from statusd.countries import country_codes, country_name
from statusd.sources._lines import (
    FIELD_COUNT,
    PlainLines,
    parse_lines,
    parse_percent,
    parse_uint,
    records_of,
    shared_columns,
)
from statusd.sources.base import JsonValue, Limits, ParseResult, SourceSpec
from statusd.sources.records import MmsRecord, SmsRecord, record_json

SMS_PROVIDERS = frozenset({"Topolo", "Rond", "Kildy"})

_COUNTRIES = country_codes()

SmsLike = TypeVar("SmsLike", SmsRecord, MmsRecord)


def sms_value_error(country: str, bandwidth: str, response_time: str, provider: str) -> str | None:
    """The reason the stripped SMS/MMS values break a rule (first in SMS field order), or None."""
    if country not in _COUNTRIES:
        return "country"
    if parse_percent(bandwidth) is None:
        return "bandwidth"
    if parse_uint(response_time) is None:
        return "response_time"
    if provider not in SMS_PROVIDERS:
        return "provider"
    return None


def parse_sms_line(line: str) -> SmsRecord | str:
    """One line of ``sms.data`` → its record, or the reason it is skipped."""
    fields = line.split(";")
    if len(fields) != 4:
        return FIELD_COUNT
    country, bandwidth, response_time, provider = fields
    country = country.strip()
    bandwidth = bandwidth.strip()
    response_time = response_time.strip()
    provider = provider.strip()
    reason = sms_value_error(country, bandwidth, response_time, provider)
    if reason is not None:
        return reason
    return SmsRecord(country, bandwidth, response_time, provider)


def _plain_sms(rows: list[tuple[str, ...]]) -> list[SmsRecord] | None:
    """Records of lines that match ``PLAIN_SMS``, or None if a country is not assigned."""
    columns = list(zip(*rows, strict=True))  # transposed once, in C
    if not _COUNTRIES.issuperset(columns[0]):
        return None
    countries, bandwidths, response_times, providers = shared_columns(columns)
    return records_of(SmsRecord, (countries, bandwidths, response_times, providers))


PLAIN_SMS = PlainLines(
    re.compile(r"^([A-Z]{2});(100|[1-9]?[0-9]);([0-9]{1,9});(Topolo|Rond|Kildy)$", re.MULTILINE),
    _plain_sms,
    max_length=2 + 1 + 3 + 1 + 9 + 1 + len("Topolo"),
)
"""The plain form of an SMS line (``RU;65;758;Topolo``): most lines of a big file."""


def parse_sms(raw: bytes, limits: Limits) -> ParseResult[SmsRecord]:
    """Every line of ``sms.data``: the valid records in file order, the rest counted."""
    return parse_lines(raw, limits, parse_sms_line, PLAIN_SMS)


def prepare_provider_lists(records: Sequence[SmsLike]) -> list[list[JsonValue]]:
    """``[by_provider, by_country]`` of SMS or MMS records, countries shown by name.

    Equivalent to two stable sorts, by (provider, name) and by (name, provider), done in
    linear time: records are grouped by (provider, name) in source order and the few groups
    are sorted. Both lists hold the same fresh dicts: the value is serialized, not mutated.
    """
    groups: dict[tuple[str, str], list[JsonValue]] = {}
    for record in records:
        shaped = record_json(record)
        name = country_name(record.country)
        shaped["country"] = name  # same key, same position: the record's key order holds
        key = (record.provider, name)
        group = groups.get(key)
        if group is None:
            groups[key] = [shaped]
        else:
            group.append(shaped)
    by_provider = [row for key in sorted(groups) for row in groups[key]]
    by_country = [row for key in sorted(groups, key=_name_then_provider) for row in groups[key]]
    return [by_provider, by_country]


def _name_then_provider(key: tuple[str, str]) -> tuple[str, str]:
    return (key[1], key[0])


def encode_provider_lists(records: Sequence[SmsLike]) -> Iterator[bytes]:
    """``encode_json(prepare_provider_lists(records))`` in pieces, written directly.

    Same groups as ``prepare_provider_lists``; each row is formatted as JSON text (values
    through ``JsonStrings``, so any string is escaped as ``json.dumps`` would) and each group
    encoded once, then placed in both orders. Property-tested against the slow path.
    """
    quoted = JsonStrings()
    sms = bool(records) and isinstance(records[0], SmsRecord)
    by_pair: dict[tuple[str, str], list[SmsLike]] = {}
    # Grouped by (provider, code) in source order: one group per (provider, name), as names
    # are unique (tests/test_countries.py).
    for record in records:
        pair = (record.provider, record.country)
        group = by_pair.get(pair)
        if group is None:
            by_pair[pair] = [record]
        else:
            group.append(record)
    groups: dict[tuple[str, str], list[str]] = {}
    for (provider, code), members in by_pair.items():
        name = country_name(code)
        country, provider_json = quoted[name], quoted[provider]
        # Only the two numbers differ within a group: the rest of each row is made once.
        if sms:
            head = f'{{"country":{country},"bandwidth":'
            tail = f',"provider":{provider_json}}}'
            rows = [
                f'{head}{quoted[bandwidth]},"response_time":{quoted[response_time]}{tail}'
                for _, bandwidth, response_time, _ in members
            ]
        else:
            head = f'{{"country":{country},"provider":{provider_json},"bandwidth":'
            rows = [
                f'{head}{quoted[bandwidth]},"response_time":{quoted[response_time]}}}'
                for _, _, bandwidth, response_time in members
            ]
        groups[(provider, name)] = rows
    del by_pair
    encoded = {}
    for key in list(groups):  # each group's row texts are freed once it is encoded
        encoded[key] = tuple(json_rows_pieces(groups.pop(key)))
    by_provider = json_list_pieces(encoded[key] for key in sorted(encoded))
    by_country = json_list_pieces(encoded[key] for key in sorted(encoded, key=_name_then_provider))
    # The two lists' pieces are already about a MiB: only the glue around them is joined.
    return iter_coalesced(chain((b"[",), by_provider, (b",",), by_country, (b"]",)))


def prepare_sms(records: Sequence[SmsRecord]) -> JsonValue:
    """The /api value of SMS: ``[by_provider, by_country]`` (see ``prepare_provider_lists``)."""
    return prepare_provider_lists(records)


SPEC: SourceSpec[SmsRecord] = SourceSpec(
    name="sms",
    kind="file",
    location="sms.data",
    record_type=SmsRecord,
    parse=parse_sms,
    prepare=prepare_sms,
    encode_prepared=encode_provider_lists,
)
