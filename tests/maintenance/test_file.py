"""The maintenance file on disk: loading, safe edits that keep the operator's text, reloads
that keep the windows in force when the new file is bad."""

from __future__ import annotations

import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given

from statusd.maintenance.file import (
    MaintenanceEditError,
    MaintenanceWatcher,
    add_window,
    load_windows,
    remove_window,
    with_window_added,
    with_window_removed,
)
from statusd.maintenance.windows import (
    MaintenanceFileError,
    MaintenanceWindow,
    parse_maintenance_toml,
)
from tests.maintenance.strategies import window_sets, windows

HAND_WRITTEN = """# Planned work, kept by the NOC.

# The carrier's upgrade
[[maintenance]]
id = "a"
title = "First"
start = 2026-03-01T02:00:00+01:00
end = 2026-03-01T04:00:00+01:00
products = ["sms"]  # only SMS
countries = ["DE"]

# Billing: payouts are paused
[[maintenance]]
id = "b"
title = "Second"
start = 2026-03-02T02:00:00Z
end = 2026-03-02T03:00:00Z
products = ["billing"]
countries = []
functions = ["payout"]

[[maintenance]]
id = "c"
title = "Third"
start = 2026-03-03T02:00:00Z
end = 2026-03-03T03:00:00Z
products = []
countries = []
"""


def ids(text: str) -> list[str]:
    return [w.id for w in parse_maintenance_toml(text)]


def test_missing_file_is_no_windows(tmp_path: Path) -> None:
    assert load_windows(tmp_path / "maintenance.toml") == ()


def test_load_error_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "maintenance.toml"
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(MaintenanceFileError, match=rf"maintenance file {path}: not UTF-8"):
        load_windows(path)


def test_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "maintenance.toml"
    path.write_bytes(b"\xef\xbb\xbf" + HAND_WRITTEN.encode())
    assert [w.id for w in load_windows(path)] == ["a", "b", "c"]


def test_remove_cuts_the_block_and_its_own_comments_only() -> None:
    """Removing the middle window keeps every other line, comments included."""
    text, removed = with_window_removed(HAND_WRITTEN, "b")
    assert removed.id == "b"
    assert ids(text) == ["a", "c"]
    assert "# Billing: payouts are paused" not in text
    assert "# The carrier's upgrade" in text
    assert 'products = ["sms"]  # only SMS' in text
    assert text.startswith("# Planned work, kept by the NOC.\n")


@pytest.mark.parametrize("window_id", ["a", "b", "c"])
def test_remove_any_window_keeps_the_others_exactly(window_id: str) -> None:
    before = parse_maintenance_toml(HAND_WRITTEN)
    text, _ = with_window_removed(HAND_WRITTEN, window_id)
    assert parse_maintenance_toml(text) == tuple(w for w in before if w.id != window_id)


def test_remove_from_an_inline_array_falls_back_to_canonical_form() -> None:
    """A layout the text edit cannot cut is rewritten in canonical form, same windows."""
    inline = (
        'maintenance = [{id = "x", title = "X", start = 2026-03-01T00:00:00Z, '
        'end = 2026-03-01T01:00:00Z, products = [], countries = []}, {id = "y", title = "Y", '
        "start = 2026-03-01T00:00:00Z, end = 2026-03-01T01:00:00Z, products = [], "
        "countries = []}]\n"
    )
    text, _ = with_window_removed(inline, "x")
    assert ids(text) == ["y"]
    assert text.startswith("# Planned maintenance windows")


def test_add_appends_and_keeps_the_text_above() -> None:
    new = parse_maintenance_toml(HAND_WRITTEN)[0]
    new = replace(new, id="d", title='Quotes " and \\ kept')
    text = with_window_added(HAND_WRITTEN, new)
    assert text.startswith(HAND_WRITTEN)
    assert parse_maintenance_toml(text)[-1] == new


@given(window_sets(max_size=4), windows("zz-new"))
def test_add_then_remove_gives_the_same_windows(
    existing: tuple[MaintenanceWindow, ...], new: MaintenanceWindow
) -> None:
    from statusd.maintenance.render import render_file

    text = with_window_added(render_file(existing), new)
    assert parse_maintenance_toml(text) == (*existing, new)
    back, removed = with_window_removed(text, "zz-new")
    assert removed == new
    assert parse_maintenance_toml(back) == existing


def test_add_refuses_a_duplicate_id_and_an_invalid_window() -> None:
    first = parse_maintenance_toml(HAND_WRITTEN)[0]
    with pytest.raises(MaintenanceEditError, match="'a' exists already"):
        with_window_added(HAND_WRITTEN, first)
    backwards = replace(first, id="d", end=first.start)
    with pytest.raises(MaintenanceFileError, match=r"window 4 \(d\): key 'end'"):
        with_window_added(HAND_WRITTEN, backwards)


def test_edits_refuse_an_invalid_file() -> None:
    broken = HAND_WRITTEN.replace('countries = ["DE"]', 'countries = ["ZZ"]')
    with pytest.raises(MaintenanceFileError, match="'ZZ'"):
        with_window_removed(broken, "b")
    with pytest.raises(MaintenanceEditError, match="no window with id 'nope'"):
        with_window_removed(HAND_WRITTEN, "nope")


def test_add_and_remove_on_disk_replace_atomically_and_keep_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "maintenance.toml"
    path.write_text(HAND_WRITTEN)
    os.chmod(path, 0o640)
    inode = path.stat().st_ino
    removed = remove_window(path, "a")
    assert removed.id == "a"
    assert [w.id for w in load_windows(path)] == ["b", "c"]
    assert path.stat().st_ino != inode  # a new file renamed over the old one
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    add_window(path, removed)
    assert [w.id for w in load_windows(path)] == ["b", "c", "a"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["maintenance.toml"]  # no temp left


def test_failed_edit_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "maintenance.toml"
    path.write_text(HAND_WRITTEN)
    first = parse_maintenance_toml(HAND_WRITTEN)[0]
    with pytest.raises(MaintenanceFileError, match=str(path)):
        add_window(path, replace(first, id="z", title="\x07"))
    assert path.read_text() == HAND_WRITTEN
    assert sorted(p.name for p in tmp_path.iterdir()) == ["maintenance.toml"]


def test_add_creates_a_missing_file_readable_by_the_daemon(tmp_path: Path) -> None:
    path = tmp_path / "state" / "maintenance.toml"
    window = parse_maintenance_toml(HAND_WRITTEN)[1]
    add_window(path, window)
    assert load_windows(path) == (window,)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_watcher_keeps_previous_windows_on_a_bad_file() -> None:
    """A bad reload keeps the windows and revisions in force and reports; a good one clears."""
    watcher = MaintenanceWatcher("/etc/statusd/maintenance.toml")
    windows, error = watcher.reload(HAND_WRITTEN.encode(), now=100.0)
    assert [w.id for w in windows] == ["a", "b", "c"]
    assert error is None
    revisions = dict(watcher.revisions)
    bad = HAND_WRITTEN.replace('id = "c"', 'id = "a"').encode()
    windows, error = watcher.reload(bad, now=200.0)
    assert [w.id for w in windows] == ["a", "b", "c"]
    assert error is not None
    assert error.startswith("maintenance file /etc/statusd/maintenance.toml: window 3 (a)")
    assert error.endswith("keeping the previous windows")
    assert watcher.error == error
    assert watcher.revisions == revisions
    windows, error = watcher.reload(None, now=300.0)  # file deleted: no windows, no error
    assert windows == ()
    assert error is None
    assert watcher.revisions == {}


def test_watcher_reports_an_unreadable_file(tmp_path: Path) -> None:
    watcher = MaintenanceWatcher(str(tmp_path))
    watcher.reload(HAND_WRITTEN.encode(), now=1.0)
    windows, error = watcher.load(tmp_path, now=2.0)  # a directory: cannot be read
    assert len(windows) == 3
    assert error is not None
    assert "cannot be read" in error


def test_watcher_advances_revisions_of_changed_windows_only() -> None:
    watcher = MaintenanceWatcher("m.toml")
    watcher.reload(HAND_WRITTEN.encode(), now=100.0)
    watcher.reload(HAND_WRITTEN.replace('"Second"', '"Second, longer"').encode(), now=200.0)
    assert watcher.revisions["a"].updated_at == 100.0
    assert watcher.revisions["b"].updated_at == 200.0
    assert watcher.revisions["b"].created_at == 100.0
    assert watcher.revisions["b"].sequence == 1
