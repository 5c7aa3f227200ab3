"""What a replica does only while it leads, and what every replica starts from (SPEC §11).

The leader (``storage.leader``) writes the history and sends notifications; every replica,
leading or not, collects, decides verdicts and serves, starting from the timeline the history
holds.
"""

from __future__ import annotations

import logging
import time

import trio

from statusd.config import Settings
from statusd.history.schema import HistoryError
from statusd.history.store import HistoryStore
from statusd.history.writer import HistoryInbox, run_history_writer
from statusd.verdicts.timeline import Timeline

log = logging.getLogger("statusd.replica")


async def stored_timeline(settings: Settings) -> Timeline:
    """The incident timeline as the history holds it (empty if unreadable): the public view
    starts from it whether or not this replica leads. A damaged file is moved aside."""

    def load() -> Timeline:
        store = HistoryStore.open(
            settings.database, now=time.time(), rollup_days=settings.history_rollup_days
        )
        try:
            return store.load_timeline()
        finally:
            store.close()

    try:
        return await trio.to_thread.run_sync(load)
    except (HistoryError, OSError) as error:
        log.warning("history timeline unreadable", extra={"error": str(error)})
        return Timeline()


async def write_history(settings: Settings, inbox: HistoryInbox) -> None:
    """The history writer, for one term of leadership (``while_leader``)."""
    await run_history_writer(
        settings.database,
        inbox,
        raw_days=settings.history_raw_days,
        rollup_days=settings.history_rollup_days,
    )
