"""The deadline names why a source fails, and it is the only time bound of a collection.

With ``deadline`` below 0.7 s (the sum of the retry pauses), a fast failure such as a 500
is cut by the deadline during a pause; /api/sources must still name the failure, not only
the deadline. A slow source is waited for as long as the deadline allows, and no library
default (httpx's own 5 s timeout) cuts it shorter.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import trio
import trio.testing

from simulator.faults import Mode
from simulator.options import Options
from simulator.service import serve_simulator
from statusd.cli import load_settings
from statusd.collect.fetch import fetch_body, source_client
from statusd.collect.outcome import GoodResult
from statusd.collect.supervisor import collect_once, make_fetch
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


@pytest.fixture
def io_clock() -> trio.testing.MockClock:
    """Real time until ``jump_from_now_on``: the simulator writes its files in threads at
    start, and an autojump then could leap to any pending deadline."""
    return trio.testing.MockClock(rate=1.0)


def jump_from_now_on(clock: trio.testing.MockClock) -> None:
    """Stop the clock and jump it after 20 ms of real idleness: the requests travel over
    real loopback sockets, and a zero threshold could jump while bytes are in flight."""
    clock.rate = 0
    clock.autojump_threshold = 0.02


async def collect_slow_support(
    clock: trio.testing.MockClock, tmp_path: Path, *flags: str
) -> tuple[GoodResult | None, str | None]:
    """One collection of the support source, by the daemon's own HTTP client and settings
    from ``flags``, from a simulator (in-process, trio time) that answers after 8 s."""
    stop = trio.Event()
    options = Options(
        seed=1, data_dir=tmp_path, port=0, slow_ms=8000, faults={"support": Mode.SLOW}
    )
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            url = await nursery.start(serve_simulator, options, stop)
            jump_from_now_on(clock)
            settings, _ = load_settings([*flags, "--source-url", url], {})
            async with source_client() as client:
                fetch = make_fetch(SUPPORT, settings, client)
                outcome = await collect_once(SUPPORT, fetch, settings.limits, settings.deadline)
            stop.set()
    return outcome


async def test_a_source_slower_than_httpx_default_is_collected_within_the_deadline(
    io_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    """An 8 s answer under a 20 s deadline is a good result (httpx alone would give up at 5 s)."""
    result, error = await collect_slow_support(io_clock, tmp_path, "--deadline", "20")
    assert error is None
    assert result is not None
    assert result.record_count > 0


async def test_a_source_slower_than_the_deadline_fails_naming_it(
    io_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    """The same 8 s answer under a 6 s deadline: the deadline, and nothing else, cuts it."""
    result, error = await collect_slow_support(io_clock, tmp_path, "--deadline", "6")
    assert result is None
    assert error == "no result within the 6 s deadline"
