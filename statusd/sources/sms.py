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

from collections.abc import Sequence
from typing import TypeVar

from statusd.countries import country_codes, country_name
from statusd.records import MmsRecord, SmsRecord, record_json
from statusd.sources._lines import FIELD_COUNT, parse_lines, parse_percent, parse_uint
from statusd.sources.base import JsonValue, Limits, ParseResult, SourceSpec

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


def parse_sms(raw: bytes, limits: Limits) -> ParseResult[SmsRecord]:
    """Every line of ``sms.data``: the valid records in file order, the rest counted."""
    return parse_lines(raw, limits, parse_sms_line)


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
)
