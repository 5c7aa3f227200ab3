"""The write routes of SPEC §8 through Quart's test client, on a real store in a temporary
history database: bad input refused with nothing stored, limits, the webhook address checks,
confirm and unsubscribe pages, DELETE, no CORS."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import quart.typing
import trio
from quart_trio import QuartTrio

from statusd.config import Settings
from statusd.metrics import Metrics
from statusd.serve.app import create_app
from statusd.state.holder import StateHolder
from statusd.storage.url import DatabaseUrl
from statusd.subscriptions.facade import AsyncStore
from statusd.subscriptions.routes import SubscriptionRoutes
from statusd.subscriptions.store import PENDING_SECONDS
from statusd.subscriptions.webhook_url import WebhookUrlError
from tests.subscriptions.conftest import NOW

PUBLIC = "93.184.215.14"
NAMES = {
    "hooks.example.com": [PUBLIC],
    "internal.example.com": ["10.0.0.5"],
    "mixed.example.com": [PUBLIC, "169.254.169.254"],
    "loopback.example.com": ["::1"],
}


async def resolve(host: str, port: int) -> Sequence[str]:
    """The test's DNS: a fixed table, nothing leaves the machine."""
    if host not in NAMES:
        raise WebhookUrlError(f"webhook host {host} does not resolve")
    return NAMES[host]


class WallClock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@dataclass
class Site:
    app: QuartTrio
    db: AsyncStore
    clock: WallClock

    def client(self) -> quart.typing.TestClientProtocol:
        return self.app.test_client()

    async def post(self, value: Any, *, client: str = "198.51.100.7", **options: Any) -> Any:
        body = value if isinstance(value, bytes) else json.dumps(value).encode()
        headers = {"Content-Type": "application/json", **options.pop("headers", {})}
        return await self.client().post(
            "/api/subscriptions",
            data=body,
            headers=headers,
            scope_base={"client": (client, 40000)},
            **options,
        )

    async def count(self) -> int:
        return await self.db.run(self.db.store.count)

    async def confirmation_token(self) -> str:
        entries = await self.db.run(self.db.store.claim_due, self.clock.now + 1, 10, 1)
        [entry] = [e for e in entries if e.confirm_token]
        assert entry.confirm_token is not None
        return entry.confirm_token


SETTINGS = Settings(smtp_url="smtp://127.0.0.1:2525", mail_from="status@example.com")


@pytest.fixture
async def db(database_url: DatabaseUrl) -> AsyncIterator[AsyncStore]:
    opened = await AsyncStore.open(database_url)
    yield opened
    await opened.aclose()


@pytest.fixture
def make_site(db: AsyncStore, tmp_path: Path) -> Callable[..., Site]:
    def make(**changes: Any) -> Site:
        settings = replace(SETTINGS, web_dir=tmp_path, **changes)
        clock = WallClock()
        routes = SubscriptionRoutes(db, settings, resolve=resolve, wall_clock=clock)
        state = StateHolder(("a",), stale_after=90)
        return Site(create_app(state, settings, Metrics(["a"]), extra_routes=routes), db, clock)

    return make


@pytest.fixture
def site(make_site: Callable[..., Site]) -> Site:
    return make_site()


async def text(response: Any) -> str:
    return str(await response.get_data(as_text=True))


def reason(body: str | bytes) -> str:
    value = json.loads(body)
    assert set(value) == {"error"}
    return str(value["error"])


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{not json", "body is not JSON"),
        (b"[1, 2]", "body must be a JSON object"),
        ({"email": "a@example.com", "admin": True}, "unknown key 'admin'"),
        ({"email": "a@example.com\r\nBcc: b@example.com"}, "line breaks"),
        ({"email": "a@@example.com"}, "not a valid address"),
        ({"email": "a@example.com", "products": ["fax"]}, "unknown product 'fax'"),
        ({"email": "a@example.com", "countries": ["XX"]}, "unknown country 'XX'"),
        ({"webhook": "https://hooks.example.com/", "countries": ["ZZ"]}, "unknown country"),
        ({"webhook": "http://hooks.example.com/"}, "must start with https://"),
    ],
)
async def test_bad_requests_are_400_with_the_reason_and_store_nothing(
    site: Site, body: Any, expected: str
) -> None:
    response = await site.post(body)
    assert response.status_code == 400
    assert expected in reason(await response.get_data())
    assert await site.count() == 0
    assert (await site.db.run(site.db.store.stats, NOW)).depth == 0


async def test_a_body_over_16_kib_is_413(site: Site) -> None:
    padding = "x" * (16 * 1024)
    response = await site.post({"email": "a@example.com", "pad": padding})
    assert response.status_code == 413
    assert reason(await response.get_data()) == "request body over 16384 bytes"
    assert await site.count() == 0


async def test_a_body_of_exactly_16_kib_is_read(site: Site) -> None:
    body = json.dumps({"email": "a@example.com", "lang": "en"}).encode()
    body = body[:-1] + b" " * (16 * 1024 - len(body)) + b"}"
    assert len(body) == 16 * 1024
    response = await site.post(body)
    assert response.status_code == 202


async def test_only_json_is_taken(site: Site) -> None:
    """A form or text/plain body (what another origin may send without a preflight) is 415."""
    body = json.dumps({"email": "a@example.com"}).encode()
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        response = await site.post(body, headers={"Content-Type": content_type})
        assert response.status_code == 415
    assert await site.count() == 0


async def test_email_signup_is_202_pending_and_queues_the_confirmation(site: Site) -> None:
    response = await site.post({"email": "a@example.com", "countries": ["DE"], "lang": "ru"})
    assert response.status_code == 202
    assert await response.get_json() == {"status": "pending"}
    [subscription] = await site.db.run(site.db.store.subscriptions)
    assert subscription.state == "pending"
    assert subscription.lang == "ru"
    assert await site.confirmation_token()


async def test_no_address_enumeration(site: Site) -> None:
    """Subscribed, pending, or unknown: the same status, body and headers."""
    first = await site.post({"email": "known@example.com"})
    token = await site.confirmation_token()
    confirm = await site.client().post(f"/subscriptions/confirm?token={token}")
    assert confirm.status_code == 200
    answers = []
    for address in ("known@example.com", "new@example.com", "known@example.com"):
        response = await site.post({"email": address})
        headers = {k: v for k, v in response.headers.items() if k.lower() != "date"}
        answers.append((response.status_code, await response.get_data(), headers))
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][0] == first.status_code == 202


async def test_email_without_smtp_url_is_503_with_the_reason(
    make_site: Callable[..., Site],
) -> None:
    site = make_site(smtp_url="", mail_from="")
    response = await site.post({"email": "a@example.com"})
    assert response.status_code == 503
    assert "smtp_url" in reason(await response.get_data())
    assert await site.count() == 0
    webhook = await site.post({"webhook": "https://hooks.example.com/in"})
    assert webhook.status_code == 201


@pytest.mark.parametrize(
    ("smtp_url", "mail_from", "email"),
    [("smtp://127.0.0.1:2525", "status@example.com", True), ("", "", False)],
)
async def test_options_tell_the_form_whether_email_is_on(
    make_site: Callable[..., Site], smtp_url: str, mail_from: str, email: bool
) -> None:
    """The page's form offers email only when statusd has an SMTP relay; no CORS."""
    site = make_site(smtp_url=smtp_url, mail_from=mail_from)
    response = await site.client().get("/api/subscriptions/options")
    assert response.status_code == 200
    assert await response.get_json() == {"email": email, "webhook": True}
    assert response.headers["Cache-Control"] == "no-store"
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_a_webhook_gets_its_id_secret_and_token_once(site: Site) -> None:
    response = await site.post(
        {"webhook": "https://hooks.example.com/in", "format": "slack", "products": ["sms"]}
    )
    assert response.status_code == 201
    created = await response.get_json()
    assert set(created) == {"id", "secret", "token"}
    assert created["id"].startswith("sub_")
    assert created["secret"].startswith("whsec_")
    [subscription] = await site.db.run(site.db.store.subscriptions)
    assert subscription.id == created["id"]
    assert subscription.address == "https://hooks.example.com/in"
    assert subscription.format == "slack"
    assert subscription.state == "active"


async def test_http_webhook_with_webhook_allow_http(make_site: Callable[..., Site]) -> None:
    site = make_site(webhook_allow_http=True)
    response = await site.post({"webhook": "http://hooks.example.com/in"})
    assert response.status_code == 201


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://internal.example.com/hook",
        "https://mixed.example.com/hook",
        "https://loopback.example.com/hook",
    ],
)
async def test_private_webhook_addresses_are_refused(site: Site, url: str) -> None:
    """Directly or by a name resolving to one (any of its addresses): 400, nothing stored."""
    response = await site.post({"webhook": url})
    assert response.status_code == 400
    assert "non-public address" in reason(await response.get_data())
    assert await site.count() == 0


async def test_private_webhooks_with_webhook_allow_private(make_site: Callable[..., Site]) -> None:
    site = make_site(webhook_allow_private=True)
    for url in ("https://10.1.2.3/hook", "https://internal.example.com/hook"):
        response = await site.post({"webhook": url})
        assert response.status_code == 201
    assert await site.count() == 2


async def test_a_webhook_host_that_does_not_resolve(site: Site) -> None:
    response = await site.post({"webhook": "https://nowhere.example.com/hook"})
    assert response.status_code == 400
    assert "does not resolve" in reason(await response.get_data())


async def test_a_resolver_that_hangs_is_cut_off(
    db: AsyncStore, tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async def hang(host: str, port: int) -> Sequence[str]:
        await trio.sleep_forever()
        raise AssertionError

    settings = replace(SETTINGS, web_dir=tmp_path)
    routes = SubscriptionRoutes(db, settings, resolve=hang)
    app = create_app(StateHolder(("a",), 90), settings, Metrics(["a"]), extra_routes=routes)
    response = await app.test_client().post(
        "/api/subscriptions", json={"webhook": "https://hooks.example.com/"}
    )
    assert response.status_code == 400
    assert "did not resolve in 5 s" in reason(await response.get_data())


async def test_the_eleventh_signup_in_an_hour_is_429(
    site: Site, autojump_clock: trio.testing.MockClock
) -> None:
    """Ten sign-ups from one client pass; the 11th is 429 with Retry-After; another client
    is not held back; an hour after the first, one more passes. Failures take no slot."""
    assert (await site.post({"email": "bad"})).status_code == 400
    for number in range(10):
        response = await site.post({"email": f"user{number}@example.com"})
        assert response.status_code == 202
        await trio.sleep(60)
    limited = await site.post({"email": "user10@example.com"})
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == str(3600 - 600)
    assert "10 new subscriptions per hour" in reason(await limited.get_data())
    assert await site.count() == 10
    other = await site.post({"email": "other@example.com"}, client="203.0.113.9")
    assert other.status_code == 202
    await trio.sleep(3600 - 600)
    assert (await site.post({"email": "user10@example.com"})).status_code == 202


async def test_behind_a_trusted_proxy_the_forwarded_client_is_limited(
    make_site: Callable[..., Site],
) -> None:
    site = make_site(subscribe_rate=1)
    via_proxy = {"X-Forwarded-For": "203.0.113.9"}
    assert (
        await site.post({"email": "a@example.com"}, client="127.0.0.1", headers=via_proxy)
    ).status_code == 202
    assert (
        await site.post({"email": "b@example.com"}, client="127.0.0.1", headers=via_proxy)
    ).status_code == 429
    other = {"X-Forwarded-For": "203.0.113.10"}
    assert (
        await site.post({"email": "c@example.com"}, client="127.0.0.1", headers=other)
    ).status_code == 202
    # not a trusted proxy: its header is ignored, the peer itself is counted
    spoofed = {"X-Forwarded-For": "203.0.113.11"}
    assert (
        await site.post({"email": "d@example.com"}, client="198.51.100.1", headers=spoofed)
    ).status_code == 202
    assert (
        await site.post({"email": "e@example.com"}, client="198.51.100.1", headers=other)
    ).status_code == 429


async def test_max_subscriptions_is_503_with_the_reason(make_site: Callable[..., Site]) -> None:
    site = make_site(max_subscriptions=1)
    assert (await site.post({"webhook": "https://hooks.example.com/a"})).status_code == 201
    response = await site.post({"webhook": "https://hooks.example.com/b"})
    assert response.status_code == 503
    assert "max_subscriptions" in reason(await response.get_data())
    assert (await site.post({"email": "a@example.com"})).status_code == 503
    assert await site.count() == 1


async def test_confirm_page_changes_nothing_its_post_confirms(site: Site) -> None:
    await site.post({"email": "a@example.com", "products": ["sms"], "countries": ["DE"]})
    token = await site.confirmation_token()
    page = await site.client().get(f"/subscriptions/confirm?token={token}")
    assert page.status_code == 200
    html = await text(page)
    assert '<form method="post" action="/subscriptions/confirm?token=' in html
    assert "<script" not in html
    assert "a@example.com" in html
    assert "SMS in Germany" in html
    assert "form-action 'self'" in page.headers["Content-Security-Policy"]
    assert "script-src" not in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"
    [pending] = await site.db.run(site.db.store.subscriptions)
    assert pending.state == "pending"
    done = await site.client().post(f"/subscriptions/confirm?token={token}")
    assert done.status_code == 200
    assert "Subscription confirmed" in await text(done)
    [active] = await site.db.run(site.db.store.subscriptions)
    assert active.state == "active"
    again = await site.client().get(f"/subscriptions/confirm?token={token}")
    assert "Subscription confirmed" in await text(again)


@pytest.mark.parametrize(
    ("accept", "lang", "words"),
    [
        ("ru-RU,ru;q=0.9,en;q=0.8", "ru", "Ссылка недействительна"),
        ("de-DE, en;q=0.5, ru;q=0.4", "en", "Link not valid"),
        ("fr, ru;q=0.3", "ru", "Ссылка недействительна"),
        ("", "en", "Link not valid"),
    ],
)
async def test_a_page_without_a_subscriber_speaks_the_browsers_language(
    site: Site, accept: str, lang: str, words: str
) -> None:
    """No subscription to take the language from: ``Accept-Language`` by quality, else
    English; ``?lang=`` wins over it."""
    headers = {"Accept-Language": accept}
    page = await site.client().get("/subscriptions/confirm?token=nothing", headers=headers)
    html = await text(page)
    assert f'<html lang="{lang}">' in html
    assert words in html
    asked = await site.client().get("/subscriptions/confirm?token=x&lang=en", headers=headers)
    assert '<html lang="en">' in await text(asked)


@pytest.mark.parametrize("action", ["confirm", "unsubscribe"])
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_unknown_tokens_get_a_404_page(site: Site, action: str, method: str) -> None:
    for query in ("?token=nothing", "", "?token="):
        client = site.client()
        send = client.get if method == "GET" else client.post
        response = await send(f"/subscriptions/{action}{query}")
        assert response.status_code == 404
        assert "not valid" in await text(response)


async def test_a_confirmation_expires_after_48_hours(site: Site) -> None:
    await site.post({"email": "a@example.com"})
    token = await site.confirmation_token()
    site.clock.now = NOW + PENDING_SECONDS
    response = await site.client().post(f"/subscriptions/confirm?token={token}")
    assert response.status_code == 404
    assert "expired" in await text(response)
    await site.post({"email": "b@example.com"})  # any sign-up sweeps the expired ones
    assert [s.address for s in await site.db.run(site.db.store.subscriptions)] == ["b@example.com"]


async def manage_token(site: Site) -> str:
    """Sign up and confirm a@example.com; the manage token its emails will carry."""
    await site.post({"email": "a@example.com", "lang": "ru"})
    token = await site.confirmation_token()
    await site.client().post(f"/subscriptions/confirm?token={token}")
    [subscription] = await site.db.run(site.db.store.subscriptions)
    return site.db.store.token_key.token_for(subscription.id)


async def test_unsubscribe_page_changes_nothing_its_post_deletes(site: Site) -> None:
    token = await manage_token(site)
    page = await site.client().get(f"/subscriptions/unsubscribe?token={token}")
    assert page.status_code == 200
    html = await text(page)
    assert '<html lang="ru">' in html  # the subscriber's language
    assert '<form method="post" action="/subscriptions/unsubscribe?token=' in html
    assert await site.count() == 1
    english = await site.client().get(f"/subscriptions/unsubscribe?token={token}&lang=en")
    assert '<html lang="en">' in await text(english)
    done = await site.client().post(f"/subscriptions/unsubscribe?token={token}&lang=en")
    assert done.status_code == 200
    assert "Unsubscribed" in await text(done)
    assert await site.count() == 0
    again = await site.client().post(f"/subscriptions/unsubscribe?token={token}")
    assert again.status_code == 404


async def test_one_click_unsubscribe(site: Site) -> None:
    """RFC 8058: a mail client POSTs List-Unsubscribe=One-Click to the link: done at once."""
    token = await manage_token(site)
    response = await site.client().post(
        f"/subscriptions/unsubscribe?token={token}",
        data=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert await site.count() == 0


async def test_delete_a_webhook_with_its_token(site: Site) -> None:
    created = await (await site.post({"webhook": "https://hooks.example.com/in"})).get_json()
    other = await (await site.post({"webhook": "https://hooks.example.com/2"})).get_json()
    path = f"/api/subscriptions/{created['id']}"
    missing = await site.client().delete(path)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    basic = await site.client().delete(path, headers={"Authorization": "Basic eDp5"})
    assert basic.status_code == 401
    wrong = await site.client().delete(path, headers={"Authorization": f"Bearer {other['token']}"})
    unknown = await site.client().delete(
        "/api/subscriptions/sub_nothing", headers={"Authorization": f"Bearer {created['token']}"}
    )
    assert wrong.status_code == unknown.status_code == 404
    assert await wrong.get_data() == await unknown.get_data()  # which one is not told
    assert await site.count() == 2
    deleted = await site.client().delete(
        path, headers={"Authorization": f"Bearer {created['token']}"}
    )
    assert deleted.status_code == 204
    assert await deleted.get_data() == b""
    assert [s.id for s in await site.db.run(site.db.store.subscriptions)] == [other["id"]]
    gone = await site.client().delete(path, headers={"Authorization": f"Bearer {created['token']}"})
    assert gone.status_code == 404


async def test_write_routes_send_no_cors_and_take_no_preflight(site: Site) -> None:
    """A browser on another origin can neither read an answer nor pass a preflight."""
    answers = [
        await site.post({"email": "a@example.com"}),
        await site.post({"email": "bad"}),
        await site.client().delete("/api/subscriptions/x", headers={"Authorization": "Bearer y"}),
        await site.client().get("/subscriptions/confirm?token=x"),
        await site.client().options("/api/subscriptions"),
        await site.client().options("/api/subscriptions/x"),
    ]
    for response in answers[:-2]:
        assert not any(k.lower().startswith("access-control-") for k, _ in response.headers.items())
    for preflight in answers[-2:]:  # refused: no status ok, no method or header allowed
        assert "Access-Control-Allow-Methods" not in preflight.headers
        assert "Access-Control-Allow-Headers" not in preflight.headers
    assert answers[-2].status_code == 405
    assert answers[-1].status_code == 405
    assert answers[-2].headers["Allow"] == "POST"


async def test_method_then_body_on_the_write_routes(site: Site) -> None:
    """GET with a body is 400 as everywhere; a wrong method is 405 before the body."""
    get_with_body = await site.client().get(
        "/subscriptions/confirm?token=x", data=b"x", headers={"Content-Length": "1"}
    )
    assert get_with_body.status_code == 400
    put = await site.client().put("/api/subscriptions", data=b"x" * 20000)
    assert put.status_code == 405
    assert put.headers["Allow"] == "POST"


async def test_without_a_store_the_routes_answer_503(tmp_path: Path) -> None:
    settings = replace(SETTINGS, web_dir=tmp_path)
    routes = SubscriptionRoutes(None, settings, resolve=resolve)
    app = create_app(StateHolder(("a",), 90), settings, Metrics(["a"]), extra_routes=routes)
    client = app.test_client()
    assert (
        await client.post("/api/subscriptions", json={"email": "a@example.com"})
    ).status_code == 503
    assert (await client.get("/subscriptions/confirm?token=x")).status_code == 503
    deleted = await client.delete("/api/subscriptions/x", headers={"Authorization": "Bearer y"})
    assert deleted.status_code == 503
