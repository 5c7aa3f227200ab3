"""``ALL_SOURCES``: the seven sources in /api order, each with its kind, location and functions."""

from __future__ import annotations

from statusd.sources import ALL_SOURCES, billing, email, incident, mms, sms, support, voice_call
from statusd.sources.records import (
    BillingRecord,
    EmailRecord,
    IncidentRecord,
    MmsRecord,
    SmsRecord,
    SupportTopic,
    VoiceRecord,
    record_fields,
)


def test_order_and_names() -> None:
    """The names are the /api keys, in the contract's order."""
    names = [spec.name for spec in ALL_SOURCES]
    assert names == ["sms", "mms", "voice_call", "email", "billing", "support", "incident"]


def test_kinds_locations_and_record_types() -> None:
    """Files and URL paths of SPEC §1, and the record dataclass of each source."""
    table = {spec.name: (spec.kind, spec.location, spec.record_type) for spec in ALL_SOURCES}
    assert table == {
        "sms": ("file", "sms.data", SmsRecord),
        "mms": ("http", "/mms", MmsRecord),
        "voice_call": ("file", "voice.data", VoiceRecord),
        "email": ("file", "email.data", EmailRecord),
        "billing": ("file", "billing.data", BillingRecord),
        "support": ("http", "/support", SupportTopic),
        "incident": ("http", "/accendent", IncidentRecord),
    }


def test_specs_are_the_modules() -> None:
    """Each entry is its module's ``SPEC``, whose functions are the module's own."""
    modules = (sms, mms, voice_call, email, billing, support, incident)
    assert tuple(module.SPEC for module in modules) == ALL_SOURCES
    assert sms.SPEC.parse is sms.parse_sms
    assert sms.SPEC.prepare is sms.prepare_sms
    assert mms.SPEC.parse is mms.parse_mms
    assert voice_call.SPEC.parse is voice_call.parse_voice_call
    assert email.SPEC.prepare is email.prepare_email
    assert billing.SPEC.parse is billing.parse_billing
    assert support.SPEC.prepare is support.prepare_support
    assert incident.SPEC.prepare is incident.prepare_incident


def test_record_types_are_plain() -> None:
    """Records are named tuples of str/int/float/bool fields (immutable, made fast in C)."""
    for spec in ALL_SOURCES:
        assert issubclass(spec.record_type, tuple)
        assert {kind for _, kind in record_fields(spec.record_type)} <= {
            "str",
            "int",
            "float",
            "bool",
        }
        names = [name for name, _ in record_fields(spec.record_type)]
        assert list(spec.record_type._fields) == names  # type: ignore[attr-defined]
