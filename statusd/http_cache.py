"""Conditional and compressed answers for JSON documents (SPEC §3 headers), as pure functions.

Both the thin ASGI layer in front of the app and the Quart routes answer through
``negotiate``, so /api behaves the same whichever of them serves it.
"""

from __future__ import annotations

from collections.abc import Iterable

from statusd.document import Document

Headers = list[tuple[bytes, bytes]]

COMMON_HEADERS: Headers = [
    (b"access-control-allow-origin", b"*"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]

PREFLIGHT_HEADERS: Headers = [
    *COMMON_HEADERS,
    (b"access-control-allow-methods", b"GET, HEAD, OPTIONS"),
    (b"access-control-allow-headers", b"If-None-Match, Cache-Control"),
    (b"access-control-max-age", b"86400"),
    (b"allow", b"GET, HEAD, OPTIONS"),
    (b"content-length", b"0"),
]


def gzip_etag(etag: str) -> str:
    """The ETag of the gzip representation: a strong validator differs per encoding."""
    return etag[:-1] + '-gz"'


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Whether an ``If-None-Match`` value names this document (either encoding)."""
    if not if_none_match:
        return False
    candidates = {etag, gzip_etag(etag)}
    for token in if_none_match.split(","):
        token = token.strip()
        if token == "*":
            return True
        if token.removeprefix("W/") in candidates:
            return True
    return False


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether ``Accept-Encoding`` allows gzip (an explicit ``q=0`` refuses it)."""
    for item in accept_encoding.split(","):
        coding, _, params = item.partition(";")
        if coding.strip().lower() not in ("gzip", "x-gzip"):
            continue
        quality = params.strip().lower()
        if quality.startswith("q="):
            try:
                return float(quality[2:]) > 0
            except ValueError:
                return False
        return True
    return False


def negotiate(
    document: Document,
    *,
    if_none_match: str,
    accept_encoding: str,
    max_age: int,
    content_type: bytes = b"application/json",
) -> tuple[int, Headers, bytes]:
    """Status, headers and body for a GET of ``document`` (the caller drops the body on HEAD)."""
    use_gzip = accepts_gzip(accept_encoding)
    etag = gzip_etag(document.etag) if use_gzip else document.etag
    headers: Headers = [
        *COMMON_HEADERS,
        (b"etag", etag.encode()),
        (b"cache-control", b"public, max-age=%d" % max_age),
        (b"vary", b"Accept-Encoding"),
    ]
    if etag_matches(if_none_match, document.etag):
        return 304, headers, b""
    body = document.gzip_body if use_gzip else document.body
    headers.append((b"content-type", content_type))
    if use_gzip:
        headers.append((b"content-encoding", b"gzip"))
    headers.append((b"content-length", str(len(body)).encode()))
    return 200, headers, body


def header_value(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str:
    """The value of a header in ASGI form (lower-case names), joined when repeated."""
    values = [value.decode("latin-1") for key, value in headers if key == name]
    return ", ".join(values)
