"""``statusd.deliver.webhooks``: signed POSTs to a checked address, to a real receiver
(hypercorn with TLS on 127.0.0.1) that verifies the signature with ``standardwebhooks``;
each receiver fault is a test. Deadlines run on the autojump clock (20 ms threshold)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from functools import partial

import pytest
import trio
import trio.testing

from statusd.deliver.webhooks import (
    DEFAULT_TIMEOUT,
    DeliveryResult,
    WebhookClient,
    WebhookRequest,
    deliver_webhook,
    signed_headers,
)
from statusd.subscriptions.webhook_url import CheckedUrl, check_webhook_url
from tests.support.certs import Certificates
from tests.support.ports import free_port
from tests.support.webhook_receiver import SECRET, Receiver, drip_head, receiving

BODY = json.dumps({"id": "evt_1", "type": "status.changed", "changes": []}).encode()


async def resolve_loopback(host: str, port: int) -> Sequence[str]:
    return ["127.0.0.1"]


async def checked(url: str) -> CheckedUrl:
    """``url`` checked as at delivery, its name resolving to 127.0.0.1 (not in any DNS: a
    connection to the name itself would fail)."""
    return await check_webhook_url(
        url, allow_http=True, allow_private=True, resolve=resolve_loopback
    )


async def post(
    url: str, certificates: Certificates, *, message_id: str = "msg_1"
) -> DeliveryResult:
    return await deliver_webhook(
        await checked(url),
        BODY,
        signed_headers(SECRET, message_id, BODY, time.time()),
        ssl_context=certificates.client_context(),
        deadline=trio.current_time() + DEFAULT_TIMEOUT,
    )


async def test_signed_delivery_to_the_checked_address_with_the_name_for_tls(
    certificates: Certificates,
) -> None:
    receiver = Receiver()
    async with receiving(receiver, certificates) as port:
        result = await post(f"https://hooks.example.test:{port}/hook?x=1", certificates)
    assert result == DeliveryResult("delivered", "200", 200)
    [delivery] = receiver.deliveries
    assert delivery.body == BODY
    assert delivery.payload["id"] == "evt_1"
    assert delivery.headers["host"] == f"hooks.example.test:{port}"
    assert delivery.headers["webhook-id"] == "msg_1"
    assert delivery.headers["content-type"] == "application/json"
    assert delivery.headers["webhook-signature"].startswith("v1,")
    assert receiver.refused == []


async def test_a_wrong_signature_is_refused_by_the_receiver(certificates: Certificates) -> None:
    receiver = Receiver(secret="whsec_" + "QUJD" * 8)
    async with receiving(receiver, certificates) as port:
        result = await post(f"https://localhost:{port}/hook", certificates)
    assert result.outcome == "retry"
    assert result.status == 401
    assert receiver.refused == ["No matching signature found"]


async def test_the_certificate_must_match_the_name(certificates: Certificates) -> None:
    receiver = Receiver()
    async with receiving(receiver, certificates) as port:
        result = await post(f"https://other.example.test:{port}/hook", certificates)
    assert result.outcome == "retry"
    assert "CERTIFICATE_VERIFY_FAILED" in result.detail
    assert "other.example.test" in result.detail
    assert receiver.hits == []


async def test_500_is_retried(certificates: Certificates) -> None:
    receiver = Receiver()
    async with receiving(receiver, certificates) as port:
        result = await post(f"https://localhost:{port}/status/500", certificates)
    assert result == DeliveryResult("retry", "500: receiver says 500", 500)


async def test_410_unsubscribes(certificates: Certificates) -> None:
    receiver = Receiver()
    async with receiving(receiver, certificates) as port:
        result = await post(f"https://localhost:{port}/status/410", certificates)
    assert result.outcome == "gone"
    assert result.status == 410


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_redirects_are_not_followed(certificates: Certificates, status: int) -> None:
    receiver = Receiver()
    async with receiving(receiver, certificates) as port:
        result = await post(f"https://localhost:{port}/status/{status}", certificates)
    assert result.outcome == "retry"
    assert result.status == status
    assert "redirects are not followed" in result.detail
    assert receiver.hits == [f"/status/{status}"]  # never /hook


async def test_a_hanging_receiver_meets_the_deadline(
    certificates: Certificates, thread_friendly_clock: trio.testing.MockClock
) -> None:
    receiver = Receiver()
    async with receiving(receiver, certificates) as port:
        start = trio.current_time()
        result = await post(f"https://localhost:{port}/hang", certificates)
        assert trio.current_time() - start == pytest.approx(DEFAULT_TIMEOUT, abs=0.5)
    assert result == DeliveryResult("retry", "timed out")
    assert receiver.hits == ["/hang"]


async def test_a_dripping_answer_head_meets_the_deadline(
    thread_friendly_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, drip_head, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        start = trio.current_time()
        result = await deliver_webhook(
            await checked(f"http://hooks.example.test:{port}/"),
            BODY,
            {},
            deadline=trio.current_time() + DEFAULT_TIMEOUT,
        )
        assert trio.current_time() - start == pytest.approx(DEFAULT_TIMEOUT, abs=1.5)
        nursery.cancel_scope.cancel()
    assert result == DeliveryResult("retry", "timed out")


async def test_a_dripping_error_body_is_cut_at_the_deadline(
    certificates: Certificates, thread_friendly_clock: trio.testing.MockClock
) -> None:
    receiver = Receiver()
    async with receiving(receiver, certificates) as port:
        start = trio.current_time()
        result = await post(f"https://localhost:{port}/drip/503", certificates)
        assert trio.current_time() - start == pytest.approx(DEFAULT_TIMEOUT, abs=1.5)
    assert result.outcome == "retry"
    assert result.status == 503
    assert result.detail.startswith("503: xxxxxxxx")


async def test_a_2xx_counts_without_waiting_for_a_dripping_body(
    certificates: Certificates, thread_friendly_clock: trio.testing.MockClock
) -> None:
    receiver = Receiver()
    async with receiving(receiver, certificates) as port:
        start = trio.current_time()
        result = await post(f"https://localhost:{port}/drip/202", certificates)
        assert trio.current_time() - start < 1.0
    assert result == DeliveryResult("delivered", "202", 202)


async def test_connection_refused_is_retried() -> None:
    result = await deliver_webhook(
        await checked(f"http://hooks.example.test:{free_port()}/"),
        BODY,
        {},
        deadline=trio.current_time() + DEFAULT_TIMEOUT,
    )
    assert result.outcome == "retry"
    assert result.detail.startswith("ConnectionRefusedError: ")


async def test_client_signs_and_delivers(certificates: Certificates) -> None:
    receiver = Receiver()
    client = WebhookClient(
        allow_private=True, ssl_context=certificates.client_context(), resolve=resolve_loopback
    )
    async with receiving(receiver, certificates) as port:
        result = await client.post(
            WebhookRequest(
                f"https://hooks.example.test:{port}/hook",
                SECRET,
                "msg_7",
                b'{"text": "SMS in Germany: degraded"}',
                "application/json",
            )
        )
    assert result.outcome == "delivered"
    assert receiver.deliveries[0].payload == {"text": "SMS in Germany: degraded"}
    assert receiver.deliveries[0].headers["webhook-id"] == "msg_7"


async def test_a_name_that_turned_private_is_refused_at_delivery(
    certificates: Certificates,
) -> None:
    answers = iter([["93.184.215.14"], ["127.0.0.1"]])

    async def rebinding(host: str, port: int) -> Sequence[str]:
        return next(answers)

    receiver = Receiver()
    async with receiving(receiver, certificates) as port:
        url = f"https://hooks.example.test:{port}/hook"
        at_subscribing = await check_webhook_url(
            url, allow_http=False, allow_private=False, resolve=rebinding
        )
        assert at_subscribing.addresses == ("93.184.215.14",)
        client = WebhookClient(ssl_context=certificates.client_context(), resolve=rebinding)
        result = await client.post(WebhookRequest(url, SECRET, "m", BODY, "x"))
    assert result.outcome == "retry"
    assert result.detail.startswith("refused: ")
    assert "non-public address (127.0.0.1)" in result.detail
    assert receiver.hits == []
