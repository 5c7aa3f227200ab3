"""ETag, 304 and gzip negotiation of /api (SPEC §3)."""

from __future__ import annotations

import gzip

import pytest

from statusd.body.document import Document
from statusd.body.spill import joined
from statusd.serve.http_cache import (
    AnswerCache,
    accepts_gzip,
    asks_unknown_version,
    etag_matches,
    gzip_etag,
    negotiate,
)

DOC = Document.of(b'{"status":true}')
OTHER = Document.of(b'{"status":true,"data":{"x":1}}')


def headers_of(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in raw}


def test_plain_answer_has_contract_headers() -> None:
    status, raw, body = negotiate(DOC, if_none_match="", accept_encoding="", max_age=7)
    headers = headers_of(raw)
    assert status == 200
    assert joined(body) == DOC.body
    assert headers["content-type"] == "application/json"
    assert headers["access-control-allow-origin"] == "*"
    assert headers["etag"] == DOC.etag
    assert headers["cache-control"] == "public, max-age=7"
    assert headers["vary"] == "Accept-Encoding"
    assert headers["content-length"] == str(len(DOC.body))


def test_gzip_answer_decompresses_to_the_plain_body() -> None:
    status, raw, body = negotiate(DOC, if_none_match="", accept_encoding="br, gzip", max_age=1)
    headers = headers_of(raw)
    assert status == 200
    assert headers["content-encoding"] == "gzip"
    assert headers["etag"] == gzip_etag(DOC.etag)
    assert gzip.decompress(joined(body)) == DOC.body


@pytest.mark.parametrize(
    ("value", "expected"),
    [("gzip", True), ("gzip;q=0", False), ("identity", False), ("GZIP; q=0.5", True), ("", False)],
)
def test_accepts_gzip(value: str, expected: bool) -> None:
    assert accepts_gzip(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (DOC.etag, True),
        (f'"other", {DOC.etag}', True),
        (f"W/{DOC.etag}", True),
        (gzip_etag(DOC.etag), True),
        ("*", True),
        ('"other"', False),
        ("", False),
    ],
)
def test_etag_matches(value: str, expected: bool) -> None:
    assert etag_matches(value, DOC.etag) is expected


BARE = DOC.etag.strip('"')


@pytest.mark.parametrize(
    ("query", "unknown"),
    [
        (b"", False),
        (b"v=", False),
        (b"x=1", False),
        (f"v={BARE}".encode(), False),
        (f"v=%22{BARE}%22".encode(), False),
        (f"v=W/%22{BARE}-gz%22".encode(), False),
        (f"x=1&v={BARE}-gz".encode(), False),
        (b"v=earlier", False),
        (b"v=newer", True),
        (b"v=%ff", True),
    ],
)
def test_asks_unknown_version(query: bytes, unknown: bool) -> None:
    """/api?v= names a document by its ETag however the page wrote it; only a version the
    replica does not know (neither current nor earlier) is unknown."""
    known = {DOC.etag, '"earlier"'}
    assert asks_unknown_version(query, known.__contains__) is unknown


def test_not_modified_has_no_body_but_keeps_validators() -> None:
    status, raw, body = negotiate(DOC, if_none_match=DOC.etag, accept_encoding="", max_age=3)
    assert (status, body) == (304, ())
    assert headers_of(raw)["etag"] == DOC.etag


@pytest.mark.parametrize("if_none_match", ["", DOC.etag, f"W/{DOC.etag}", '"nope"', "*"])
@pytest.mark.parametrize("accept_encoding", ["", "gzip", "br, gzip;q=0", "identity"])
@pytest.mark.parametrize("max_age", [1, 30])
def test_answer_cache_answers_like_negotiate(
    if_none_match: str, accept_encoding: str, max_age: int
) -> None:
    """The cached answer is what ``negotiate`` builds, on the first and on later requests."""
    cache = AnswerCache()
    expected = negotiate(
        DOC, if_none_match=if_none_match, accept_encoding=accept_encoding, max_age=max_age
    )
    for _ in range(2):
        answer = cache.answer(
            DOC, if_none_match=if_none_match, accept_encoding=accept_encoding, max_age=max_age
        )
        assert answer == expected


def test_answer_cache_follows_a_new_document() -> None:
    """After the document changes, answers carry the new ETag and body."""
    cache = AnswerCache()
    cache.answer(DOC, if_none_match="", accept_encoding="", max_age=5)
    status, headers, body = cache.answer(OTHER, if_none_match="", accept_encoding="", max_age=5)
    assert status == 200
    assert joined(body) == OTHER.body
    assert (b"etag", OTHER.etag.encode()) in headers
