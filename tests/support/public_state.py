"""The SPEC §7 state as the daemon wires it, for tests of the public routes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from statusd.history.store import HistoryStore
from statusd.history.writer import HistoryInbox
from statusd.sources.records import BillingRecord, IncidentRecord, SmsRecord, SupportTopic
from statusd.storage.url import DatabaseUrl
from statusd.verdicts.live import PublicState
from statusd.verdicts.rules import VerdictThresholds
from statusd.verdicts.statuspage import PageInfo

RECORDS: dict[str, Sequence[Any] | None] = {
    "sms": [SmsRecord("DE", "50", "100", "Topolo"), SmsRecord("RU", "5", "100", "Rond")],
    "mms": [],
    "voice_call": [],
    "email": [],
    "billing": [BillingRecord(True, True, False, True, True, True)],
    "support": [SupportTopic("a", 1)],
    "incident": [IncidentRecord("db", "active")],
}


def open_public_state(
    path: DatabaseUrl | Path, now: float
) -> tuple[HistoryStore, PublicState, HistoryInbox]:
    """A history at ``path`` (a SQLite file or a database URL) and a ``PublicState`` that saw
    ``RECORDS`` ten minutes before ``now``, its changes written (what the writer task does);
    the caller closes the store."""
    store = HistoryStore.open(path, now=now - 600, max_gap=3600)  # no heartbeats simulated
    inbox = HistoryInbox()
    public = PublicState(PageInfo(), VerdictThresholds(), inbox, store.load_timeline())
    public.update(
        RECORDS,
        stale=frozenset(),
        source_times=dict.fromkeys(RECORDS, now - 5),
        document_ok=True,
        now=now - 600,
    )
    store.apply(inbox.take())
    store.heartbeat(now)
    return store, public, inbox
