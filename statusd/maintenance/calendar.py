"""``/maintenance.ics``: the windows as an RFC 5545 calendar customers subscribe to.

Written with the ``icalendar`` library (no hand-made RFC 5545: folding, escaping and line
ends are its job). One ``VEVENT`` per window. Its ``UID`` is derived from the window id and
the page only, so editing, adding or removing *other* windows never changes it; ``DTSTAMP``,
``LAST-MODIFIED`` and ``SEQUENCE`` come from the window's own revision, so they move exactly
when the window itself changes. Times are UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Final

from icalendar import Calendar, Event

from statusd.countries import is_country
from statusd.maintenance.revisions import Revision
from statusd.maintenance.windows import MaintenanceWindow, scope_text
from statusd.verdicts.cells import PRODUCTS
from statusd.verdicts.timeline import short_id

PRODID: Final = "-//statusd//maintenance calendar//EN"
REFRESH: Final = timedelta(hours=1)
"""How often calendar apps should fetch the calendar again (RFC 7986 ``REFRESH-INTERVAL``)."""


def check_calendar_filter(*, country: str | None, product: str | None) -> None:
    """ValueError naming the parameter for an unknown ``country`` or ``product``."""
    if product is not None and product not in PRODUCTS:
        raise ValueError(f"unknown product {product!r}")
    if country is not None and not is_country(country):
        raise ValueError(f"unknown country {country!r}")


def event_uid(window_id: str, page_name: str) -> str:
    """The stable ``UID`` of a window's event on this page."""
    return f"maintenance-{window_id}-{short_id(f'page|{page_name}')}@statusd"


def _utc(at: float) -> datetime:
    return datetime.fromtimestamp(at, UTC)


def maintenance_ics(
    windows: Iterable[MaintenanceWindow],
    revisions: Mapping[str, Revision],
    *,
    country: str | None = None,
    product: str | None = None,
    page_name: str,
    base_url: str,
) -> bytes:
    """The calendar of the windows that concern ``country`` and ``product`` (None: any).

    ``revisions`` must hold every window's revision (``advance_revisions`` gives them);
    ValueError for an unknown filter value.
    """
    check_calendar_filter(country=country, product=product)
    base = base_url.rstrip("/")
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    label = " ".join(part for part in (product, country) if part)
    name = f"{page_name} maintenance" + (f" ({label})" if label else "")
    calendar.add("name", name)
    calendar.add("x-wr-calname", name)
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT1H")  # the same, for Outlook
    selected = (w for w in windows if w.concerns(product=product, country=country))
    for window in sorted(selected, key=lambda w: (w.start_at, w.id)):
        revision = revisions[window.id]
        event = Event()
        event.add("uid", event_uid(window.id, page_name))
        event.add("dtstamp", _utc(revision.updated_at))
        event.add("created", _utc(revision.created_at))
        event.add("last-modified", _utc(revision.updated_at))
        event.add("sequence", revision.sequence)
        event.add("dtstart", window.start.astimezone(UTC))
        event.add("dtend", window.end.astimezone(UTC))
        event.add("summary", window.title)
        lines = [window.body] if window.body else []
        lines.append(f"Affects: {scope_text(window)}")
        event.add("description", "\n\n".join(lines))
        event.add("url", f"{base}/#maintenance-{window.id}")
        event.add("transp", "TRANSPARENT")
        event.add("categories", ["MAINTENANCE"])
        calendar.add_component(event)
    ics: bytes = calendar.to_ical()
    return ics
