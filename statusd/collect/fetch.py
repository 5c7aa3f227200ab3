"""Getting the raw bytes of a source: a file in the data directory or an HTTP body.

Both readers enforce the size cap without reading more than the cap (+1 byte) into memory
and turn every way a source can be unreadable into ``SourceError`` with a short message.
They take no timeout: the supervisor's cancel scope (the ``deadline`` setting) bounds them,
and nothing else may cut a collection shorter: the HTTP client has no timeout of its own.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import httpx
import trio

from statusd.sources.base import SourceError

READ_CHUNK = 1024 * 1024


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):g} MiB"


def read_file_capped(path: Path, max_bytes: int) -> bytes:
    """The whole content of a regular file of at most ``max_bytes``.

    A file rewritten while it is read (size or mtime changed between the start and the end
    of the read) is read once more; if it changes again the read fails, so a torn file never
    replaces good data. Blocking: call it through ``trio.to_thread.run_sync``.
    """
    for _attempt in range(2):
        content, torn = _read_once(path, max_bytes)
        if not torn:
            return content
    raise SourceError(f"{path.name}: file changed while being read")


def _read_once(path: Path, max_bytes: int) -> tuple[bytes, bool]:
    try:
        # O_NONBLOCK: opening a FIFO must not block the worker thread forever.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise SourceError(f"{path.name}: file not found") from None
    except OSError as error:
        raise SourceError(f"{path.name}: {_os_reason(error)}") from None
    try:
        before = os.fstat(fd)
        if stat.S_ISDIR(before.st_mode):
            raise SourceError(f"{path.name}: is a directory")
        if not stat.S_ISREG(before.st_mode):
            raise SourceError(f"{path.name}: not a regular file")
        if before.st_size > max_bytes:
            raise SourceError(f"{path.name}: larger than {_mib(max_bytes)}")
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(READ_CHUNK, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise SourceError(f"{path.name}: larger than {_mib(max_bytes)}")
        after = os.fstat(fd)
    except OSError as error:
        raise SourceError(f"{path.name}: {_os_reason(error)}") from None
    finally:
        os.close(fd)
    torn = (
        after.st_size != before.st_size
        or after.st_mtime_ns != before.st_mtime_ns
        or total != after.st_size
    )
    return b"".join(chunks), torn


def _os_reason(error: OSError) -> str:
    if error.errno == errno.ELOOP:
        return "symlink loop"
    if error.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if error.errno == errno.EISDIR:
        return "is a directory"
    return error.strerror or type(error).__name__


async def read_source_file(path: Path, max_bytes: int) -> bytes:
    """``read_file_capped`` in a worker thread, so a big file never stalls the event loop."""
    return await trio.to_thread.run_sync(read_file_capped, path, max_bytes, abandon_on_cancel=True)


def source_client() -> httpx.AsyncClient:
    """The HTTP client of the sources, for the daemon's lifetime.

    ``timeout=None``: httpx's default (5 s to connect, read, write or wait for a pooled
    connection) would fail a source that answers in 8 s under a 20 s deadline; the
    collection's deadline is the one time bound. Redirects are not followed.
    """
    return httpx.AsyncClient(
        timeout=None,
        follow_redirects=False,
        limits=httpx.Limits(max_connections=10, max_keepalive_connections=3),
        headers={"User-Agent": "statusd"},
    )


async def fetch_body(client: httpx.AsyncClient, url: str, max_bytes: int) -> bytes:
    """The body of ``GET url`` if the answer is 200 and the body is at most ``max_bytes``.

    The body is streamed and abandoned as soon as it passes the cap, so an endless body costs
    at most ``max_bytes`` of memory. Redirects are not followed (a redirect is an error).
    """
    try:
        async with client.stream("GET", url) as response:
            if response.status_code != 200:
                raise SourceError(f"HTTP {response.status_code}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise SourceError(f"body larger than {_mib(max_bytes)}")
            chunks: list[bytes] = []
            total = 0
            # Leave an oversized body by cancelling the read: the Cancelled travels through
            # httpx's nested body generators and closes them (a raise or break would leave
            # them to the garbage collector; encode/httpx#3686).
            with trio.CancelScope() as reading:
                async for chunk in response.aiter_bytes():
                    total += len(chunk)
                    if total > max_bytes:
                        reading.cancel()
                    else:
                        chunks.append(chunk)
            if reading.cancelled_caught:
                raise SourceError(f"body larger than {_mib(max_bytes)}")
            return b"".join(chunks)
    except httpx.TimeoutException:
        raise SourceError("HTTP timeout") from None
    except httpx.ConnectError:
        raise SourceError("connection refused") from None
    except httpx.RemoteProtocolError:
        raise SourceError("connection closed before the body was complete") from None
    except httpx.HTTPError as error:
        raise SourceError(f"HTTP error: {type(error).__name__}") from None
