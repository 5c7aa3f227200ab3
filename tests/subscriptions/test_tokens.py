"""Tokens, ids and webhook secrets: enough entropy, stored as digests, the Standard Webhooks
secret format the receivers' library takes."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime

from standardwebhooks import Webhook

from statusd.subscriptions.tokens import (
    TokenKey,
    event_message_prefix,
    new_key,
    new_subscription_id,
    new_token,
    new_webhook_secret,
    token_digest,
)

URL_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")


def test_tokens_carry_256_random_bits_and_differ() -> None:
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100
    for token in tokens:
        assert URL_SAFE.match(token)
        assert len(base64.urlsafe_b64decode(token + "=")) == 32


def test_the_digest_is_sha256_and_not_the_token() -> None:
    token = new_token()
    assert len(token_digest(token)) == 32
    assert token_digest(token) == token_digest(token)
    assert token.encode() not in token_digest(token)


def test_ids_are_prefixed_and_url_safe() -> None:
    subscription_id = new_subscription_id()
    assert subscription_id.startswith("sub_")
    assert len(subscription_id) == 4 + 22
    assert URL_SAFE.match(subscription_id)
    prefix = event_message_prefix("status.changed:2026-12-05T10:00Z")
    assert re.match(r"^msg_[0-9a-f]{24}_$", prefix)
    assert prefix == event_message_prefix("status.changed:2026-12-05T10:00Z")


def test_webhook_secret_signs_and_verifies_with_standardwebhooks() -> None:
    """``whsec_`` + standard base64 of 32 bytes: the library decodes all 32 and a signature
    made with it verifies (url-safe base64 would lose bytes silently)."""
    secrets = [new_webhook_secret() for _ in range(50)]
    for secret in secrets:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
    assert any("+" in s or "/" in s for s in secrets)  # the standard alphabet, not url-safe
    hook = Webhook(secrets[0])
    body = json.dumps({"type": "status.changed"})
    at = datetime.now(UTC)
    signature = hook.sign("msg_1", at, body)
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }
    assert hook.verify(body, headers) == {"type": "status.changed"}


def test_manage_tokens_are_derived_per_key_and_id() -> None:
    raw = new_key()
    key = TokenKey(raw)
    token = key.token_for("sub_a")
    assert token == key.token_for("sub_a")
    assert token != key.token_for("sub_b")
    assert token != TokenKey(new_key()).token_for("sub_a")
    assert URL_SAFE.match(token)
    assert len(base64.urlsafe_b64decode(token + "=")) == 32
    assert raw.hex() not in repr(key)  # never in a log line by accident
