"""The routes of SPEC §7: Statuspage v2 documents, /api/verdicts, history, feed and badges.

Documents are served from the bytes ``PublicState`` encodes at most once per change;
history, feed and CSV are read from the database in worker threads (at most
``HISTORY_THREADS`` at once). Query errors are 400/404 JSON, history trouble (the database
unreachable, full or damaged) 503 JSON with the reason. All are read-only with CORS and
ETag/304 like /api.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable

import trio
from quart import Response, request
from quart_trio import QuartTrio
from werkzeug.routing import AnyConverter, Map

from statusd import i18n
from statusd.body.document import Document
from statusd.body.jsonpieces import encode_json
from statusd.history.reader import HistoryReader
from statusd.history.schema import HistoryError
from statusd.serve.app import document_response, json_response
from statusd.serve.badges import CONTENT_TYPE as SVG_TYPE
from statusd.serve.badges import cell_badge, overall_badge
from statusd.serve.feed import CONTENT_TYPE as ATOM_TYPE
from statusd.serve.feed import atom_feed
from statusd.serve.history_bodies import history_csv, history_json
from statusd.serve.query import QueryError, parse_feed_query, parse_history_query, parse_month
from statusd.verdicts.cells import cell_id
from statusd.verdicts.live import PublicState
from statusd.verdicts.statuspage import STATUSPAGE_DOCUMENTS

# Public documents change at most once per collection; a short max-age lets caches (nginx,
# browsers) absorb bursts while the page still sees changes within seconds.
PUBLIC_MAX_AGE = 5
READ_ONLY = ["GET", "HEAD", "OPTIONS"]


# History answers (JSON, CSV, feed) are reused this long per query: during an outage many
# readers ask for the same few cells, and one database read a second serves them all (the
# same freshness a micro-caching proxy in front would give; max-age is longer anyway).
HISTORY_REUSE_SECONDS = 1.0
HISTORY_REUSE_ENTRIES = 512
HISTORY_THREADS = 4
"""Worker threads reading the history at once, per group of routes: a slow or unreachable
database holds these, never the threads the rest of statusd needs (PostgreSQL's pool has as
many connections)."""


class RecentAnswers:
    """Documents built for a query, reused for ``seconds`` (at most ``entries`` kept).

    One build per query at a time: while a request rebuilds an expired answer, the others
    asking for it get the previous one at once rather than reading the database too.
    """

    def __init__(self, seconds: float, entries: int) -> None:
        self.seconds = seconds
        self.entries = entries
        self._items: OrderedDict[Hashable, tuple[float, Document]] = OrderedDict()
        self._building: set[Hashable] = set()

    async def get(self, key: Hashable, build: Callable[[], Awaitable[Document]]) -> Document:
        """The document of ``key`` built less than ``seconds`` ago, or a new one."""
        found = self._items.get(key)
        if found is not None and (found[0] > trio.current_time() or key in self._building):
            return found[1]
        self._building.add(key)
        try:
            document = await build()
        finally:
            self._building.discard(key)
        self._items[key] = (trio.current_time() + self.seconds, document)
        self._items.move_to_end(key)
        while len(self._items) > self.entries:
            self._items.popitem(last=False)
        return document


class StatuspageDocument(AnyConverter):
    """Matches only the names of the Statuspage documents: any other ``/api/v2/…`` path is
    a 404 for every method (SPEC §4)."""

    def __init__(self, map: Map) -> None:
        super().__init__(map, *STATUSPAGE_DOCUMENTS)


def register_public_routes(
    app: QuartTrio, public: PublicState, reader: HistoryReader, base_url: str
) -> None:
    """Add the SPEC §7 routes to ``app``."""
    recent = RecentAnswers(HISTORY_REUSE_SECONDS, HISTORY_REUSE_ENTRIES)
    readers = trio.CapacityLimiter(HISTORY_THREADS)

    @app.errorhandler(QueryError)
    async def query_error(error: QueryError) -> Response:
        return json_response({"error": str(error)}, error.status)

    @app.errorhandler(HistoryError)
    async def history_error(error: HistoryError) -> Response:
        return json_response({"error": f"history unavailable: {error}"}, 503)

    app.url_map.converters["statuspage"] = StatuspageDocument

    @app.route("/api/v2/<statuspage:name>.json", methods=READ_ONLY)
    async def statuspage(name: str) -> Response:
        document = await public.document(f"/api/v2/{name}.json")
        assert document is not None, "public_documents has every STATUSPAGE_DOCUMENTS name"
        return document_response(document, PUBLIC_MAX_AGE)

    @app.route("/api/verdicts", methods=READ_ONLY)
    async def verdicts() -> Response:
        document = await public.document("/api/verdicts")
        assert document is not None, "public_documents always has /api/verdicts"
        return document_response(document, PUBLIC_MAX_AGE)

    @app.route("/api/history", methods=READ_ONLY)
    async def history() -> Response:
        product, key, days = parse_history_query(request.args)

        async def build() -> Document:
            buckets = await trio.to_thread.run_sync(
                reader.daily, cell_id(product, key), days, time.time(), limiter=readers
            )
            return Document.of(encode_json(history_json(product, key, buckets)))

        document = await recent.get(("history", product, key, days), build)
        return document_response(document, PUBLIC_MAX_AGE)

    @app.route("/api/history.csv", methods=READ_ONLY)
    async def history_export() -> Response:
        now = time.time()
        month = parse_month(request.args.get("month"), now)

        async def build() -> Document:
            rows = await trio.to_thread.run_sync(reader.month_rows, month, now, limiter=readers)
            body = await trio.to_thread.run_sync(history_csv, rows)
            return await trio.to_thread.run_sync(Document.of, body)

        document = await recent.get(("csv", month), build)
        response = document_response(document, PUBLIC_MAX_AGE, b"text/csv; charset=utf-8")
        response.headers["Content-Disposition"] = f'attachment; filename="history-{month}.csv"'
        return response

    @app.route("/feed.atom", methods=READ_ONLY)
    async def feed() -> Response:
        filters = parse_feed_query(request.args)
        lang = i18n.language(request.args.get("lang"))  # SPEC §10; unknown: English

        async def build() -> Document:
            entries = await trio.to_thread.run_sync(
                lambda: reader.feed_entries(filters.get("country"), filters.get("product")),
                limiter=readers,
            )
            return Document.of(
                atom_feed(entries, base_url=base_url, filters=filters, now=time.time(), lang=lang)
            )

        document = await recent.get(("feed", lang, *sorted(filters.items())), build)
        return document_response(document, PUBLIC_MAX_AGE, ATOM_TYPE.encode())

    @app.route("/badge/<product>/<key>.svg", methods=READ_ONLY)
    async def badge(product: str, key: str) -> Response:
        body = cell_badge(await public.catch_up(), product, key)
        return document_response(Document.of(body), PUBLIC_MAX_AGE, SVG_TYPE.encode())

    @app.route("/badge/<name>.svg", methods=READ_ONLY)
    async def single_badge(name: str) -> Response:
        verdicts = await public.catch_up()
        # support (one cell); any other name is a 400/404 from cell_badge
        body = overall_badge(verdicts) if name == "overall" else cell_badge(verdicts, name, None)
        return document_response(Document.of(body), PUBLIC_MAX_AGE, SVG_TYPE.encode())
