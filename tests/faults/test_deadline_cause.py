"""A deadline shorter than the retry pauses must not hide why a source fails.

With ``deadline`` below 0.7 s (the sum of the retry pauses), a fast failure such as a 500
is cut by the deadline during a pause; /api/sources must still name the failure, not only
the deadline.
"""

from __future__ import annotations

import httpx
import pytest
import trio

from statusd.collect.fetch import fetch_body
from statusd.collect.supervisor import collect_once
from statusd.sources.base import Limits
from statusd.sources.support import SPEC as SUPPORT

URL = "http://sources.test/support"


async def collect_with(handler: httpx.MockTransport, deadline: float) -> str | None:
    async with httpx.AsyncClient(transport=handler) as client:

        async def fetch() -> bytes:
            return await fetch_body(client, URL, 1024 * 1024)

        result, error = await collect_once(SUPPORT, fetch, Limits(), deadline)
    assert result is None
    return error


@pytest.mark.parametrize(
    ("status", "cause"), [(500, "HTTP 500"), (404, "HTTP 404"), (302, "HTTP 302")]
)
async def test_fast_failure_cut_by_the_deadline_keeps_its_cause(
    autojump_clock: trio.abc.Clock, status: int, cause: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers={"Location": URL} if status == 302 else {})

    with trio.fail_after(10):
        error = await collect_with(httpx.MockTransport(handler), deadline=0.4)
    assert error == f"{cause} (no success within the 0.4 s deadline)"


async def test_a_hang_still_reports_the_deadline(autojump_clock: trio.abc.Clock) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await trio.sleep_forever()
        raise AssertionError

    with trio.fail_after(10):
        error = await collect_with(httpx.MockTransport(handler), deadline=0.4)
    assert error == "no result within the 0.4 s deadline"


async def test_failure_then_hang_names_both(autojump_clock: trio.abc.Clock) -> None:
    """A refused first attempt, then a hang: the last known cause and the deadline."""
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise httpx.ConnectError("refused", request=request)
        await trio.sleep_forever()
        raise AssertionError

    with trio.fail_after(10):
        error = await collect_with(httpx.MockTransport(handler), deadline=2.0)
    assert error == "connection refused (no success within the 2 s deadline)"
