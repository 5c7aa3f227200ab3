"""Conditional and compressed answers for JSON documents (SPEC §3 headers), as pure functions.

Both the thin ASGI layer in front of the app and the Quart routes answer through
``negotiate``, so /api behaves the same whichever of them serves it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from urllib.parse import parse_qsl

from statusd.body.document import Document
from statusd.body.spill import Body

Headers = list[tuple[bytes, bytes]]

COMMON_HEADERS: Headers = [
    (b"access-control-allow-origin", b"*"),
    # lets a page opened from file:// (or another origin) read the ETag for If-None-Match
    (b"access-control-expose-headers", b"ETag"),
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


def asks_unknown_version(query_string: bytes, knows: Callable[[str], bool]) -> bool:
    """Whether ``/api?v=<ETag>`` names a document this replica has not made (yet).

    ``v`` is the version a page was told of (an event's data; quotes, ``W/`` and ``-gz``
    allowed). A version ``knows`` (``StateView.knows``: the current document or an earlier
    one) is answered with the current document, so a page that is behind catches up; an
    unknown one is another replica's newer document, answered ``404`` so that nginx asks the
    other replica (``proxy_next_upstream http_404``) instead of caching an older body under
    the new version's key. No ``v``: plain ``/api``."""
    if not query_string:
        return False
    pairs = parse_qsl(query_string.decode("latin-1"))
    version = next((value for name, value in pairs if name == "v"), "")
    if not version:
        return False
    bare = version.strip().removeprefix("W/").replace('"', "").removesuffix("-gz")
    return not knows(f'"{bare}"')


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


Answer = tuple[int, Headers, Body]
"""Status, headers and body of one response (the body in pieces: ``Document.parts``)."""


def negotiate(
    document: Document,
    *,
    if_none_match: str,
    accept_encoding: str,
    max_age: int,
    content_type: bytes = b"application/json",
) -> Answer:
    """Status, headers and body for a GET of ``document`` (the caller drops the body on HEAD)."""
    return build_answer(
        document,
        use_gzip=accepts_gzip(accept_encoding),
        not_modified=etag_matches(if_none_match, document.etag),
        max_age=max_age,
        content_type=content_type,
    )


def build_answer(
    document: Document,
    *,
    use_gzip: bool,
    not_modified: bool,
    max_age: int,
    content_type: bytes = b"application/json",
) -> Answer:
    """The response once the request's validators and encodings have been read."""
    etag = gzip_etag(document.etag) if use_gzip else document.etag
    headers: Headers = [
        *COMMON_HEADERS,
        (b"etag", etag.encode()),
        (b"cache-control", b"public, max-age=%d" % max_age),
        (b"vary", b"Accept-Encoding"),
    ]
    if not_modified:
        return 304, headers, ()
    headers.append((b"content-type", content_type))
    if use_gzip:
        headers.append((b"content-encoding", b"gzip"))
    length = document.gzip_length if use_gzip else document.length
    headers.append((b"content-length", str(length).encode()))
    return 200, headers, document.gzip_parts if use_gzip else document.parts


class AnswerCache:
    """The answers of the current version of one document, each built once.

    A document version is answered with at most (2 encodings x 304-or-not x max-age values)
    different responses, so the hot path looks its answer up instead of building headers on
    every request. A new version (another ETag) empties the cache. The answers are shared
    between requests and must not be mutated.
    """

    __slots__ = ("_answers", "_etag")

    def __init__(self) -> None:
        self._etag = ""
        self._answers: dict[tuple[bool, bool, int], Answer] = {}

    def answer(
        self, document: Document, *, if_none_match: str, accept_encoding: str, max_age: int
    ) -> Answer:
        """What ``negotiate`` returns for the same arguments."""
        if document.etag != self._etag:
            self._etag = document.etag
            self._answers = {}
        use_gzip = accepts_gzip(accept_encoding) if accept_encoding else False
        not_modified = etag_matches(if_none_match, document.etag)
        key = (use_gzip, not_modified, max_age)
        answer = self._answers.get(key)
        if answer is None:
            answer = build_answer(
                document, use_gzip=use_gzip, not_modified=not_modified, max_age=max_age
            )
            self._answers[key] = answer
        return answer


def header_value(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str:
    """The value of a header in ASGI form (lower-case names), joined when repeated."""
    values = [value.decode("latin-1") for key, value in headers if key == name]
    return ", ".join(values)
