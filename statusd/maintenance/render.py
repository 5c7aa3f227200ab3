"""Windows written back as the maintenance file's TOML, in canonical form (pure): what the
edits write when they cannot keep the operator's text, and how the history keeps windows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from statusd.maintenance.windows import TABLE, MaintenanceWindow, iso

HEADER: Final = (
    "# Planned maintenance windows of statusd (SPEC §9), one [[maintenance]] table each.\n"
    "# Edit by hand or with `statusd maintenance add|list|remove`; statusd re-reads it.\n"
)


def toml_string(value: str) -> str:
    """A TOML basic string of ``value`` (quotes, backslashes and control characters escaped)."""
    short = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}
    out = []
    for char in value:
        if char in short:
            out.append(short[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _toml_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(toml_string(v) for v in values) + "]"


def render_window(window: MaintenanceWindow) -> str:
    """One window as a ``[[maintenance]]`` block in canonical form."""
    lines = [
        f"[[{TABLE}]]",
        f"id = {toml_string(window.id)}",
        f"title = {toml_string(window.title)}",
        f"start = {iso(window.start)}",
        f"end = {iso(window.end)}",
        f"products = {_toml_list(window.products)}",
        f"countries = {_toml_list(window.countries)}",
    ]
    if window.functions:
        lines.append(f"functions = {_toml_list(window.functions)}")
    if window.body:
        lines.append(f"body = {toml_string(window.body)}")
    return "\n".join(lines) + "\n"


def render_file(windows: Sequence[MaintenanceWindow]) -> str:
    """A whole file in canonical form: the header comment, then one block per window."""
    return HEADER + "".join("\n" + render_window(w) for w in windows)
