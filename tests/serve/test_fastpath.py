"""The /api fast path (``statusd.serve.fastpath``): answered like ``negotiate``, part by part,
with a count of the requests in flight. (Timings are in bench/; these tests check only what
must stay true.)"""

from __future__ import annotations

import gzip
from dataclasses import replace
from typing import Any

import trio

from statusd.body.document import Document, result_parts
from statusd.body.spill import joined
from statusd.serve.http_cache import negotiate
from tests.serve.asgi import front_app, http_scope, no_receive

DOC = Document.of(b'{"status":true,"data":{}}')
OTHER = Document.of(b'{"status":true,"data":{"x":1}}')


async def test_api_is_answered_in_front_like_negotiate() -> None:
    """GET /api gets ``negotiate``'s answer; HEAD the same headers without a body."""
    front, inner = front_app()
    for method in ("GET", "HEAD"):
        sent: list[Any] = []

        async def send(message: Any, sent: list[Any] = sent) -> None:
            sent.append(message)

        with trio.fail_after(5):
            await front(
                http_scope("/api", method, [(b"accept-encoding", b"gzip")]), no_receive, send
            )
        view = front._state.view
        status, headers, body = negotiate(
            view.document,
            if_none_match="",
            accept_encoding="gzip",
            max_age=view.seconds_until_next_collection(trio.current_time()),
        )
        assert sent[0]["status"] == status
        assert sent[0]["headers"] == headers
        pieces = sent[1:]
        assert joined(m["body"] for m in pieces) == (joined(body) if method == "GET" else b"")
        assert [m["more_body"] for m in pieces] == [True] * (len(pieces) - 1) + [False]
    assert inner.calls == []


async def test_a_document_in_parts_is_sent_part_by_part() -> None:
    """A big /api body is never joined: each part is one body message, the last one ends
    it, and Content-Length counts them all (plain and gzip)."""
    front, _ = front_app()
    parts = result_parts([("sms", (b"[" + b"1," * 40, b"1]")), ("support", (b"[1,0]",))])
    document = Document.of_parts(parts, [gzip.compress(joined(parts), mtime=0)], '"parts"')
    assert len(document.parts) > 1
    front._state._view = replace(front._state.view, document=document)
    for encoding, expected in ((b"identity", document.parts), (b"gzip", document.gzip_parts)):
        sent: list[Any] = []

        async def send(message: Any, sent: list[Any] = sent) -> None:
            sent.append(message)

        with trio.fail_after(5):
            await front(
                http_scope("/api", "GET", [(b"accept-encoding", encoding)]), no_receive, send
            )
        headers = dict(sent[0]["headers"])
        assert [m["body"] for m in sent[1:]] == list(expected)
        assert [m["more_body"] for m in sent[1:]][-1] is False
        assert int(headers[b"content-length"]) == sum(map(len, expected))


async def test_api_request_with_a_body_goes_to_the_inner_app() -> None:
    """A request declaring a body is left to Quart (which refuses it)."""
    front, inner = front_app()
    inner.release.set()

    async def send(message: Any) -> None:
        pass

    with trio.fail_after(5):
        await front(http_scope("/api", headers=[(b"content-length", b"3")]), no_receive, send)
    assert inner.calls == ["/api"]


async def test_api_for_a_version_is_answered_in_front_unless_unknown() -> None:
    """/api?v= naming the current or an earlier document is /api; a version this replica has
    not made is left to Quart (which answers 404, so nginx asks the other replica)."""
    front, inner = front_app()
    current = front._state.view.document.etag
    front._state._view = replace(front._state.view, earlier_etags=('"older"',))
    inner.release.set()
    for version, answered_in_front in ((current, True), ('"older"', True), ('"newer"', False)):
        sent: list[Any] = []

        async def send(message: Any, sent: list[Any] = sent) -> None:
            sent.append(message)

        query = b"v=" + version.strip('"').encode()
        with trio.fail_after(5):
            await front(http_scope("/api", query=query), no_receive, send)
        assert (sent[0]["status"] == 200) is answered_in_front
    assert inner.calls == ["/api"]


async def test_wait_idle_waits_for_requests_in_flight() -> None:
    """``wait_idle`` returns at once when idle, else only after the last request is answered."""
    front, inner = front_app()

    async def send(message: Any) -> None:
        pass

    with trio.fail_after(5):
        await front.wait_idle()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(front, http_scope("/healthz"), no_receive, send)
            nursery.start_soon(front, http_scope("/"), no_receive, send)
            await trio.testing.wait_all_tasks_blocked()
            assert front.in_flight == 2
            idle = trio.Event()

            async def wait() -> None:
                await front.wait_idle()
                idle.set()

            nursery.start_soon(wait)
            await trio.testing.wait_all_tasks_blocked()
            assert not idle.is_set()
            inner.release.set()
        assert idle.is_set()
        assert front.in_flight == 0
