"""The quart-trio app: every route of SPEC §4. It reads the state holder, never computes it.

``create_app`` builds the app for one daemon (no module globals). The hot path, ``GET /api``,
is also answered by ``statusd.serve.fastpath`` before Quart is reached; both answer through
``http_cache.negotiate``, so the bytes and headers are the same.

A request is decided in this order (SPEC §4), whatever its body:

1. the path: ``404`` when no route takes it with any method. Converters take part: the
   static files are a converter that only matches a file under ``web/``, and
   ``/api/v2/<statuspage:name>.json`` lists its document names, so ``POST /nowhere`` is a
   404 (werkzeug would say 405 from the static pattern; ``methods_taking_path`` checks).
   A badge or history path is a route whatever its parameters: its cell may exist or not
   at the next collection, so only ``GET`` answers 404 for it;
2. the method: ``405`` with ``Allow`` (only the methods that take the path) when the route
   has no such method;
3. the body, only now: a route declared with ``takes_body(max_bytes)`` takes one with
   ``POST``, ``PUT`` or ``PATCH`` and answers ``413`` beyond its limit. Any other body
   (``Content-Length`` > 0 or ``Transfer-Encoding``; a ``GET`` with a body included) is
   refused with ``400``: the route would ignore it, so it is a client's mistake or a
   request-smuggling attempt, and ``413`` would wrongly say it is too large.
"""

from __future__ import annotations

import mimetypes
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import trio
from quart import Response, request
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import PathConverter, ValidationError

from statusd import i18n
from statusd.body.document import Document
from statusd.body.jsonpieces import encode_json
from statusd.body.spill import joined
from statusd.config import Settings
from statusd.metrics import Metrics
from statusd.serve.connections import CONNECTION_STATE_KEY
from statusd.serve.http_cache import (
    COMMON_HEADERS,
    PREFLIGHT_HEADERS,
    asks_unknown_version,
    negotiate,
)
from statusd.serve.request_rules import (
    BODY_METHODS,
    NO_BODY_ERROR,
    body_limit,
    methods_taking_path,
    too_large,
)
from statusd.serve.source_status import SourcesBody
from statusd.serve.streams import EventStreams, SlotHolder
from statusd.state.holder import StateHolder

SSE_KEEPALIVE_SECONDS = 15.0

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' http://127.0.0.1:* http://localhost:*; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'; object-src 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


RouteRegistrar = Callable[[QuartTrio], None]
"""Adds routes to the app (``create_app``'s ``extra_routes``)."""


def web_file_converter(web_dir: Path) -> type[PathConverter]:
    """A URL converter matching only the paths ``resolve_static`` serves from ``web_dir``,
    so routing itself says 404 for any other path, whatever the method."""

    class WebFile(PathConverter):
        def to_python(self, value: str) -> Path:
            path = resolve_static(web_dir, value)
            if path is None:
                raise ValidationError()
            return path

    return WebFile


def json_response(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A small JSON answer built per request (health, errors, source status)."""
    response = Response(encode_json(value), status=status, content_type="application/json")
    for raw_name, raw_value in COMMON_HEADERS:
        response.headers[raw_name.decode()] = raw_value.decode()
    response.headers["Cache-Control"] = "no-store"
    for name, text in (headers or {}).items():
        response.headers[name] = text
    return response


def document_response(
    document: Document, max_age: int, content_type: bytes = b"application/json"
) -> Response:
    """A cached document (like /api) with ETag/304 and gzip per the request's headers."""
    status, headers, body = negotiate(
        document,
        if_none_match=request.headers.get("If-None-Match", ""),
        accept_encoding=request.headers.get("Accept-Encoding", ""),
        max_age=max_age,
        content_type=content_type,
    )
    response = Response(joined(body), status=status)
    for name, value in headers:
        response.headers[name.decode()] = value.decode()
    return response


def resolve_static(web_dir: Path, name: str) -> Path | None:
    """The file under ``web_dir`` that ``name`` names, or None for anything else.

    Rejects NUL bytes, absolute paths, ``.``/``..`` and hidden segments, backslashes, and
    any path (symlinks included) that resolves outside ``web_dir``; directories are never
    listed.
    """
    if not name:
        name = "index.html"
    if "\x00" in name or "\\" in name or name.startswith("/"):
        return None
    segments = name.split("/")
    if any(not part or part.startswith(".") for part in segments):
        return None
    root = web_dir.resolve()
    try:
        candidate = (root / name).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate


def create_app(
    state: StateHolder,
    settings: Settings,
    metrics: Metrics,
    *,
    extra_routes: RouteRegistrar | Sequence[RouteRegistrar] = (),
    health: Mapping[str, Callable[[], object]] | None = None,
    streams: EventStreams | None = None,
    sources: SourcesBody | None = None,
) -> QuartTrio:
    """The app of one daemon; ``extra_routes`` (one or several) let other modules register
    their routes, ``health`` add entries to ``/healthz`` (name → what it reports now);
    ``streams`` counts the event streams (one for ``settings.max_event_streams`` if None)."""
    if streams is None:
        streams = EventStreams(settings.max_event_streams, metrics=metrics)
    source_bodies = sources or SourcesBody(state, settings.stale_after)
    app = QuartTrio(__name__, static_folder=None)
    app.url_map.converters["webfile"] = web_file_converter(settings.web_dir)
    app.config["RESPONSE_TIMEOUT"] = None  # SSE streams are long; the server bounds the rest
    app.config["BODY_TIMEOUT"] = 10
    web_dir = settings.web_dir

    @app.before_request
    async def screen_request() -> Response | None:
        if request.routing_exception is not None or request.url_rule is None:
            return None  # 404 or 405, decided without looking at the body (http_error)
        declared = request.content_length
        if declared or "Transfer-Encoding" in request.headers:
            limit = body_limit(app, request.endpoint) if request.method in BODY_METHODS else 0
            if not limit:
                return json_response({"error": NO_BODY_ERROR}, 400)
            if declared is not None and declared > limit:
                raise too_large(limit)
        if request.method == "OPTIONS":
            response = Response(b"", status=204)
            for name, value in PREFLIGHT_HEADERS:
                response.headers[name.decode()] = value.decode()
            return response
        return None

    @app.after_request
    async def count_and_protect(response: Response) -> Response:
        rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
        metrics.request_served(rule, response.status_code)
        for name, value in PAGE_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.route("/api", methods=["GET", "HEAD", "OPTIONS"])
    async def api() -> Response:
        view = state.view
        if asks_unknown_version(request.query_string, view.knows):
            return json_response({"error": "version not served here (yet), ask /api"}, 404)
        return document_response(
            view.document, view.seconds_until_next_collection(trio.current_time())
        )

    @app.route("/healthz", methods=["GET", "HEAD", "OPTIONS"])
    async def healthz() -> Response:
        view = state.view
        now = trio.current_time()
        sources = {
            name: {
                "fresh": name in view.fresh,
                "error": status.error,
                "age_seconds": None
                if status.good_at is None
                else round(max(0.0, now - status.good_at), 3),
            }
            for name, status in view.sources.items()
        }
        body: dict[str, object] = {
            "status": "ok",
            "fresh": f"{len(view.fresh)}/{len(view.sources)}",
            "sources": sources,
        }
        body.update({name: report() for name, report in (health or {}).items()})
        return json_response(body)

    @app.route("/readyz", methods=["GET", "HEAD", "OPTIONS"])
    async def readyz() -> Response:
        view = state.view
        if view.ready:
            return json_response({"ready": True})
        waiting = sorted(set(view.sources) - view.fresh)
        return json_response({"ready": False, "waiting_for": waiting}, status=503)

    @app.route("/api/sources", methods=["GET", "HEAD", "OPTIONS"])
    async def source_status() -> Response:
        body = source_bodies.current()
        response = Response(body)
        for name, value in source_bodies.headers(body):
            response.headers[name.decode()] = value.decode()
        return response

    @app.route("/api/events", methods=["GET", "HEAD", "OPTIONS"])
    async def events() -> Response:
        if not streams.has_room():
            seconds = streams.retry_after()
            return json_response(
                {"error": "too many event streams, poll /api", "retry_after": seconds},
                503,
                {"Retry-After": str(seconds), "Access-Control-Expose-Headers": "Retry-After"},
            )
        connection: SlotHolder | None = request.scope.get("state", {}).get(CONNECTION_STATE_KEY)
        response = Response(
            sse_stream(state, streams, connection),
            content_type="text/event-stream",
            # The connection left the connection cap (statusd.serve.streams): it serves no more.
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no", "Connection": "close"},
        )
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.timeout = None
        return response

    @app.route("/metrics", methods=["GET", "HEAD"])
    async def prometheus_metrics() -> Response:
        body, content_type = metrics.render()
        return Response(body, content_type=content_type, headers={"Cache-Control": "no-store"})

    @app.route("/i18n/page.json", methods=["GET", "HEAD"])
    async def page_words() -> Response:
        """The page's catalog (SPEC §10): revalidated like the page's own files, so the two
        never disagree after an upgrade; CORS ``*`` for the page opened as a file."""
        lang = i18n.page_language(request.args.get("want", ""))
        response = Response(i18n.page_document(lang), content_type="application/json")
        response.headers["Cache-Control"] = "no-cache"
        response.headers["Access-Control-Allow-Origin"] = "*"
        await response.add_etag()
        return await response.make_conditional(request)

    @app.route("/", methods=["GET", "HEAD"])
    async def page() -> Response:
        path = resolve_static(web_dir, "")
        if path is None:
            return json_response({"error": "not found"}, status=404)
        return await static_file(path)

    @app.route("/<webfile:path>", methods=["GET", "HEAD"])
    async def static_file(path: Path) -> Response:
        body = await trio.Path(path).read_bytes()
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type.endswith("javascript"):
            content_type += "; charset=utf-8"
        response = Response(body, content_type=content_type)
        response.headers["Cache-Control"] = "no-cache"
        await response.add_etag()
        return await response.make_conditional(request)

    for register in [extra_routes] if callable(extra_routes) else extra_routes:
        register(app)
    # Quart refuses a body over this as it arrives; each route's own limit is checked by
    # screen_request (Content-Length) and read_body (any framing).
    app.config["MAX_CONTENT_LENGTH"] = max(
        (body_limit(app, endpoint) for endpoint in app.view_functions), default=0
    )

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Response:
        code = error.code or 500
        if isinstance(error, MethodNotAllowed):
            adapter = app.create_url_adapter(request)
            assert adapter is not None, "routing made a 405, so there is an adapter"
            allowed = methods_taking_path(adapter, error.valid_methods or ())
            if allowed:
                headers = {"Allow": ", ".join(allowed)}
                return json_response({"error": "method not allowed"}, 405, headers)
            code = 404
        if code == 404:
            return json_response({"error": "not found"}, 404)
        if code == 413:
            return json_response({"error": error.description}, 413)
        return json_response({"error": error.name.lower()}, code)

    return app


async def sse_stream(
    state: StateHolder, streams: EventStreams, connection: SlotHolder | None = None
) -> AsyncGenerator[bytes, None]:
    """Server-Sent Events: the current ETag at once, then one event per document change,
    a comment every 15 s as keep-alive; ends when the daemon shuts down.

    The stream holds one of ``streams``' slots from its first byte to its end (a stream
    admitted by the route but beaten to the last slot meanwhile ends at once, empty)."""
    if not streams.acquire(connection):
        return
    try:
        view = state.view
        yield b"retry: 5000\ndata: %s\n\n" % view.document.etag.encode()
        version = view.document_version
        while True:
            with trio.move_on_after(SSE_KEEPALIVE_SECONDS) as scope:
                await state.wait_document_changed(version)
            if state.is_closed():
                return
            if scope.cancelled_caught:
                yield b": keep-alive\n\n"
                continue
            view = state.view
            version = view.document_version
            yield b"data: %s\n\n" % view.document.etag.encode()
    finally:
        streams.release()
