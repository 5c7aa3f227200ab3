"""The /api document as bytes (``statusd.body.document``): contract shape, ETag, gzip."""

from __future__ import annotations

import gzip
import io
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statusd.body import document
from statusd.body.document import Document, build_result_document, deflate_segment, result_body


def test_result_body_is_the_contract_shape() -> None:
    """Fragments become the data object in order; None is the exact error document."""
    body = result_body([("sms", (b"[[],", b"[]]")), ("support", (b"[1,0]",))])
    assert body == b'{"status":true,"data":{"sms":[[],[]],"support":[1,0]},"error":""}'
    assert result_body(None) == b'{"status":false,"data":null,"error":"Error on collect data"}'


def test_etag_changes_with_content_only() -> None:
    one = build_result_document([("a", (b"1",))])
    assert build_result_document([("a", (b"1",))]).etag == one.etag
    assert build_result_document([("a", (b"2",))]).etag != one.etag


@settings(max_examples=50, deadline=None)
@given(
    fragments=st.lists(
        st.tuples(
            st.sampled_from(["sms", "voice_call", "email"]),
            st.lists(st.binary(max_size=1500), max_size=3).map(tuple),
        ),
        min_size=1,
        max_size=4,
    ),
    known=st.lists(st.booleans(), min_size=4, max_size=4),
)
def test_big_document_gzip_from_segments_decompresses_to_the_body(
    fragments: list[tuple[str, tuple[bytes, ...]]], known: list[bool]
) -> None:
    """Above FAST_GZIP_ABOVE the gzip body is assembled from per-fragment segments (given
    by the collectors or made here); any gzip reader gets the exact body back."""
    segments = [
        deflate_segment(value) if use else b""
        for (_, value), use in zip(fragments, known, strict=False)
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(document, "FAST_GZIP_ABOVE", 100)
        built = build_result_document(fragments, segments)
    assert len(built.body) <= 100 or built.gzip_body != gzip.compress(built.body, 6, mtime=0)
    assert built.body == result_body(fragments)
    assert gzip.decompress(built.gzip_body) == built.body
    assert zlib.decompress(built.gzip_body, 16 + zlib.MAX_WBITS) == built.body
    assert built.etag == Document.of(built.body).etag
    with gzip.GzipFile(fileobj=io.BytesIO(built.gzip_body)) as stream:
        assert stream.read() == built.body


def test_small_document_is_compressed_whole() -> None:
    fragments = [("sms", (b"[1,2,3]",))]
    built = build_result_document(fragments, [b"not used"])
    assert built.gzip_body == gzip.compress(built.body, 6, mtime=0)
