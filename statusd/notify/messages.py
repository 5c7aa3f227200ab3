"""What a subscriber receives (SPEC §8, §10): the webhook payload, the Slack text and the
emails. Pure: an event (already recorded) and a subscriber in, a dict or an
``email.message.EmailMessage`` out; the senders (``statusd.deliver``) only send them.

The text of every message shape is built once (``content``) and rendered three ways (plain
text, HTML, Slack), so the formats never say different things. Words come from
``notify.wording`` in the subscriber's language (the catalog, and Babel's CLDR data for
plurals, dates, lists and country names). Times are shown in UTC (a subscriber has no time
zone).

Headers are safe by construction: anything from outside (an incident topic, a window's
title) is reduced to one line before it goes into a ``Subject``, and the standard library's
``email.policy.default`` refuses a CR or LF in any header (an address with one raises
``ValueError``; the write path refuses such addresses first).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from babel.dates import format_timedelta

from statusd.notify.wording import (
    country_label,
    format_instant,
    language,
    name_of,
    one_line,
    plural,
    scope_text,
    text,
)
from statusd.subscriptions.model import Change, NotificationEvent, Subscription
from statusd.verdicts.cells import COUNTRY_PRODUCTS
from statusd.verdicts.statuspage import iso_utc


class _HeaderClasses(HeaderRegistry):
    """The standard header registry, but each header's class is made once: the standard one
    makes a new class (``type(…)``) on every lookup, which was a third of the time a fan-out
    spent rendering an email (bench/notify_bench.py). Same classes, same bytes."""

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = super().__getitem__(name)
        return made


EMAIL_POLICY = policy.default.clone(max_line_length=998, header_factory=_HeaderClasses())
"""The standard policy, folding only past RFC 5322's hard limit: with the default 78, a
``List-Unsubscribe`` URL (a 43-character token) comes out as RFC 2047 encoded words, which
mail providers do not read as RFC 8058 headers. The relay (``deliver.smtp``) serialises with
the message's own policy."""

CONFIRM_HOURS_DEFAULT = 48
"""How long a confirmation link is valid when the subscription does not say (SPEC §8)."""


# --- what a message says ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Content:
    """One message before formatting: a subject, an opening sentence, listed items, the
    operator's note (maintenance body), and detail lines."""

    subject: str
    intro: str
    items: tuple[str, ...] = ()
    note: str = ""
    details: tuple[str, ...] = ()


def _change_fields(change: Change, lang: str) -> tuple[str, dict[str, str]]:
    fields = {
        "product": name_of(lang, "product", change.product),
        "status": text(lang, f"verdict.{change.after}"),
        "before": text(lang, f"verdict.{change.before}"),
    }
    if change.product in COUNTRY_PRODUCTS:
        return "country", {**fields, "country": country_label(change.key, lang)}
    if change.product == "billing":
        return "function", {**fields, "function": name_of(lang, "function", change.key)}
    return "product", fields


def _status_content(event: NotificationEvent, lang: str, page: str) -> Content:
    count = len(event.changes)
    if count == 1:
        shape, fields = _change_fields(event.changes[0], lang)
        subject = text(lang, f"change.{shape}.subject", **fields)
    else:
        subject = plural(lang, "changes.subject", count, page=page)
    lines = []
    for change in event.changes:
        shape, fields = _change_fields(change, lang)
        lines.append(text(lang, f"change.{shape}.line", **fields))
    return Content(
        subject=subject,
        intro=plural(lang, "changes.intro", count, page=page),
        items=tuple(lines),
        details=(text(lang, "changes.since", time=format_instant(event.occurred_at, lang)),),
    )


def _instant(value: object) -> float | None:
    """An RFC 3339 string of an event's payload as UNIX seconds."""
    if not isinstance(value, str):
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _incident_content(event: NotificationEvent, lang: str, page: str) -> Content:
    incident: Mapping[str, Any] = event.incident or {}
    kind = event.type.removeprefix("incident.")
    name = one_line(str(incident.get("name", "")))
    started, resolved = _instant(incident.get("started_at")), _instant(incident.get("resolved_at"))
    details = []
    if started is not None:
        details.append(text(lang, "incident.started", time=format_instant(started, lang)))
    if kind == "resolved" and resolved is not None:
        details.append(text(lang, "incident.resolved", time=format_instant(resolved, lang)))
        if started is not None and resolved > started:
            duration = format_timedelta(
                timedelta(seconds=resolved - started), locale=language(lang)
            )
            details.append(text(lang, "incident.duration", duration=duration))
    return Content(
        subject=text(lang, f"incident.{kind}.subject", name=name),
        intro=text(lang, f"incident.{kind}.intro", name=name, page=page),
        details=tuple(details),
    )


def _maintenance_content(event: NotificationEvent, lang: str, page: str) -> Content:
    window: Mapping[str, Any] = event.maintenance or {}
    kind = event.type.removeprefix("maintenance.")
    title = one_line(str(window.get("title", "")))
    details = []
    for key, field in (
        ("maintenance.start", "scheduled_for"),
        ("maintenance.end", "scheduled_until"),
    ):
        at = _instant(window.get(field))
        if at is not None:
            details.append(text(lang, key, time=format_instant(at, lang)))
    scope = scope_text(
        lang, window.get("products", ()), window.get("countries", ()), window.get("functions", ())
    )
    details.append(text(lang, "maintenance.affects", scope=scope))
    return Content(
        subject=text(lang, f"maintenance.{kind}.subject", title=title),
        intro=text(lang, f"maintenance.{kind}.intro", title=title, page=page),
        note=str(window.get("body", "")).strip(),
        details=tuple(details),
    )


def content(event: NotificationEvent, lang: str, page_name: str) -> Content:
    """What ``event`` says, in ``lang``."""
    page = one_line(page_name)
    if event.type == "status.changed":
        return _status_content(event, lang, page)
    if event.type.startswith("incident."):
        return _incident_content(event, lang, page)
    return _maintenance_content(event, lang, page)


# --- webhooks -------------------------------------------------------------------------------


def webhook_json(event: NotificationEvent, *, page_name: str, page_url: str) -> dict[str, Any]:
    """The ``json`` webhook payload of SPEC §8 (``event``: already cut to the subscriber's
    scope with ``NotificationEvent.for_scope``)."""
    body: dict[str, Any] = {
        "id": event.id,
        "type": event.type,
        "occurred_at": iso_utc(event.occurred_at),
        "page": {"name": page_name, "url": page_url},
        "changes": [change.to_json() for change in event.changes],
    }
    if event.incident is not None:
        body["incident"] = dict(event.incident)
    if event.maintenance is not None:
        body["maintenance"] = dict(event.maintenance)
    return body


def _slack_escape(value: str) -> str:
    """Slack's three control characters (its ``mrkdwn`` reads ``<…>`` as links)."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_text(
    event: NotificationEvent, *, page_name: str, page_url: str, lang: str
) -> dict[str, str]:
    """The ``slack`` webhook body: ``{"text": …}`` (Slack, Mattermost, Rocket.Chat)."""
    said = content(event, lang, page_name)
    lines = [f"*{_slack_escape(said.subject)}*", _slack_escape(said.intro)]
    lines += [f"• {_slack_escape(item)}" for item in said.items]
    if said.note:
        lines.append(_slack_escape(said.note))
    lines += [_slack_escape(detail) for detail in said.details]
    link = _slack_escape(text(lang, "page.link_text"))
    lines.append(f"<{_slack_escape(page_url)}|{link}>")
    return {"text": "\n".join(lines)}


# --- emails ---------------------------------------------------------------------------------


def _plain(said: Content, *tail: str) -> str:
    """The text part: the content's blocks, then ``tail`` blocks, blank lines between."""
    blocks = [said.intro]
    if said.items:
        blocks.append("\n".join(f"- {item}" for item in said.items))
    if said.note:
        blocks.append(said.note)
    if said.details:
        blocks.append("\n".join(said.details))
    return "\n\n".join([*blocks, *tail]) + "\n"


def _html(lang: str, said: Content, body: Iterable[str]) -> str:
    """A small HTML document; every piece of ``said`` is escaped here, ``body`` is HTML."""
    esc = html.escape
    parts = [f"<p>{esc(said.intro)}</p>"]
    if said.items:
        parts.append("<ul>" + "".join(f"<li>{esc(i)}</li>" for i in said.items) + "</ul>")
    if said.note:
        parts.append(f"<p>{esc(said.note)}</p>".replace("\n", "<br>\n"))
    if said.details:
        parts.append("<p>" + "<br>\n".join(esc(d) for d in said.details) + "</p>")
    parts.extend(body)
    return (
        f'<!DOCTYPE html>\n<html lang="{esc(lang)}"><head><meta charset="utf-8">'
        f"<title>{esc(said.subject)}</title></head>\n"
        '<body style="font-family: sans-serif; line-height: 1.5; max-width: 40em">\n'
        + "\n".join(parts)
        + "\n</body></html>\n"
    )


def _link(url: str, label: str) -> str:
    return f'<a href="{html.escape(url, quote=True)}">{html.escape(label)}</a>'


def _envelope(
    said: Content,
    *,
    lang: str,
    to: str,
    mail_from: str,
    message_id: str,
    date: float,
    plain: str,
    rich: str,
) -> EmailMessage:
    """The message with its common headers and both parts (text, then HTML)."""
    message = EmailMessage(policy=EMAIL_POLICY)
    message["Subject"] = one_line(said.subject)
    message["From"] = mail_from
    message["To"] = to
    message["Date"] = format_datetime(datetime.fromtimestamp(date, UTC))
    message["Message-ID"] = message_id if message_id.startswith("<") else f"<{message_id}>"
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    message.set_content(plain)
    message.add_alternative(rich, subtype="html")
    message["Content-Language"] = lang  # after the parts: set_content drops Content-* headers
    return message


def notification_email(
    event: NotificationEvent,
    subscription: Subscription,
    *,
    page_name: str,
    base_url: str,
    mail_from: str,
    unsubscribe_url: str,
    message_id: str,
) -> EmailMessage:
    """The email telling ``subscription`` about ``event`` (the part in its scope), with
    RFC 8058 one-click unsubscribe headers. ``Date`` is when the event occurred, so a
    retried message is the same message."""
    scoped = event.for_scope(subscription.scope)
    if scoped is None:
        raise ValueError(f"event {event.id} is not in the scope of {subscription.id}")
    lang = language(subscription.lang)
    said = content(scoped, lang, page_name)
    page = one_line(page_name)
    scope = subscription.scope
    footer = [
        text(lang, "footer.why", page=page),
        text(lang, "footer.scope", scope=scope_text(lang, scope.products, scope.countries)),
        text(lang, "footer.unsubscribe", url=unsubscribe_url),
    ]
    rich_footer = [
        f"<p>{_link(base_url, text(lang, 'page.link_text'))}</p>",
        '<hr><p style="font-size: smaller; color: #555">'
        + "<br>\n".join(html.escape(line) for line in footer[:2])
        + f"<br>\n{_link(unsubscribe_url, text(lang, 'footer.unsubscribe_text'))}</p>",
    ]
    plain = _plain(said, text(lang, "page.link", url=base_url), "-- \n" + "\n".join(footer))
    message = _envelope(
        said,
        lang=lang,
        to=subscription.address,
        mail_from=mail_from,
        message_id=message_id,
        date=scoped.occurred_at,
        plain=plain,
        rich=_html(lang, said, rich_footer),
    )
    message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return message


def confirmation_email(
    subscription: Subscription,
    *,
    confirm_url: str,
    page_name: str,
    mail_from: str,
    message_id: str,
) -> EmailMessage:
    """The double opt-in email: one link to the confirmation page (whose button POSTs).
    ``Date`` is when the subscription was asked for."""
    lang = language(subscription.lang)
    page = one_line(page_name)
    hours = CONFIRM_HOURS_DEFAULT
    if subscription.expires_at is not None:
        hours = max(1, round((subscription.expires_at - subscription.created_at) / 3600))
    scope = scope_text(lang, subscription.scope.products, subscription.scope.countries)
    said = Content(
        subject=text(lang, "confirm.subject", page=page),
        intro=text(lang, "confirm.intro", page=page),
        details=(text(lang, "confirm.scope", scope=scope),),
    )
    expires = plural(lang, "confirm.expires", hours)
    ignore = text(lang, "confirm.ignore")
    plain = _plain(said, f"{text(lang, 'confirm.action')}\n{confirm_url}", expires, ignore)
    button = (
        f'<p><a href="{html.escape(confirm_url, quote=True)}" style="display: inline-block; '
        "padding: 0.6em 1.2em; background: #1f6feb; color: #fff; text-decoration: none; "
        f'border-radius: 4px">{html.escape(text(lang, "confirm.button"))}</a></p>'
    )
    rich = [
        f"<p>{html.escape(text(lang, 'confirm.action'))}</p>",
        button,
        f"<p>{_link(confirm_url, confirm_url)}</p>",
        f"<p>{html.escape(expires)}<br>\n{html.escape(ignore)}</p>",
    ]
    return _envelope(
        said,
        lang=lang,
        to=subscription.address,
        mail_from=mail_from,
        message_id=message_id,
        date=subscription.created_at,
        plain=plain,
        rich=_html(lang, said, rich),
    )
