"""The routes of SPEC §9: Statuspage's scheduled maintenances, the maintenance calendar and the
incident history.

- ``/api/v2/scheduled-maintenances.json``, ``…/upcoming.json``, ``…/active.json``: encoded by
  ``PublicState`` with the other public documents (at most once per change);
- ``/maintenance.ics?country=CC&product=P``: the windows in force as an RFC 5545 calendar;
- ``/api/incidents?days=N`` (1–400, default 90): every incident open now or closed in the
  last N days, newest first, with start, end and duration, read from the history.

All are read-only with CORS and ETag/304 like ``/api``; bad query values are 400 JSON,
unknown country or product 404 JSON.
"""

from __future__ import annotations

import time
from typing import Any

import trio
from quart import Response, request
from quart_trio import QuartTrio

from statusd.body.document import Document
from statusd.body.jsonpieces import encode_json
from statusd.history.reader import HistoryReader
from statusd.maintenance.calendar import maintenance_ics
from statusd.maintenance.overlay import MAINTENANCE_DOCUMENTS
from statusd.serve.app import document_response
from statusd.serve.query import parse_calendar_query, parse_days
from statusd.serve.status_routes import HISTORY_THREADS, PUBLIC_MAX_AGE, READ_ONLY
from statusd.verdicts.live import PublicState
from statusd.verdicts.statuspage import iso_utc
from statusd.verdicts.timeline import Incident

CALENDAR_TYPE = b"text/calendar; charset=utf-8"


def incident_history_json(incidents: list[Incident], days: int, now: float) -> dict[str, Any]:
    """``/api/incidents``: each incident's life as the page lists it (durations in whole
    seconds; an open incident's runs to ``now``)."""
    return {
        "days": days,
        "generated_at": iso_utc(now),
        "incidents": [
            {
                "id": i.id,
                "name": i.topic,
                "status": i.status,
                "started_at": iso_utc(i.started_at),
                "resolved_at": None if i.resolved_at is None else iso_utc(i.resolved_at),
                "duration_seconds": round(
                    (now if i.resolved_at is None else i.resolved_at) - i.started_at
                ),
                "reopens": i.reopens,
            }
            for i in incidents
        ],
    }


def register_maintenance_routes(
    app: QuartTrio, public: PublicState, reader: HistoryReader, base_url: str
) -> None:
    """Add the SPEC §9 routes to ``app`` (after ``register_public_routes``, whose error
    handlers answer their query and history errors)."""
    readers = trio.CapacityLimiter(HISTORY_THREADS)

    for path in MAINTENANCE_DOCUMENTS.values():

        async def maintenance_document(path: str = path) -> Response:
            document = await public.document(path)
            assert document is not None, "add_maintenance_documents adds every path"
            return document_response(document, PUBLIC_MAX_AGE)

        app.add_url_rule(path, f"maintenance:{path}", maintenance_document, methods=READ_ONLY)

    @app.route("/maintenance.ics", methods=READ_ONLY)
    async def calendar() -> Response:
        filters = parse_calendar_query(request.args)
        await public.catch_up()
        view = public.maintenance
        body = maintenance_ics(
            view.windows,
            view.revisions,
            country=filters.get("country"),
            product=filters.get("product"),
            page_name=public.page.name,
            base_url=base_url,
        )
        response = document_response(Document.of(body), PUBLIC_MAX_AGE, CALENDAR_TYPE)
        response.headers["Content-Disposition"] = 'inline; filename="maintenance.ics"'
        return response

    @app.route("/api/incidents", methods=READ_ONLY)
    async def incident_history() -> Response:
        days = parse_days(request.args.get("days"))
        now = time.time()
        incidents = await trio.to_thread.run_sync(reader.incidents, days, now, limiter=readers)
        body = encode_json(incident_history_json(incidents, days, now))
        return document_response(Document.of(body), PUBLIC_MAX_AGE)
