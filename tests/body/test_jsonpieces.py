"""JSON in pieces (``statusd.body.jsonpieces``): chunked encoding, the same bytes as one call."""

from __future__ import annotations

from typing import Any
from unittest.mock import patch

from hypothesis import given
from hypothesis import strategies as st

from statusd.body import jsonpieces
from statusd.body.jsonpieces import encode_json, encode_json_chunked

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=12)
        | st.dictionaries(st.text(max_size=4), children, max_size=12)
    ),
    max_leaves=60,
)


@given(JSON_VALUES)
def test_chunked_encoding_gives_the_same_bytes(value: Any) -> None:
    """Encoding piece by piece yields exactly ``encode_json``'s bytes, for any JSON value."""
    with patch.object(jsonpieces, "ENCODE_CHUNK_ITEMS", 2):
        assert encode_json_chunked(value) == encode_json(value)


@given(st.lists(st.binary(max_size=40), max_size=30), st.integers(1, 100))
def test_coalesce_keeps_the_bytes_in_bounded_pieces(pieces: list[bytes], size: int) -> None:
    """Joined, the pieces are the input; none is empty; all but the last reach ``size``
    and none passes it by more than one input piece."""
    joined = jsonpieces.coalesce(pieces, size)
    assert b"".join(joined) == b"".join(pieces)
    assert all(joined)
    assert all(len(piece) >= size for piece in joined[:-1])
    assert all(len(piece) < size + 40 for piece in joined)


@given(st.lists(st.text(max_size=8), max_size=30), st.integers(1, 5))
def test_json_rows_pieces_join_with_commas(rows: list[str], per_piece: int) -> None:
    pieces = list(jsonpieces.json_rows_pieces(rows, per_piece))
    assert b"".join(pieces) == ",".join(rows).encode()
    assert len(pieces) == -(-len(rows) // per_piece)


@given(st.lists(st.lists(st.binary(max_size=20), max_size=4), max_size=12), st.integers(1, 60))
def test_json_list_pieces_is_the_list_in_bounded_pieces(
    items: list[list[bytes]], size: int
) -> None:
    pieces = list(jsonpieces.json_list_pieces(items, size))
    assert b"".join(pieces) == b"[" + b",".join(b"".join(item) for item in items) + b"]"
    assert all(len(piece) < size + 21 for piece in pieces)


def test_big_values_are_encoded_in_pieces() -> None:
    """A million-row value is never one bytes object: its pieces are about a MiB."""
    rows = [{"country": "Türkiye", "n": i} for i in range(100_000)]
    pieces = jsonpieces.encode_json_pieces([rows, rows])
    assert b"".join(pieces) == encode_json([rows, rows])
    assert len(pieces) > 2
    assert max(map(len, pieces)) < 2 * jsonpieces.PIECE_BYTES


def test_chunked_encoding_of_big_nested_lists() -> None:
    """The shape of a big SMS value (two long lists of objects) encodes identically."""
    rows = [{"country": "Türkiye", "bandwidth": str(i % 101), "n": i} for i in range(10_000)]
    value = [rows, list(reversed(rows))]
    assert encode_json_chunked(value) == encode_json(value)
    assert encode_json_chunked({"RU": value, "x": 1}) == encode_json({"RU": value, "x": 1})
