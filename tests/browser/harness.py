"""Shared pieces of the browser tests: launching Chromium, watching a page, the page's size,
checking a page with axe-core.

Chromium comes from Debian (``make chromium``); Playwright drives it and downloads nothing.
axe-core comes inside the ``axe-playwright-python`` wheel (the ``test`` extra).
``PageWatch`` records what a test must assert at the end: console errors, uncaught
exceptions, dialogs (an executed ``alert`` would be XSS), requests that left loopback, and
how many API requests were in flight at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Dialog,
    Page,
    Request,
    Response,
    sync_playwright,
)

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
TIMEOUT_MS = 10_000
"""Upper bound of every single Playwright wait (navigation, selector, function)."""
PAGE_FILES = ("index.html", "style.css", "app.js", "favicon.svg")
"""The page's files besides web/js/*.js: everything a browser loads for the page."""
AXE_FAILING_IMPACTS = ("serious", "critical")
"""axe-core impacts that fail a test, whatever the rule."""
AXE_FAILING_RULES = ("landmark-unique",)
"""Rules of a lower impact that fail a test too: the page passes them and must keep doing so."""


def page_files() -> list[Path]:
    """Every file the page loads."""
    return [WEB / name for name in PAGE_FILES] + sorted((WEB / "js").glob("*.js"))


@contextmanager
def launch_chromium() -> Iterator[Browser]:
    """Headless Chromium from Debian, closed on exit."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True, timeout=30_000
        )
        try:
            yield browser
        finally:
            browser.close()


def is_api(url: str) -> bool:
    """A data request of the page (the long-lived event stream is not one)."""
    return "/api" in url and "/api/events" not in url


@dataclass
class PageWatch:
    """What happened on one page: errors, dialogs, requests and API concurrency."""

    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    in_flight: set[Request] = field(default_factory=set)
    max_in_flight: int = 0
    allowed_errors: tuple[str, ...] = ()

    def attach(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        page.on("dialog", self._dialog)
        page.on("request", self._request)
        page.on("response", self._response)
        page.on("requestfinished", self._done)
        page.on("requestfailed", self._done)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        where = message.location.get("url", "")
        if any(part in where or part in message.text for part in self.allowed_errors):
            return
        self.errors.append(f"console: {message.text} ({where})")

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _request(self, request: Request) -> None:
        self.requests.append(request)
        if is_api(request.url):
            self.in_flight.add(request)
            self.max_in_flight = max(self.max_in_flight, len(self.in_flight))

    def _done(self, request: Request) -> None:
        self.in_flight.discard(request)

    def _response(self, response: Response) -> None:
        # A 304 has no body: the exchange ends with its headers (Playwright may report
        # its end later, after the page has already sent the next request).
        if response.status == 304:
            self.in_flight.discard(response.request)

    def api_requests(self, path: str) -> list[Request]:
        """Requests of ``path`` (``/api``, ``/api/sources``…), query string ignored."""
        return [r for r in self.requests if r.url.split("?")[0].endswith(path)]

    def assert_clean(self, *origins: str) -> None:
        """No error, no dialog, one API request at a time, nothing outside ``origins``."""
        assert self.errors == []
        assert self.dialogs == []
        assert self.max_in_flight <= 1
        foreign = [
            r.url for r in self.requests if not r.url.startswith((*origins, "file://", "data:"))
        ]
        assert foreign == []


def axe_violations(page: Page) -> list[str]:
    """What axe-core finds on ``page`` as it is now that fails a test: one line per element,
    "rule (impact) target: message"."""
    results = Axe().run(page)
    engine = results.response["testEngine"]
    assert engine["name"] == "axe-core", engine
    assert engine["version"].startswith("4."), engine
    found: list[str] = []
    for violation in results.response["violations"]:
        if violation["impact"] not in AXE_FAILING_IMPACTS and (
            violation["id"] not in AXE_FAILING_RULES
        ):
            continue
        for node in violation["nodes"]:
            checks = node.get("any", []) + node.get("all", []) + node.get("none", [])
            message = "; ".join(check["message"] for check in checks) or violation["help"]
            target = " ".join(str(part) for part in node["target"])
            found.append(f"{violation['id']} ({violation['impact']}) {target}: {message}")
    return found


@dataclass
class AxeAudit:
    """axe-core's findings over several states of a page, asserted once at the end so that a
    failure lists every state's violations, not only the first one's."""

    found: list[str] = field(default_factory=list)
    states: int = 0

    def check(self, page: Page, state: str) -> None:
        """Run axe-core on ``page`` as it is now; ``state`` names it in the report."""
        self.states += 1
        self.found.extend(f"{state}: {line}" for line in axe_violations(page))

    def assert_clean(self) -> None:
        """No serious or critical violation (nor one of ``AXE_FAILING_RULES``) anywhere."""
        assert self.states > 0
        assert not self.found, "axe-core found:\n" + "\n".join(self.found)
