"""The write routes of SPEC §8: sign up, remove a webhook, confirm and unsubscribe pages.

``POST /api/subscriptions`` takes JSON (``Content-Type: application/json``, at most 16 KiB):
an email sign-up answers ``202 {"status": "pending"}`` whatever the address's state (no
enumeration) and queues a confirmation email; a webhook answers ``201 {"id", "secret",
"token"}`` once its host resolves to public addresses only. ``DELETE
/api/subscriptions/<id>`` with ``Authorization: Bearer <token>`` removes a webhook (``204``;
``401`` without a bearer token; ``404`` for a wrong id or token alike). ``GET
/api/subscriptions/options`` tells the page's form which channels it may offer (``{"email":
bool, "webhook": true}``: email needs ``smtp_url``). ``GET`` of
``/subscriptions/confirm`` and ``/subscriptions/unsubscribe`` shows a page whose button POSTs;
only a ``POST`` changes anything, also RFC 8058's one-click ``POST`` from a mail client.

None of these routes sends CORS headers or answers a preflight (``OPTIONS`` is 405), and a
sign-up must be ``application/json``: a browser on another origin cannot send one without a
preflight, so only the page's own origin can use them. Answers are ``no-store``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import trio
from quart import Response, request
from quart_trio import QuartTrio

from statusd import i18n
from statusd.body.jsonpieces import encode_json
from statusd.config import Settings
from statusd.serve.request_rules import read_body, takes_body
from statusd.storage.engine import StorageError, StorageUnavailable
from statusd.subscriptions.facade import AsyncStore
from statusd.subscriptions.model import Subscription
from statusd.subscriptions.pages import (
    CONTENT_SECURITY_POLICY,
    Page,
    ask_page,
    done_page,
    invalid_page,
    pick_language,
    unavailable_page,
)
from statusd.subscriptions.ratelimit import SignupLimiter, client_address, parse_networks
from statusd.subscriptions.requests import (
    EmailSignup,
    RequestError,
    WebhookSignup,
    parse_subscription_request,
)
from statusd.subscriptions.store import SubscriptionsFull, SubscriptionStore
from statusd.subscriptions.webhook_url import (
    Resolver,
    WebhookUrlError,
    check_webhook_url,
    resolve_host,
)

log = logging.getLogger("statusd.subscriptions")

MAX_REQUEST_BYTES = 16 * 1024
"""SPEC §8: a larger body is 413."""
RESOLVE_SECONDS = 5.0
"""How long a webhook host may take to resolve when subscribing."""
NO_STORE = {"Cache-Control": "no-store"}


@dataclass
class SubscriptionRoutes:
    """What the routes need: the store (None when it could not be opened: 503), the settings,
    and for tests the clocks and the resolver."""

    db: AsyncStore | None
    settings: Settings
    resolve: Resolver = resolve_host
    wall_clock: Callable[[], float] = time.time
    limiter: SignupLimiter | None = None
    limit_clock: Callable[[], float] = field(default=trio.current_time)
    on_enqueued: Callable[[], None] = lambda: None
    """Called after a confirmation email was queued (the daemon wakes the senders)."""

    def __call__(self, app: QuartTrio) -> None:
        """Register the routes on ``app`` (``create_app``'s ``extra_routes``)."""
        register(app, self)


def register(app: QuartTrio, routes: SubscriptionRoutes) -> None:
    settings = routes.settings
    limiter = routes.limiter or SignupLimiter(settings.subscribe_rate, routes.limit_clock)
    trusted = parse_networks(settings.trusted_proxies)
    home = settings.base_url + "/"
    route = partial(app.route, provide_automatic_options=False)

    @route("/api/subscriptions", methods=["POST"])
    @takes_body(MAX_REQUEST_BYTES)
    async def subscribe() -> Response:
        body = await read_body()
        if request.mimetype != "application/json":
            return api_error("Content-Type must be application/json", 415)
        try:
            signup = parse_subscription_request(body, allow_http=settings.webhook_allow_http)
        except RequestError as error:
            return api_error(error.reason, 400)
        if isinstance(signup, EmailSignup) and not settings.smtp_url:
            return api_error("email subscriptions are off: statusd has no smtp_url", 503)
        peer = request.scope.get("client") or (None,)  # the TCP peer, from the server
        client = client_address(peer[0], request.headers.get("X-Forwarded-For"), trusted)
        retry_after = limiter.take(client)
        if retry_after is not None:
            return api_error(
                f"at most {limiter.rate} new subscriptions per hour from one address",
                429,
                {"Retry-After": str(int(retry_after))},
            )
        answer = await sign_up(routes, signup)
        if answer.status_code >= 300:
            limiter.give_back(client)
        return answer

    @route("/api/subscriptions/options", methods=["GET"])
    async def subscription_options() -> Response:
        return api_answer({"email": bool(settings.smtp_url), "webhook": True}, 200)

    @route("/api/subscriptions/<subscription_id>", methods=["DELETE"])
    async def delete_subscription(subscription_id: str) -> Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return api_error(
                "Authorization: Bearer <token> is required",
                401,
                {"WWW-Authenticate": 'Bearer realm="subscriptions"'},
            )
        db = routes.db
        if db is None:
            return api_error(UNAVAILABLE, 503)
        try:
            removed = await db.run(db.store.delete_webhook, subscription_id, token.strip())
        except StorageError as error:
            return store_failed(error)
        if not removed:
            return api_error("no such subscription, or the token does not match", 404)
        return Response(b"", status=204, headers=NO_STORE)

    @route("/subscriptions/confirm", methods=["GET", "POST"])
    @takes_body(MAX_REQUEST_BYTES)
    async def confirm_page() -> Response:
        return await link_page(routes, "confirm", home)

    @route("/subscriptions/unsubscribe", methods=["GET", "POST"])
    @takes_body(MAX_REQUEST_BYTES)
    async def unsubscribe_page() -> Response:
        return await link_page(routes, "unsubscribe", home)


UNAVAILABLE = "subscriptions are unavailable: the database could not be opened"
DONE_LOG = {"confirm": "subscription confirmed", "unsubscribe": "unsubscribed"}
"""The log line of a confirmation or an unsubscription (the id, never the address)."""


async def sign_up(routes: SubscriptionRoutes, signup: EmailSignup | WebhookSignup) -> Response:
    """Store a checked sign-up; the answer of ``POST /api/subscriptions``."""
    settings = routes.settings
    db = routes.db
    if db is None:
        return api_error(UNAVAILABLE, 503)
    limit = settings.max_subscriptions
    try:
        if isinstance(signup, EmailSignup):
            await db.run(
                partial(db.store.add_email, limit=limit),
                signup.address,
                signup.scope,
                signup.lang,
                routes.wall_clock(),
            )
            routes.on_enqueued()
            return api_answer({"status": "pending"}, 202)
        with trio.move_on_after(RESOLVE_SECONDS):
            checked = await check_webhook_url(
                signup.url.url,
                allow_http=settings.webhook_allow_http,
                allow_private=settings.webhook_allow_private,
                resolve=routes.resolve,
            )
            created = await db.run(
                partial(db.store.add_webhook, limit=limit),
                checked.parsed.url,
                signup.format,
                signup.scope,
                signup.lang,
                routes.wall_clock(),
            )
            return api_answer(
                {"id": created.id, "secret": created.secret, "token": created.token}, 201
            )
        return api_error(
            f"webhook host {signup.url.host} did not resolve in {RESOLVE_SECONDS:g} s", 400
        )
    except WebhookUrlError as error:
        return api_error(str(error), 400)
    except SubscriptionsFull as error:
        return api_error(f"no new subscriptions for now: {error} (max_subscriptions)", 503)
    except StorageError as error:
        return store_failed(error)


async def link_page(routes: SubscriptionRoutes, action: str, home: str) -> Response:
    """``GET``: the page with the button; ``POST`` (the button, or a mail client's one-click
    unsubscribe): do it. The token is in the query string either way."""
    if request.method == "POST":
        await read_body()  # the form's or RFC 8058's body says nothing the token does not
    token = request.args.get("token", "")
    asked = request.args.get("lang")
    browser = i18n.best_language(i18n.accept_language(request.headers.get("Accept-Language", "")))
    db = routes.db
    if db is None:
        return page_response(unavailable_page(pick_language(asked, None, browser), home))
    try:
        if request.method == "GET":
            found = await db.run(find_by_link, db.store, action, token, routes.wall_clock())
        else:
            found = await db.run(act_on_link, db.store, action, token, routes.wall_clock())
    except StorageError as error:
        log.warning("subscription store failed", extra={"error": str(error)})
        return page_response(
            unavailable_page(pick_language(asked, None, browser), home), retry_headers(error)
        )
    lang = pick_language(asked, found, browser)
    if found is None:
        return page_response(invalid_page(action, lang, home))
    if request.method == "POST":
        log.info(DONE_LOG[action], extra={"subscription": found.id, "channel": found.channel})
        return page_response(done_page(action, found, lang, home))
    if action == "confirm" and found.state == "active":
        return page_response(done_page(action, found, lang, home))
    return page_response(ask_page(action, found, token, lang, home))


def find_by_link(
    store: SubscriptionStore, action: str, token: str, now: float
) -> Subscription | None:
    """What a link's page shows (in a worker thread): nothing changes."""
    if not token:
        return None
    if action == "confirm":
        return store.pending_by_confirm_token(token, now)
    return store.by_token(token)


def act_on_link(
    store: SubscriptionStore, action: str, token: str, now: float
) -> Subscription | None:
    """Confirm or unsubscribe (in a worker thread); None for a token that names nothing."""
    if not token:
        return None
    if action == "confirm":
        return store.confirm(token, now)
    return store.remove_by_token(token)


def page_response(page: Page, headers: dict[str, str] | None = None) -> Response:
    return Response(
        page.html,
        status=page.status,
        content_type="text/html; charset=utf-8",
        headers={**NO_STORE, "Content-Security-Policy": CONTENT_SECURITY_POLICY, **(headers or {})},
    )


def api_answer(value: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer of a write route: no CORS headers (``serve.app.json_response`` has them)."""
    return Response(
        encode_json(value),
        status=status,
        content_type="application/json",
        headers={**NO_STORE, **(headers or {})},
    )


def api_error(reason: str, status: int, headers: dict[str, str] | None = None) -> Response:
    return api_answer({"error": reason}, status, headers)


RETRY_AFTER_SECONDS = 30
"""``Retry-After`` of a 503 while the database is away (SPEC §11: until it returns)."""


def retry_headers(error: StorageError) -> dict[str, str]:
    """``Retry-After`` when the database is away for now (a server down, a lock held too
    long); nothing for a fault that waiting does not mend (a full disk, a damaged file)."""
    if isinstance(error, StorageUnavailable):
        return {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return {}


def store_failed(error: StorageError) -> Response:
    log.warning("subscription store failed", extra={"error": str(error)})
    return api_error(f"subscriptions are unavailable for now: {error}", 503, retry_headers(error))
