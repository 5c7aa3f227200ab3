"""Outbox entries into what is sent: the ``Render`` the senders (``deliver.senders``) call.

Everything here is derived from the entry, so a retry sends the same bytes (apart from the
webhook signature's timestamp): the same ``Message-ID`` / ``webhook-id``, the same links.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import quote, urlsplit

from statusd.body.jsonpieces import encode_json
from statusd.deliver.outbox import WebhookBody
from statusd.notify.messages import (
    confirmation_email,
    notification_email,
    slack_text,
    webhook_json,
)
from statusd.subscriptions.model import OutboxEntry


class RenderError(ValueError):
    """The entry cannot become a message (it lacks what its kind needs)."""


@dataclass(frozen=True, slots=True)
class MessageRender:
    """Renders entries for one page: its name, public URL and the email sender."""

    page_name: str
    base_url: str
    mail_from: str

    def message_id(self, entry: OutboxEntry) -> str:
        """``<msg_…@host>``: RFC 5322 wants a domain on the right; the page's host is ours."""
        host = urlsplit(self.base_url).hostname or "statusd.invalid"
        return f"<{entry.message_id}@{host}>"

    def link(self, action: str, token: str) -> str:
        return f"{self.base_url}/subscriptions/{action}?token={quote(token, safe='')}"

    def email(self, entry: OutboxEntry) -> EmailMessage:
        subscription = entry.subscription
        if entry.event is None:
            if not entry.confirm_token:
                raise RenderError(f"confirmation {entry.message_id} has no token")
            return confirmation_email(
                subscription,
                confirm_url=self.link("confirm", entry.confirm_token),
                page_name=self.page_name,
                mail_from=self.mail_from,
                message_id=self.message_id(entry),
            )
        if not entry.manage_token:
            raise RenderError(f"notification {entry.message_id} has no unsubscribe token")
        return notification_email(
            entry.event,
            subscription,
            page_name=self.page_name,
            base_url=self.base_url,
            mail_from=self.mail_from,
            unsubscribe_url=self.link("unsubscribe", entry.manage_token),
            message_id=self.message_id(entry),
        )

    def webhook(self, entry: OutboxEntry) -> WebhookBody:
        if entry.event is None:
            raise RenderError(f"webhook entry {entry.message_id} has no event")
        subscription = entry.subscription
        if subscription.format == "slack":
            value = slack_text(
                entry.event,
                page_name=self.page_name,
                page_url=self.base_url,
                lang=subscription.lang,
            )
        else:
            value = webhook_json(entry.event, page_name=self.page_name, page_url=self.base_url)
        return WebhookBody(encode_json(value))
