"""Secrets of the subscriptions: tokens in links and API answers, ids, webhook secrets.

A token is shown once (in an email link or an API answer) and stored only as its SHA-256
digest, so the database alone confirms or removes nothing. Email subscriptions need their
manage token again in every notification (``List-Unsubscribe``), so theirs is not random but
derived: HMAC-SHA256 of the subscription id under a 256-bit key kept with the subscriptions
(``TokenKey``); its digest is stored like any other. Every token carries ≥ 256 bits.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

TOKEN_BYTES = 32
"""Random bytes of a token (SPEC §8 asks for ≥ 128 bits)."""
WEBHOOK_SECRET_PREFIX = "whsec_"
WEBHOOK_SECRET_BYTES = 32
"""Standard Webhooks: ``whsec_`` + standard base64 of 24 to 64 random bytes."""
SUBSCRIPTION_ID_PREFIX = "sub_"
MESSAGE_ID_PREFIX = "msg_"


def new_token() -> str:
    """A fresh URL-safe token of 256 random bits (43 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> bytes:
    """What is stored of a token: its SHA-256 digest (32 bytes)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def new_subscription_id() -> str:
    """``sub_`` + 22 URL-safe characters (128 random bits); public, not a secret."""
    return SUBSCRIPTION_ID_PREFIX + secrets.token_urlsafe(16)


def new_message_id() -> str:
    """``msg_`` + 22 URL-safe characters: the stable id of one message (``webhook-id``, the
    local part of a ``Message-ID``); only letters, digits, ``-`` and ``_`` after the prefix."""
    return MESSAGE_ID_PREFIX + secrets.token_urlsafe(16)


def event_message_prefix(event_id: str) -> str:
    """The start of the message ids of one event's entries (``msg_<24 hex>_``); the
    subscription id completes it, so a replayed event gets the same message ids."""
    return f"{MESSAGE_ID_PREFIX}{hashlib.sha256(event_id.encode()).hexdigest()[:24]}_"


def new_webhook_secret() -> str:
    """``whsec_`` + standard base64 of 32 random bytes, as Standard Webhooks libraries take it."""
    return (
        WEBHOOK_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(WEBHOOK_SECRET_BYTES)).decode()
    )


def new_key() -> bytes:
    """A fresh ``TokenKey`` key: 32 random bytes."""
    return secrets.token_bytes(32)


class TokenKey:
    """Derives the manage token of an email subscription from its id (HMAC-SHA256)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("a token key has at least 32 bytes")
        self._key = key

    def token_for(self, subscription_id: str) -> str:
        mac = hmac.new(self._key, b"manage:" + subscription_id.encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()

    def __repr__(self) -> str:
        return "TokenKey(…)"
