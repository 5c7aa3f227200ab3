"""The sign-up limit per client (sliding hour, bounded memory) and who the client is."""

from __future__ import annotations

import pytest

from statusd.subscriptions.ratelimit import (
    SignupLimiter,
    client_address,
    client_key,
    parse_networks,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_eleventh_in_an_hour_waits_for_the_oldest_to_leave() -> None:
    clock = Clock()
    limiter = SignupLimiter(10, clock)
    for minute in range(10):
        clock.now = 1000.0 + minute * 60
        assert limiter.take("198.51.100.7") is None
    assert limiter.take("198.51.100.7") == 3600 - 540
    assert limiter.take("198.51.100.8") is None  # another client is not held back
    clock.now = 1000.0 + 3600
    assert limiter.take("198.51.100.7") is None
    assert limiter.take("198.51.100.7") == 60


def test_a_slot_given_back_is_free_again() -> None:
    limiter = SignupLimiter(1, Clock())
    assert limiter.take("a") is None
    limiter.give_back("a")
    assert limiter.take("a") is None
    assert limiter.take("a") is not None


def test_memory_is_bounded_by_forgetting_the_least_recent_client() -> None:
    limiter = SignupLimiter(1, Clock(), max_clients=3)
    for client in ("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"):
        assert limiter.take(client) is None
    assert len(limiter) == 3
    assert limiter.take("10.0.0.4") is not None  # remembered
    assert limiter.take("10.0.0.1") is None  # forgotten first


def test_an_ipv6_client_is_its_64() -> None:
    assert (
        client_key("2001:db8:1:2::1") == client_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    )
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:198.51.100.7") == "198.51.100.7"
    limiter = SignupLimiter(1, Clock())
    assert limiter.take("2001:db8::1") is None
    assert limiter.take("2001:db8::2") is not None


TRUSTED = parse_networks(["127.0.0.1", "::1", "10.1.0.0/16"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("198.51.100.7", None, "198.51.100.7"),
        # not from a trusted proxy: the header is the client's own words
        ("198.51.100.7", "203.0.113.9", "198.51.100.7"),
        ("127.0.0.1", "203.0.113.9", "203.0.113.9"),
        ("127.0.0.1", None, "127.0.0.1"),
        # what the client wrote sits left of what the proxy appended
        ("127.0.0.1", "1.2.3.4, 203.0.113.9", "203.0.113.9"),
        # proxies in a row: skip the trusted ones from the right
        ("127.0.0.1", "203.0.113.9, 10.1.2.3", "203.0.113.9"),
        ("::1", "2001:db8::5", "2001:db8::5"),
        ("127.0.0.1", "garbage", "127.0.0.1"),
        ("127.0.0.1", "10.1.0.1", "127.0.0.1"),
        (None, "203.0.113.9", "unknown"),
    ],
)
def test_client_address(peer: str | None, forwarded: str | None, client: str) -> None:
    assert client_address(peer, forwarded, TRUSTED) == client


def test_no_trusted_proxies_means_the_peer() -> None:
    assert client_address("127.0.0.1", "203.0.113.9", ()) == "127.0.0.1"
