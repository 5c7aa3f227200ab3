"""The /api document (SPEC §3) as bytes: plain, gzip and a strong ETag, built once per change."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

ERROR_BODY = b'{"status":false,"data":null,"error":"Error on collect data"}'

# Above this size, gzip level 1 keeps a rebuild of a huge document within a second or two;
# small documents get level 6, the usual trade-off.
FAST_GZIP_ABOVE = 4 * 1024 * 1024


def encode_json(value: Any) -> bytes:
    """Compact UTF-8 JSON, the one encoding every statusd document uses."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class Document:
    """Immutable bytes of one version of a JSON document and its validators."""

    body: bytes
    gzip_body: bytes
    etag: str

    @classmethod
    def of(cls, body: bytes) -> Document:
        level = 1 if len(body) > FAST_GZIP_ABOVE else 6
        digest = hashlib.sha256(body).hexdigest()[:32]
        return cls(body=body, gzip_body=gzip.compress(body, level, mtime=0), etag=f'"{digest}"')


def result_body(fragments: Sequence[tuple[str, bytes]] | None) -> bytes:
    """The ResultT bytes: the ``data`` object from each source's encoded value, in order,
    or the error document when ``fragments`` is None (a source without fresh data)."""
    if fragments is None:
        return ERROR_BODY
    parts = [b'{"status":true,"data":{']
    for index, (name, value) in enumerate(fragments):
        if index:
            parts.append(b",")
        parts.append(encode_json(name) + b":" + value)
    parts.append(b'},"error":""}')
    return b"".join(parts)


def build_result_document(fragments: Sequence[tuple[str, bytes]] | None) -> Document:
    """``Document`` of ``result_body``; CPU-heavy for big inputs, so run it in a thread."""
    return Document.of(result_body(fragments))


ERROR_DOCUMENT = Document.of(ERROR_BODY)
