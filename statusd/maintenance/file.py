"""The maintenance file on disk: read it, edit it safely, and reload it without ever losing the
windows in force.

Edits (``add_window``, ``remove_window``) validate the whole resulting file before anything
is written, then replace the file atomically (temporary file in the same directory, fsync,
rename), so the daemon reads the old file or the new one, never half of one. They keep the
operator's text: an added window is appended as a block after what is there, a removed
window's block (with the comment lines directly above its header) is cut out. Only when that
text edit would not give exactly the expected windows (e.g. an inline ``maintenance = [...]``
array) is the file written in canonical form instead, comments dropped.

Errors: ``MaintenanceFileError`` (the file, or the file an edit would give, is invalid or
unreadable) and ``MaintenanceEditError`` (the edit itself cannot apply: an id that exists
already on add, or no such id on remove); both are ``ValueError``.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from statusd.maintenance.render import render_file, render_window
from statusd.maintenance.revisions import Revision, advance_revisions
from statusd.maintenance.windows import (
    TABLE,
    MaintenanceFileError,
    MaintenanceWindow,
    parse_maintenance_toml,
)
from statusd.state.persistence import write_atomically

DEFAULT_MODE: Final = 0o644
"""Mode of a new file: the daemon may run as another user than the operator who edits."""

HEADER_LINE: Final = re.compile(rf"\s*\[\[\s*{TABLE}\s*\]\]\s*(?:#.*)?")
COMMENT_LINE: Final = re.compile(r"\s*#.*")


class MaintenanceEditError(ValueError):
    """An edit that cannot apply to the file as it is (the message says why)."""


# --- reading ------------------------------------------------------------------------------------


def read_maintenance_file(path: Path) -> bytes | None:
    """The file's bytes, or None when it does not exist (no file = no windows)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise MaintenanceFileError(f"cannot be read: {error.strerror or error}") from None


def decode_text(raw: bytes) -> str:
    """The file's text: UTF-8, a leading byte-order mark ignored."""
    try:
        return raw.removeprefix(b"\xef\xbb\xbf").decode()
    except UnicodeDecodeError as error:
        raise MaintenanceFileError(f"not UTF-8 (byte {error.start})") from None


def parse_maintenance_bytes(raw: bytes | None) -> tuple[MaintenanceWindow, ...]:
    """The windows of the file's bytes (None, a missing file: no windows)."""
    return () if raw is None else parse_maintenance_toml(decode_text(raw))


def load_windows(path: Path) -> tuple[MaintenanceWindow, ...]:
    """The windows of the file at ``path``; a missing file has none. The error names the path."""
    try:
        return parse_maintenance_bytes(read_maintenance_file(path))
    except MaintenanceFileError as error:
        raise MaintenanceFileError(f"maintenance file {path}: {error}") from None


# --- writing ------------------------------------------------------------------------------------


def _checked(text: str, expected: Sequence[MaintenanceWindow]) -> str:
    """``text`` when it parses to exactly ``expected``, else the canonical file of them.

    The canonical file is parsed too, so nothing invalid is ever handed back.
    """
    try:
        if parse_maintenance_toml(text) == tuple(expected):
            return text
    except MaintenanceFileError:
        pass
    canonical = render_file(expected)
    if parse_maintenance_toml(canonical) != tuple(expected):
        raise MaintenanceFileError("the windows cannot be written back unchanged")
    return canonical


def with_window_added(text: str, window: MaintenanceWindow) -> str:
    """The file ``text`` with ``window`` appended; the whole result is validated."""
    windows = parse_maintenance_toml(text)
    if any(w.id == window.id for w in windows):
        raise MaintenanceEditError(f"a window with id {window.id!r} exists already")
    expected = (*windows, window)
    if not text.strip():
        return _checked(render_file(expected), expected)
    separator = "\n" if text.endswith("\n") else "\n\n"
    return _checked(text + separator + render_window(window), expected)


def with_window_removed(text: str, window_id: str) -> tuple[str, MaintenanceWindow]:
    """The file ``text`` without the window ``window_id``, and that window."""
    windows = parse_maintenance_toml(text)
    index = next((i for i, w in enumerate(windows) if w.id == window_id), None)
    if index is None:
        raise MaintenanceEditError(f"no window with id {window_id!r}")
    expected = windows[:index] + windows[index + 1 :]
    lines = text.splitlines(keepends=True)
    headers = [n for n, line in enumerate(lines) if HEADER_LINE.fullmatch(line.rstrip("\r\n"))]
    if len(headers) != len(windows):
        return _checked(render_file(expected), expected), windows[index]
    begin = _comments_above(lines, headers[index])
    end = _comments_above(lines, headers[index + 1]) if index + 1 < len(headers) else len(lines)
    return _checked("".join(lines[:begin] + lines[end:]), expected), windows[index]


def _comments_above(lines: Sequence[str], header: int) -> int:
    """The first line of the comment lines directly above line ``header`` (or ``header``)."""
    first = header
    while first > 0 and COMMENT_LINE.fullmatch(lines[first - 1].rstrip("\r\n")):
        first -= 1
    return first


def _write(path: Path, text: str) -> None:
    """Replace the file atomically, keeping the mode of the file it replaces."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = DEFAULT_MODE
    write_atomically(path, text.encode())
    os.chmod(path, mode)


def _read_text(path: Path) -> str:
    raw = read_maintenance_file(path)
    return "" if raw is None else decode_text(raw)


def add_window(path: Path, window: MaintenanceWindow) -> None:
    """Add ``window`` to the file (created if missing); nothing is written if the result is
    invalid or the file is invalid already."""
    try:
        text = with_window_added(_read_text(path), window)
    except MaintenanceFileError as error:
        raise MaintenanceFileError(f"maintenance file {path}: {error}") from None
    _write(path, text)


def remove_window(path: Path, window_id: str) -> MaintenanceWindow:
    """Remove the window ``window_id`` from the file and return it."""
    try:
        text, removed = with_window_removed(_read_text(path), window_id)
    except MaintenanceFileError as error:
        raise MaintenanceFileError(f"maintenance file {path}: {error}") from None
    _write(path, text)
    return removed


# --- reloading ----------------------------------------------------------------------------------


class MaintenanceWatcher:
    """The windows in force, reloaded from the file's bytes each time it changes.

    An invalid file keeps the previous windows (and their revisions) and sets ``error`` to a
    message for the log and ``/healthz``; the next valid file clears it. A missing file is
    valid and has no windows.
    """

    def __init__(
        self,
        source: str,
        windows: Sequence[MaintenanceWindow] = (),
        revisions: Mapping[str, Revision] | None = None,
    ) -> None:
        """``windows`` and ``revisions``: what was in force before (e.g. before a restart),
        kept until a valid file replaces them."""
        self._source = source
        self._windows: tuple[MaintenanceWindow, ...] = tuple(windows)
        self._revisions: dict[str, Revision] = dict(revisions or {})
        self._error: str | None = None

    @property
    def windows(self) -> tuple[MaintenanceWindow, ...]:
        return self._windows

    @property
    def revisions(self) -> Mapping[str, Revision]:
        return self._revisions

    @property
    def error(self) -> str | None:
        return self._error

    def reload(
        self, raw: bytes | None, now: float
    ) -> tuple[tuple[MaintenanceWindow, ...], str | None]:
        """Take the file's new bytes (None: missing) read at ``now``: (windows, error)."""
        try:
            windows = parse_maintenance_bytes(raw)
        except MaintenanceFileError as error:
            return self.fail(str(error))
        self._windows = windows
        self._revisions = advance_revisions(self._revisions, windows, now)
        self._error = None
        return self._windows, None

    def fail(self, problem: str) -> tuple[tuple[MaintenanceWindow, ...], str | None]:
        """Record that the file could not be used; the windows in force stay."""
        self._error = f"maintenance file {self._source}: {problem}; keeping the previous windows"
        return self._windows, self._error

    def load(self, path: Path, now: float) -> tuple[tuple[MaintenanceWindow, ...], str | None]:
        """Read ``path`` (small, synchronous) and ``reload`` it."""
        try:
            raw = read_maintenance_file(path)
        except MaintenanceFileError as error:
            return self.fail(str(error))
        return self.reload(raw, now)
