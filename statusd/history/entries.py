"""The feed's entries as the history gives them (``reader.read_feed``, ``planned``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

FEED_LIMIT = 100
FEED_NAMESPACE = uuid.UUID("5b0d4c2e-6f0a-4d8e-9a51-6d7461747573")
"""Namespace of the feed's ``urn:uuid`` entry ids (uuid5 of the entry's identity)."""


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """A verdict change of a cell, an incident opening or resolving, or a maintenance window
    announced, started or completed (``kind`` verdict, incident, maintenance), with a stable id."""

    id: str
    at: float
    kind: str
    product: str = ""
    key: str = ""
    verdict: str = ""
    previous: str | None = None
    topic: str = ""
    status: str = ""
    detail: str = ""
    """A maintenance entry's scope and times in words."""
