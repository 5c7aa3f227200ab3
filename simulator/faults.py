"""Fault modes of the simulated endpoints, as data, and the pure parts of their bodies.

A fault is set per endpoint (``mms``, ``support``, ``accendent``) at start (``--fault
mms=error``) or at run time (``POST /_control/faults``). The HTTP side of each mode lives in
``simulator.server``; what a mode means is written once, here, in ``MODES``.

Errors::

    FaultError (BodyError)    a fault assignment or request that cannot be applied; the
                              message is the reason shown to the user (stderr or a 400 body)
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from simulator.bodies import BodyError, check_keys, json_object, string_field
from simulator.corrupt import with_wrong_type
from simulator.generate import ENDPOINTS, JsonItem, encode_json


class Mode(StrEnum):
    """How an endpoint answers."""

    OK = "ok"
    ERROR = "error"
    HANG = "hang"
    SLOW = "slow"
    GARBAGE = "garbage"
    TRUNCATED = "truncated"
    HUGE = "huge"
    NOTFOUND = "notfound"
    REDIRECT_LOOP = "redirect_loop"
    DRIP = "drip"
    OBJECT = "object"
    WRONG_TYPES = "wrong_types"


MODES: Final[Mapping[Mode, str]] = {
    Mode.OK: "200 with the generated JSON array",
    Mode.ERROR: "500 with a short JSON error",
    Mode.HANG: "never answers (until the client gives up or the simulator stops)",
    Mode.SLOW: "the normal answer, after --slow-ms milliseconds",
    Mode.GARBAGE: "200 application/json whose body is not JSON",
    Mode.TRUNCATED: "200 with the first half of the valid body (consistent Content-Length)",
    Mode.HUGE: "200 with an endless streamed array (constant memory in the simulator)",
    Mode.NOTFOUND: "404",
    Mode.REDIRECT_LOOP: "302 to itself, forever",
    Mode.DRIP: "the valid body, one byte every 200 ms",
    Mode.OBJECT: 'a JSON object {"data": [...]} instead of an array',
    Mode.WRONG_TYPES: "a JSON array whose every value has the wrong type",
}
"""Every mode and what a client sees; the docs table and ``GET /_control/faults`` use it."""

DRIP_INTERVAL_SECONDS: Final = 0.2
GARBAGE_BODY: Final = b'[{"country": RU, "provider": Topolo\x00\xff\xfe <html>not json</html> ]]}'
"""Looks like JSON at first glance; is neither valid JSON nor valid UTF-8."""


class FaultError(BodyError):
    """A fault that cannot be applied; the message says why."""


def parse_mode(text: str) -> Mode:
    """The mode named ``text``, or ``FaultError`` listing the known modes."""
    try:
        return Mode(text)
    except ValueError:
        known = ", ".join(mode.value for mode in Mode)
        raise FaultError(f"unknown fault mode {text!r} (known: {known})") from None


def parse_endpoint(text: str) -> str:
    """The endpoint named ``text``, or ``FaultError`` listing the known endpoints."""
    if text not in ENDPOINTS:
        raise FaultError(f"unknown endpoint {text!r} (known: {', '.join(ENDPOINTS)})")
    return text


def parse_assignment(text: str) -> tuple[str, Mode]:
    """``ENDPOINT=MODE`` (the ``--fault`` flag) as a pair."""
    endpoint, sep, mode = text.partition("=")
    if not sep:
        raise FaultError(f"expected ENDPOINT=MODE, got {text!r}")
    return parse_endpoint(endpoint.strip()), parse_mode(mode.strip())


def parse_request(body: bytes) -> tuple[str, Mode]:
    """The body of ``POST /_control/faults``: exactly ``{"endpoint": str, "mode": str}``."""
    try:
        value = json_object(body, '{"endpoint": ..., "mode": ...}')
        check_keys(value, ("endpoint", "mode"))
        endpoint, mode = string_field(value, "endpoint"), string_field(value, "mode")
    except BodyError as error:
        raise FaultError(str(error)) from None
    return parse_endpoint(endpoint), parse_mode(mode)


def truncated_body(body: bytes) -> bytes:
    """The first half of a valid JSON array: a prefix that can never parse."""
    return body[: max(1, len(body) // 2)]


def object_body(items: list[JsonItem]) -> bytes:
    """The items wrapped in an object, the shape statusd must refuse."""
    return encode_json({"data": items})


def wrong_types_body(items: list[JsonItem]) -> bytes:
    """An array of the same items with every value of the wrong type."""
    return encode_json(
        [{key: with_wrong_type(value) for key, value in item.items()} for item in items]
    )


def huge_block(items: list[JsonItem], size: int = 64 * 1024) -> bytes:
    """About ``size`` bytes of ``item,item,…,`` to repeat after ``[`` forever."""
    sample = items[0] if items else {"filler": "x"}
    piece = encode_json(sample) + b","
    return piece * max(1, size // len(piece))
