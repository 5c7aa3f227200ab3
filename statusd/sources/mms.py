"""MMS: the JSON array of ``GET {base}/mms`` (SPEC §1) and its /api value (SPEC §2).

Each item is an object with the string fields ``country``, ``provider``, ``bandwidth`` and
``response_time``; after stripping they follow the SMS value rules (``statusd.sources.sms``)
and are kept as the validated strings. Items are skipped by reason (``not_an_object``,
``missing_key``, ``wrong_type``, then ``country``, ``bandwidth``, ``response_time``,
``provider``); a body that is not a JSON array fails the source.

/api value: the same ``[by_provider, by_country]`` lists as SMS.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from statusd.sources._json import parse_items, string_values
from statusd.sources.base import JsonValue, Limits, ParseResult, SourceSpec
from statusd.sources.records import MmsRecord
from statusd.sources.sms import encode_provider_lists, prepare_provider_lists, sms_value_error

MMS_KEYS = ("country", "provider", "bandwidth", "response_time")


def parse_mms_item(item: Any) -> MmsRecord | str:
    """One decoded JSON item → its record, or the reason it is skipped."""
    values = string_values(item, MMS_KEYS)
    if isinstance(values, str):
        return values
    country, provider, bandwidth, response_time = values
    reason = sms_value_error(country, bandwidth, response_time, provider)
    if reason is not None:
        return reason
    return MmsRecord(country, provider, bandwidth, response_time)


def parse_mms(raw: bytes, limits: Limits) -> ParseResult[MmsRecord]:
    """The body of ``/mms``: valid records in array order, the rest counted by reason."""
    del limits  # the body's size cap is the fetcher's; a JSON body has no lines
    return parse_items(raw, parse_mms_item)


def prepare_mms(records: Sequence[MmsRecord]) -> JsonValue:
    """The /api value of MMS: ``[by_provider, by_country]``, exactly as for SMS."""
    return prepare_provider_lists(records)


SPEC: SourceSpec[MmsRecord] = SourceSpec(
    name="mms",
    kind="http",
    location="/mms",
    record_type=MmsRecord,
    parse=parse_mms,
    prepare=prepare_mms,
    encode_prepared=encode_provider_lists,
)
