"""Webhook URLs are visitors' input: statusd must never be made to call a private address.

``parse_webhook_url`` checks the text (pure); ``check_webhook_url`` also resolves the host and
refuses it when any address it resolves to is not public (loopback, private, link-local,
shared, reserved, multicast, cloud metadata such as 169.254.169.254, IPv4 mapped or embedded
in IPv6). The result carries the checked addresses: the sender connects to one of those, not
to the name again, so a DNS answer that changes between the check and the connection cannot
point the request elsewhere. Both run when subscribing and again at every delivery.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import trio

MAX_URL_LENGTH = 2048

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""(host, port) → the IP addresses (text) a connection could go to."""


class WebhookUrlError(ValueError):
    """The URL is refused; the message says why (shown to the visitor as a 400 reason)."""


@dataclass(frozen=True, slots=True)
class ParsedUrl:
    """A webhook URL that passed the text checks."""

    url: str
    scheme: str
    host: str
    """Lower-case; IDNA-encoded for names, compressed for IPv6 (no brackets)."""
    port: int
    target: str
    """Path and query, as sent in the request line (``/`` when empty)."""


@dataclass(frozen=True, slots=True)
class CheckedUrl:
    """A parsed URL and the addresses its host resolved to, every one allowed."""

    parsed: ParsedUrl
    addresses: tuple[str, ...]


def parse_webhook_url(url: str, *, allow_http: bool) -> ParsedUrl:
    """The URL's parts, or ``WebhookUrlError``: https only (http with ``allow_http``), a host,
    no user name or password, no fragment, no control characters or spaces, at most
    ``MAX_URL_LENGTH`` characters."""
    if not isinstance(url, str) or not url:
        raise WebhookUrlError("webhook must be a URL")
    if len(url) > MAX_URL_LENGTH:
        raise WebhookUrlError(f"webhook URL is longer than {MAX_URL_LENGTH} characters")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise WebhookUrlError("webhook URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise WebhookUrlError(f"webhook URL is malformed: {error}") from None
    scheme = parts.scheme.lower()
    allowed = ("https", "http") if allow_http else ("https",)
    if scheme not in allowed:
        raise WebhookUrlError(
            "webhook URL must start with https://"
            if not allow_http
            else "webhook URL must start with https:// or http://"
        )
    if parts.username is not None or parts.password is not None:
        raise WebhookUrlError("webhook URL must not contain a user name or password")
    if parts.fragment or url.endswith("#"):
        raise WebhookUrlError("webhook URL must not contain a fragment (#)")
    host = _normal_host(parts.hostname or "")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return ParsedUrl(url, scheme, host, port or (443 if scheme == "https" else 80), target)


def _normal_host(host: str) -> str:
    if not host:
        raise WebhookUrlError("webhook URL has no host")
    try:
        return ipaddress.ip_address(host).compressed
    except ValueError:
        pass
    try:
        encoded = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise WebhookUrlError("webhook URL host is not a valid name") from None
    labels = encoded.rstrip(".").split(".")
    if not all(label and len(label) <= 63 for label in labels) or len(encoded) > 253:
        raise WebhookUrlError("webhook URL host is not a valid name")
    if len(labels) == 4 and all(label.isdigit() for label in labels):
        raise WebhookUrlError("webhook URL host is not a valid address")
    return encoded


def is_public_address(address: IPAddress) -> bool:
    """True for a globally routable unicast address; IPv4 inside IPv6 (mapped, 6to4,
    Teredo, NAT64) is judged by the IPv4 address it carries."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_public_address(embedded)
    return address.is_global and not address.is_multicast


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


async def resolve_host(host: str, port: int) -> Sequence[str]:
    """The addresses ``host`` resolves to (getaddrinfo in a thread; the caller's deadline
    bounds the wait, a resolver that never answers leaves a thread behind, as trio does)."""
    try:
        infos: list[tuple[Any, ...]] = await trio.socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM
        )
    except socket.gaierror as error:
        raise WebhookUrlError(f"webhook host {host} does not resolve ({error.strerror})") from None
    return [str(info[4][0]) for info in infos]


async def check_webhook_url(
    url: str,
    *,
    allow_http: bool,
    allow_private: bool,
    resolve: Resolver = resolve_host,
) -> CheckedUrl:
    """Parse ``url`` and resolve its host; refuse it when any address is not public
    (unless ``allow_private``). Raises ``WebhookUrlError``."""
    parsed = parse_webhook_url(url, allow_http=allow_http)
    try:
        literal: IPAddress | None = ipaddress.ip_address(parsed.host)
    except ValueError:
        literal = None
    if literal is not None:
        found: Sequence[str] = [literal.compressed]
    else:
        found = await resolve(parsed.host, parsed.port)
    addresses: list[str] = []
    for text in found:
        address = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone index
        if not allow_private and not is_public_address(address):
            raise WebhookUrlError(
                f"webhook host {parsed.host} resolves to a non-public address ({address})"
            )
        if address.compressed not in addresses:
            addresses.append(address.compressed)
    if not addresses:
        raise WebhookUrlError(f"webhook host {parsed.host} has no address")
    return CheckedUrl(parsed, tuple(addresses))
