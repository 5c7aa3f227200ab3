"""At most ``subscribe_rate`` new subscriptions per client per hour (SPEC §8), in bounded
memory; and who the client is behind a reverse proxy.

``SignupLimiter`` keeps, per client, the instants of its last sign-ups within the window (at
most ``rate`` of them) and at most ``max_clients`` clients: the least recently seen is
forgotten first, so memory stays bounded whatever the number of addresses. A client is one
IPv4 address or one IPv6 /64 (what one host or one customer line gets).

``client_address``: the TCP peer, unless the peer is one of ``trusted_proxies`` (the reverse
proxy in front, loopback by default: nginx on the same host). Then ``X-Forwarded-For`` is
read from the right, skipping trusted proxies; the first other address is the client. A
client cannot forge it: what it writes into the header sits left of what the proxy appends.
"""

from __future__ import annotations

import ipaddress
import math
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence

WINDOW_SECONDS = 3600.0
MAX_CLIENTS = 100_000
"""Clients remembered at once (about 100 bytes each with a full window)."""

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class SignupLimiter:
    """Sign-up slots per client in a sliding window."""

    def __init__(
        self,
        rate: int,
        clock: Callable[[], float],
        *,
        window: float = WINDOW_SECONDS,
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        self.rate = rate
        self.window = window
        self.max_clients = max_clients
        self._clock = clock
        self._recent: OrderedDict[str, deque[float]] = OrderedDict()

    def take(self, client: str) -> float | None:
        """Take a slot for ``client``: None when taken, else the seconds until one frees."""
        now = self._clock()
        key = client_key(client)
        recent = self._recent.get(key)
        if recent is None:
            recent = self._recent[key] = deque()
            while len(self._recent) > self.max_clients:
                self._recent.popitem(last=False)
        self._recent.move_to_end(key)
        while recent and recent[0] <= now - self.window:
            recent.popleft()
        if len(recent) >= self.rate:
            return max(1.0, math.ceil(recent[0] + self.window - now))
        recent.append(now)
        return None

    def give_back(self, client: str) -> None:
        """Return the slot last taken by ``client`` (its request stored nothing)."""
        recent = self._recent.get(client_key(client))
        if recent:
            recent.pop()

    def __len__(self) -> int:
        return len(self._recent)


def client_key(address: str) -> str:
    """What a limit counts: the IPv4 address, or the /64 of an IPv6 address."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is None:
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed.ipv4_mapped if isinstance(parsed, ipaddress.IPv6Address) else parsed)


def parse_networks(values: Sequence[str]) -> tuple[Network, ...]:
    """Addresses or networks (``127.0.0.1``, ``10.0.0.0/8``, ``::1``); ValueError if not."""
    return tuple(ipaddress.ip_network(value.strip(), strict=False) for value in values)


def client_address(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The client of a request from ``peer`` with this ``X-Forwarded-For`` (see the module
    docstring); ``unknown`` when there is no peer (a test client)."""
    if not peer:
        return "unknown"
    if not forwarded_for or not _is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",")]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # garbage where the proxy's view of the client should be
    return peer


def _is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in trusted)
