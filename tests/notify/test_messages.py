"""What subscribers receive: the SPEC §8 webhook payload, the Slack text, and emails read
back with the standard library's parser (both parts, headers, no header injection)."""

from __future__ import annotations

from email import policy
from email.headerregistry import HeaderRegistry
from email.message import EmailMessage
from email.parser import BytesParser

import pytest

from statusd.notify.messages import (
    EMAIL_POLICY,
    confirmation_email,
    notification_email,
    slack_text,
    webhook_json,
)
from statusd.notify.wording import format_instant
from statusd.subscriptions.model import Change, NotificationEvent, Scope, Subscription

T0 = 1_780_000_000.0  # 2026-05-28T20:26:40Z
PAGE = "Acme status"
PAGE_URL = "https://status.example.com"
UNSUBSCRIBE = "https://status.example.com/subscriptions/unsubscribe?token=" + "T" * 43
SMS_DE = Change("sms", "DE", "DE", "cmp-sms-de", "operational", "degraded_performance")
SMS_FR = Change("sms", "FR", "FR", "cmp-sms-fr", "operational", "major_outage")
PAYOUT = Change("billing", None, "payout", "cmp-payout", "operational", "partial_outage")
SUPPORT = Change("support", None, "support", "cmp-support", "major_outage", "operational")


def status(*changes: Change) -> NotificationEvent:
    return NotificationEvent("evt1", "status.changed", T0, changes=changes)


def incident(kind: str, name: str = "SMS delays") -> NotificationEvent:
    resolved = kind == "resolved"
    return NotificationEvent(
        f"inc-{kind}",
        "incident.resolved" if resolved else "incident.opened",
        T0 + 7500 if resolved else T0,
        incident={
            "id": "inc1",
            "name": name,
            "status": "resolved" if resolved else "investigating",
            "started_at": "2026-05-28T20:26:40Z",
            "resolved_at": "2026-05-28T22:31:40Z" if resolved else None,
        },
        products=frozenset({"incidents"}),
    )


MAINTENANCE = NotificationEvent(
    "mnt1",
    "maintenance.scheduled",
    T0,
    maintenance={
        "id": "sms-de",
        "title": "Carrier upgrade",
        "body": "Messages may be delayed.",
        "status": "scheduled",
        "scheduled_for": "2026-06-01T02:00:00Z",
        "scheduled_until": "2026-06-01T04:00:00Z",
        "products": ["sms"],
        "countries": ["DE"],
        "functions": [],
    },
    products=frozenset({"sms"}),
    countries=frozenset({"DE"}),
)


def subscriber(
    lang: str = "en", address: str = "ops@example.com", countries: tuple[str, ...] = ()
) -> Subscription:
    return Subscription(
        "sub_1",
        "email",
        address,
        Scope(frozenset(), frozenset(countries)),
        lang=lang,
        state="active",
        created_at=T0 - 86_400,
        expires_at=T0 - 86_400 + 48 * 3600,
    )


def build(event: NotificationEvent, sub: Subscription) -> EmailMessage:
    return notification_email(
        event,
        sub,
        page_name=PAGE,
        base_url=PAGE_URL,
        mail_from="Acme Status <status@example.com>",
        unsubscribe_url=UNSUBSCRIBE,
        message_id="<evt1.sub_1@status.example.com>",
    )


def email_for(event: NotificationEvent, sub: Subscription) -> EmailMessage:
    """Built, serialised and parsed back as a receiver would."""
    parsed = BytesParser(policy=policy.default).parsebytes(build(event, sub).as_bytes())
    assert isinstance(parsed, EmailMessage)
    return parsed


def parts(message: EmailMessage) -> tuple[str, str]:
    plain, rich = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None
    assert rich is not None
    return plain.get_content(), rich.get_content()


# --- webhooks -------------------------------------------------------------------------------


def test_the_webhook_payload_has_the_spec_shape() -> None:
    body = webhook_json(status(SMS_DE, PAYOUT), page_name=PAGE, page_url=PAGE_URL)
    assert body == {
        "id": "evt1",
        "type": "status.changed",
        "occurred_at": "2026-05-28T20:26:40Z",
        "page": {"name": PAGE, "url": PAGE_URL},
        "changes": [
            {
                "product": "sms",
                "country": "DE",
                "key": "DE",
                "component_id": "cmp-sms-de",
                "from": "operational",
                "to": "degraded_performance",
            },
            {
                "product": "billing",
                "country": None,
                "key": "payout",
                "component_id": "cmp-payout",
                "from": "operational",
                "to": "partial_outage",
            },
        ],
    }


def test_incident_and_maintenance_payloads() -> None:
    opened = webhook_json(incident("opened"), page_name=PAGE, page_url=PAGE_URL)
    assert opened["type"] == "incident.opened"
    assert opened["changes"] == []
    assert opened["incident"]["name"] == "SMS delays"
    assert "maintenance" not in opened
    planned = webhook_json(MAINTENANCE, page_name=PAGE, page_url=PAGE_URL)
    assert planned["maintenance"]["scheduled_for"] == "2026-06-01T02:00:00Z"
    assert "incident" not in planned


def test_slack_text_escapes_its_control_characters() -> None:
    """``<``, ``>`` and ``&`` from a topic cannot make links or mentions in Slack."""
    said = slack_text(
        incident("opened", "<!channel> & <https://evil.example|click>"),
        page_name=PAGE,
        page_url=PAGE_URL,
        lang="en",
    )["text"]
    assert "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;" in said
    assert "<!channel>" not in said
    assert said.endswith(f"<{PAGE_URL}|Open the status page>")


def test_slack_text_in_russian() -> None:
    said = slack_text(status(SMS_DE), page_name=PAGE, page_url=PAGE_URL, lang="ru")["text"]
    assert said.startswith("*SMS — Германия: снижение производительности*")
    assert "(было: работает штатно)" in said


# --- notification emails --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "lang", "subject"),
    [
        (status(SMS_DE), "en", "SMS in Germany: degraded performance"),
        (status(SMS_DE), "ru", "SMS — Германия: снижение производительности"),
        (status(PAYOUT), "en", "Billing — Payout: partial outage"),
        (status(PAYOUT), "ru", "Биллинг — Выплаты: частичный сбой"),
        (status(SUPPORT), "en", "Support: operational"),
        (status(SMS_DE, SMS_FR), "en", "Acme status: 2 status changes"),
        (status(SMS_DE, SMS_FR), "ru", "Acme status: 2 изменения статуса"),
        (status(SMS_DE, SMS_FR, PAYOUT, SUPPORT, SMS_DE), "ru", "Acme status: 5 изменений статуса"),
        (incident("opened"), "en", "Incident: SMS delays"),
        (incident("resolved"), "ru", "Инцидент завершён: SMS delays"),
        (MAINTENANCE, "en", "Planned maintenance: Carrier upgrade"),
        (MAINTENANCE, "ru", "Запланированы работы: Carrier upgrade"),
    ],
)
def test_subjects(event: NotificationEvent, lang: str, subject: str) -> None:
    assert email_for(event, subscriber(lang))["Subject"] == subject


def test_a_notification_email_read_back() -> None:
    """Headers (RFC 8058 one-click unsubscribe among them) and a text and an HTML part that
    say the same thing."""
    message = email_for(status(SMS_DE, PAYOUT), subscriber())
    assert message["From"] == "Acme Status <status@example.com>"
    assert message["To"] == "ops@example.com"
    assert message["Message-ID"] == "<evt1.sub_1@status.example.com>"
    assert message["Date"] == "Thu, 28 May 2026 20:26:40 +0000"
    assert message["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Content-Language"] == "en"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    plain, rich = parts(message)
    for body in (plain, rich):
        assert "SMS in Germany: degraded performance (was operational)" in body
        assert "Billing — Payout: partial outage (was operational)" in body
        assert "May 28, 2026, 8:26\u202fPM UTC" in body
        assert UNSUBSCRIBE.replace("&", "&amp;") in body
    assert f'<a href="{PAGE_URL}">Open the status page</a>' in rich


def test_unsubscribe_headers_are_plain_on_the_wire() -> None:
    """RFC 8058 headers as mail providers read them: the URL in angle brackets on one line,
    not folded into RFC 2047 encoded words (which a parser would hide by decoding them)."""
    raw = build(status(SMS_DE), subscriber()).as_bytes()
    assert f"\r\nList-Unsubscribe: <{UNSUBSCRIBE}>\r\n".encode() in raw.replace(b"\n", b"\r\n")
    assert b"\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\n" in raw


def test_header_classes_are_made_once() -> None:
    """The email policy's registry gives the same class for a header name each time (the
    standard one makes a new class per lookup: a third of a fan-out's rendering time)."""
    registry = EMAIL_POLICY.header_factory
    assert isinstance(registry, HeaderRegistry)
    assert registry["List-Unsubscribe"] is registry["list-unsubscribe"]
    assert registry["To"] is not registry["Subject"]
    assert str(registry["To"]("To", "User <user@example.com>")) == "User <user@example.com>"


def test_an_email_tells_only_what_is_in_scope() -> None:
    """A subscriber to Germany hears of Germany and of billing (no country), not France."""
    plain, _ = parts(email_for(status(SMS_DE, SMS_FR, PAYOUT), subscriber(countries=("DE",))))
    assert "Germany" in plain
    assert "Payout" in plain
    assert "France" not in plain
    with pytest.raises(ValueError, match="not in the scope"):
        email_for(status(SMS_FR), subscriber(countries=("DE",)))


def test_russian_email_uses_cldr_names_dates_and_plurals() -> None:
    message = email_for(incident("resolved"), subscriber("ru", countries=("DE", "US")))
    plain, rich = parts(message)
    assert message["Content-Language"] == "ru"
    assert "Начало: 28 мая 2026\u202fг., 20:26 UTC" in plain
    assert "Длительность: 2 часа" in plain
    assert "страны: Германия и Соединенные Штаты" in plain
    assert '<html lang="ru">' in rich


def test_html_is_escaped() -> None:
    """Markup in a topic is shown as text in the HTML part, never run."""
    _, rich = parts(email_for(incident("opened", "<script>alert(1)</script>"), subscriber()))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rich
    assert "<script>" not in rich


def test_a_topic_cannot_inject_headers() -> None:
    """CR/LF in a topic stays in one Subject line: no header is added."""
    message = email_for(
        incident("opened", "Outage\r\nBcc: victim@example.org\n\nbody"), subscriber()
    )
    assert message["Subject"] == "Incident: Outage Bcc: victim@example.org body"
    assert message["Bcc"] is None
    assert len(message.get_all("Subject") or []) == 1


@pytest.mark.parametrize(
    "address",
    ["ops@example.com\r\nBcc: victim@example.org", "ops@example.com\nX-Evil: 1"],
)
def test_an_address_with_a_line_break_is_refused(address: str) -> None:
    with pytest.raises(ValueError, match="linefeed or carriage return"):
        email_for(status(SMS_DE), subscriber(address=address))


# --- the confirmation email -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "subject", "expires"),
    [
        ("en", "Confirm your subscription to Acme", "The link is valid for 48 hours."),
        ("ru", "Подтвердите подписку на уведомления Acme", "Ссылка действует 48 часов."),
    ],
)
def test_the_confirmation_email(lang: str, subject: str, expires: str) -> None:
    confirm = "https://status.example.com/subscriptions/confirm?token=abc&x=1"
    built = confirmation_email(
        subscriber(lang, countries=("DE",)),
        confirm_url=confirm,
        page_name="Acme",
        mail_from="status@example.com",
        message_id="confirm.sub_1@status.example.com",
    )
    message = BytesParser(policy=policy.default).parsebytes(built.as_bytes())
    assert isinstance(message, EmailMessage)
    assert message["Subject"] == subject
    assert message["Message-ID"] == "<confirm.sub_1@status.example.com>"
    assert message["To"] == "ops@example.com"
    assert message["List-Unsubscribe"] is None
    plain, rich = parts(message)
    assert confirm in plain
    assert f'href="{confirm.replace("&", "&amp;")}"' in rich
    assert expires in plain
    assert expires in rich


@pytest.mark.parametrize(
    ("hours", "text"),
    [(1, "1 час"), (2, "2 часа"), (5, "5 часов"), (21, "21 час"), (24, "24 часа")],
)
def test_russian_plural_hours(hours: int, text: str) -> None:
    sub = subscriber("ru")
    sub = Subscription(
        sub.id,
        sub.channel,
        sub.address,
        sub.scope,
        lang="ru",
        created_at=0,
        expires_at=hours * 3600,
    )
    built = confirmation_email(
        sub, confirm_url="https://x/c", page_name="A", mail_from="s@example.com", message_id="m@x"
    )
    plain, _ = parts(built)
    assert f"Ссылка действует {text}." in plain


def test_instants_in_each_language() -> None:
    assert format_instant(T0, "en") == "May 28, 2026, 8:26\u202fPM UTC"
    assert format_instant(T0, "ru") == "28 мая 2026\u202fг., 20:26 UTC"
    assert format_instant(T0, "xx") == format_instant(T0, "en")
