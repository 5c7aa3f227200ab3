"""Webhook URLs: text checks, and every resolved address must be public (SPEC §8)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statusd.subscriptions.webhook_url import (
    MAX_URL_LENGTH,
    WebhookUrlError,
    check_webhook_url,
    is_public_address,
    parse_webhook_url,
)


def fixed_resolver(*answers: str):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> Sequence[str]:
        return list(answers)

    return resolve


@pytest.mark.parametrize(
    ("url", "host", "port", "target"),
    [
        ("https://hooks.example.com/x?y=1", "hooks.example.com", 443, "/x?y=1"),
        ("https://HOOKS.Example.com:8443", "hooks.example.com", 8443, "/"),
        ("https://[2606:4700::1111]/h", "2606:4700::1111", 443, "/h"),
        ("https://bücher.example/h", "xn--bcher-kva.example", 443, "/h"),
    ],
)
def test_good_urls_are_parsed(url: str, host: str, port: int, target: str) -> None:
    parsed = parse_webhook_url(url, allow_http=False)
    assert (parsed.host, parsed.port, parsed.target) == (host, port, target)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/", "must start with https://"),
        ("ftp://hooks.example.com/", "must start with https://"),
        ("hooks.example.com/x", "must start with https://"),
        ("https://user:pw@hooks.example.com/", "user name or password"),
        ("https://hooks.example.com/#frag", "fragment"),
        ("https://hooks.example.com/a b", "spaces or control characters"),
        ("https://hooks.example.com/\r\nX-Injected: 1", "spaces or control characters"),
        ("https:///path", "no host"),
        ("https://hooks.example.com:99999/", "malformed"),
        ("https://" + "a" * 64 + ".example/", "not a valid name"),
        ("https://example.com/" + "a" * MAX_URL_LENGTH, "longer than"),
        ("", "must be a URL"),
    ],
)
def test_bad_urls_are_refused_with_a_reason(url: str, reason: str) -> None:
    with pytest.raises(WebhookUrlError, match=reason):
        parse_webhook_url(url, allow_http=False)


def test_http_only_with_the_setting() -> None:
    assert parse_webhook_url("http://hooks.example.com/", allow_http=True).port == 80


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.0.0.1",
        "10.255.255.255",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:10.0.0.1",
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "ff02::1",
    ],
)
def test_non_public_addresses(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700::1111"])
def test_public_addresses(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


@given(st.ip_addresses(v=4))
def test_ipv4_mapped_is_judged_by_its_ipv4(address: ipaddress.IPv4Address) -> None:
    mapped = ipaddress.IPv6Address(f"::ffff:{address}")
    assert is_public_address(mapped) == is_public_address(address)


@pytest.mark.parametrize(
    ("url", "answers"),
    [
        ("https://127.0.0.1/h", ()),
        ("https://[::1]/h", ()),
        ("https://10.1.2.3/h", ()),
        ("https://169.254.169.254/latest/meta-data", ()),
        ("https://hooks.example.com/h", ("127.0.0.1",)),
        ("https://hooks.example.com/h", ("93.184.216.34", "10.0.0.7")),  # one bad is enough
        ("https://hooks.example.com/h", ("::1",)),
        ("https://hooks.example.com/h", ("fe80::1%eth0",)),
    ],
)
async def test_private_targets_are_refused(url: str, answers: tuple[str, ...]) -> None:
    """Directly or by a DNS name: any non-public address refuses the URL."""
    with pytest.raises(WebhookUrlError, match="non-public address"):
        await check_webhook_url(
            url, allow_http=False, allow_private=False, resolve=fixed_resolver(*answers)
        )


async def test_private_targets_pass_with_the_setting() -> None:
    checked = await check_webhook_url(
        "http://localhost:9000/h",
        allow_http=True,
        allow_private=True,
        resolve=fixed_resolver("127.0.0.1", "::1", "127.0.0.1"),
    )
    assert checked.addresses == ("127.0.0.1", "::1")
    assert checked.parsed.port == 9000


async def test_a_name_that_changes_its_answer_is_refused_at_the_next_check() -> None:
    """Checked at subscription (public), checked again at delivery (now private): refused."""
    answers = iter([["93.184.216.34"], ["10.0.0.5"]])

    async def rebinding(host: str, port: int) -> Sequence[str]:
        return next(answers)

    url = "https://rebind.example/h"
    first = await check_webhook_url(url, allow_http=False, allow_private=False, resolve=rebinding)
    assert first.addresses == ("93.184.216.34",)
    with pytest.raises(WebhookUrlError, match="non-public"):
        await check_webhook_url(url, allow_http=False, allow_private=False, resolve=rebinding)


async def test_a_name_that_does_not_resolve_is_refused() -> None:
    """The real resolver: the reserved .invalid top-level domain never resolves (RFC 6761)."""
    with pytest.raises(WebhookUrlError, match="does not resolve"):
        await check_webhook_url(
            "https://no-such-host.invalid/h", allow_http=False, allow_private=False
        )


async def test_localhost_by_name_is_refused_with_the_real_resolver() -> None:
    with pytest.raises(WebhookUrlError, match="non-public"):
        await check_webhook_url("https://localhost/h", allow_http=False, allow_private=False)
