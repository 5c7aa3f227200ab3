"""A stand-in for statusd inside the browser: Playwright routes answer every request.

The page and its API are served from ``ORIGIN`` without any socket: the route handler
answers from ``web/`` (with statusd's security headers) and from the JSON fixtures, so a
test can set any document, verdict set or source state, including ones the real
simulator never produces, and see what the page makes of it.
"""

from __future__ import annotations

import copy
import datetime
import json
import mimetypes
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import BrowserContext, Route

from statusd import i18n
from statusd.subscriptions.requests import EmailSignup, RequestError, parse_subscription_request
from tests.browser.harness import WEB

ORIGIN = "http://127.0.0.1:9"
"""Nothing listens there (the discard port); routes answer before any connection."""
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' http://127.0.0.1:* http://localhost:*"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "ETag"}
ERROR_DOCUMENT = {"status": False, "data": None, "error": "Error on collect data"}
XSS = "<img src=x onerror=alert(1)>"


def fixture(name: str) -> Any:
    """A JSON fixture of tests/browser/fixtures, parsed."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def history_days(days: int = 90, today: datetime.date | None = None) -> list[dict[str, Any]]:
    """Daily buckets: ten unknown days, one day mostly down (day 50), the rest fully up."""
    last = today or datetime.date(2026, 11, 25)
    out: list[dict[str, Any]] = []
    for i in range(days):
        date = (last - datetime.timedelta(days=days - 1 - i)).isoformat()
        if i < 10:
            out.append({"date": date, "uptime": None, "seconds": {"unknown": 86400}})
        elif i == 50:
            seconds = {"operational": 21600, "major_outage": 64800}
            out.append({"date": date, "uptime": 0.25, "seconds": seconds})
        else:
            out.append({"date": date, "uptime": 1.0, "seconds": {"operational": 86400}})
    return out


def iso(at: datetime.datetime) -> str:
    return at.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def maintenance(
    window_id: str,
    start: datetime.datetime,
    end: datetime.datetime,
    *,
    products: list[str],
    countries: list[str],
    scope: str,
    functions: tuple[str, ...] = (),
) -> dict[str, Any]:
    """One scheduled maintenance as statusd's Statuspage list gives it (the fields the page
    reads, and the status at the real now)."""
    now = datetime.datetime.now(datetime.UTC)
    status = "scheduled" if now < start else "in_progress" if now < end else "completed"
    return {
        "id": window_id + "-sp",
        "name": f"Work {window_id}",
        "status": status,
        "impact": "maintenance",
        "scheduled_for": iso(start),
        "scheduled_until": iso(end),
        "incident_updates": [{"status": "scheduled", "body": f"Affects: {scope}."}],
        "components": [],
        "statusd": {
            "id": window_id,
            "products": products,
            "countries": countries,
            "functions": list(functions),
            "scope": scope,
        },
    }


@dataclass
class FakeStatusd:
    """The answers of a fake statusd; change the fields between requests to simulate."""

    document: Any = field(default_factory=lambda: fixture("api.json"))
    etag: str = '"fixture-1"'
    verdicts: Any = field(default_factory=lambda: fixture("verdicts.json"))
    sources: Any = field(default_factory=lambda: fixture("sources.json"))
    history_served: bool = True
    events: bool = False
    """False: /api/events fails, so the page polls. True: a stream with one event."""
    maintenances: list[dict[str, Any]] | None = field(default_factory=list)
    """``scheduled_maintenances`` of /api/v2/scheduled-maintenances.json (None: 404)."""
    incidents: list[dict[str, Any]] | None = field(default_factory=list)
    """``incidents`` of /api/incidents (None: 404)."""
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    subscription_options: Any = field(default_factory=lambda: {"email": True, "webhook": True})
    """The answer of GET /api/subscriptions/options; None: 404 (an older statusd)."""
    subscribe_answers: list[tuple[int, Any, dict[str, str]]] = field(default_factory=list)
    """Scripted answers of POST /api/subscriptions, first first; when none is left, the
    sign-up is checked by statusd's own parser (400 with its reason, else 202 or 201)."""
    hold_subscribe: bool = False
    """True: sign-ups are kept unanswered in ``held`` until the test answers them."""
    held: list[Route] = field(default_factory=list)
    signups: list[Any] = field(default_factory=list)
    """The bodies of POST /api/subscriptions, parsed, in order."""

    def install(self, context: BrowserContext, origin: str = ORIGIN) -> None:
        context.route(origin + "/**", self.handle)

    def set_document(self, document: Any, etag: str) -> None:
        self.document = copy.deepcopy(document)
        self.etag = etag

    def handle(self, route: Route) -> None:
        request = route.request
        path = urlsplit(request.url).path
        self.seen.append((path, request.headers))
        if request.method == "OPTIONS":
            route.fulfill(status=204, headers={**CORS, "Access-Control-Allow-Headers": "*"})
        elif path == "/api":
            if request.headers.get("if-none-match") == self.etag:
                route.fulfill(status=304, headers={**CORS, "ETag": self.etag})
            else:
                self._json(route, self.document, {"ETag": self.etag})
        elif path == "/api/verdicts":
            if self.verdicts:
                self._json(route, self.verdicts)
            else:
                self._missing(route)
        elif path == "/api/sources":
            self._json(route, self.sources)
        elif path == "/api/history":
            if self.history_served:
                self._json(route, {"days": 90, "buckets": history_days()})
            else:
                self._missing(route)
        elif path == "/api/v2/scheduled-maintenances.json":
            if self.maintenances is None:
                self._missing(route)
            else:
                self._json(route, {"page": {}, "scheduled_maintenances": self.maintenances})
        elif path == "/api/incidents":
            if self.incidents is None:
                self._missing(route)
            else:
                self._json(route, {"days": 90, "incidents": self.incidents})
        elif path == "/api/subscriptions/options":
            if self.subscription_options is None:
                self._missing(route)
            else:
                self._json(route, self.subscription_options)
        elif path == "/api/subscriptions" and request.method == "POST":
            self.signups.append(json.loads(request.post_data or "null"))
            if self.hold_subscribe:
                self.held.append(route)
            else:
                self.answer_signup(route)
        elif path == "/api/events":
            if self.events:
                body = f"retry: 60000\ndata: {self.etag}\n\n"
                route.fulfill(
                    status=200, body=body, headers={**CORS, "Content-Type": "text/event-stream"}
                )
            else:
                route.abort()
        elif path == "/i18n/page.json":
            want = parse_qs(urlsplit(request.url).query).get("want", [""])[0]
            words = i18n.page_document(i18n.page_language(want))
            headers = {**CORS, "Content-Type": "application/json"}
            route.fulfill(status=200, body=words, headers=headers)
        elif path.startswith("/badge/"):
            label = path.removeprefix("/badge/").removesuffix(".svg")
            svg = (
                '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="20">'
                f'<title>{label}</title><rect width="120" height="20" fill="#1a7f37"/></svg>'
            )
            route.fulfill(status=200, body=svg, headers={**CORS, "Content-Type": "image/svg+xml"})
        else:
            self._static(route, path)

    def answer_signup(self, route: Route) -> None:
        """What statusd answers a sign-up: the next scripted answer, else its parser's."""
        if self.subscribe_answers:
            status, value, headers = self.subscribe_answers.pop(0)
        else:
            status, value, headers = signup_answer(route.request.post_data_buffer or b"")
        route.fulfill(
            status=status,
            body=json.dumps(value),
            headers={"Content-Type": "application/json", "Cache-Control": "no-store", **headers},
        )

    def _json(self, route: Route, value: Any, headers: dict[str, str] | None = None) -> None:
        route.fulfill(
            status=200,
            body=json.dumps(value),
            headers={**CORS, **PAGE_HEADERS, "Content-Type": "application/json", **(headers or {})},
        )

    def _missing(self, route: Route) -> None:
        route.fulfill(
            status=404,
            body='{"error": "not found"}',
            headers={**CORS, "Content-Type": "application/json"},
        )

    def _static(self, route: Route, path: str) -> None:
        file = (WEB / (path.lstrip("/") or "index.html")).resolve()
        if not file.is_relative_to(WEB) or not file.is_file():
            self._missing(route)
            return
        kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        route.fulfill(
            status=200, body=file.read_bytes(), headers={**PAGE_HEADERS, "Content-Type": kind}
        )


def signup_answer(body: bytes) -> tuple[int, Any, dict[str, str]]:
    """statusd's answer to a sign-up body, reasons and all, without a store behind it."""
    try:
        signup = parse_subscription_request(body)
    except RequestError as error:
        return 400, {"error": error.reason}, {}
    if isinstance(signup, EmailSignup):
        return 202, {"status": "pending"}, {}
    created = {"id": "sub_fake1", "secret": "whsec_" + "A" * 32, "token": "tok_" + XSS}
    return 201, created, {}
