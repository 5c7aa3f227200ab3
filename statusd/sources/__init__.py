"""Source modules, one per source; ``ALL_SOURCES`` lists them in /api order."""

from __future__ import annotations

from typing import Any

from statusd.sources import billing, email, incident, mms, sms, support, voice_call
from statusd.sources.base import SourceSpec

ALL_SOURCES: tuple[SourceSpec[Any], ...] = (
    sms.SPEC,
    mms.SPEC,
    voice_call.SPEC,
    email.SPEC,
    billing.SPEC,
    support.SPEC,
    incident.SPEC,
)

__all__ = ["ALL_SOURCES"]
