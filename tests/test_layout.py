"""The layout keeps its promises: the sans-I/O core imports no event loop, HTTP client or
server, and every module stays small enough to read (issue 17)."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import statusd

ROOT = Path(__file__).resolve().parent.parent
IO_PACKAGES = ("trio", "httpx", "quart", "quart_trio", "hypercorn", "werkzeug")
SANS_IO = (
    "statusd.countries",
    "statusd.i18n",
    "statusd.sources",
    *(f"statusd.sources.{m.name}" for m in pkgutil.iter_modules([str(ROOT / "statusd/sources")])),
    "statusd.body.jsonpieces",
    "statusd.body.spill",
    "statusd.body.document",
    "statusd.collect.outcome",
    "statusd.verdicts.cells",
    "statusd.verdicts.rules",
    "statusd.verdicts.timeline",
    "statusd.verdicts.statuspage",
    "statusd.state.statefile",
    "statusd.history.schema",
    "statusd.history.store",
    "statusd.history.reader",
    "statusd.serve.query",
    "statusd.serve.history_bodies",
    "statusd.serve.feed",
    "statusd.serve.badges",
)
MAX_MODULE_LINES = 400


@pytest.mark.parametrize("module", SANS_IO)
def test_the_core_imports_no_io_framework(module: str) -> None:
    """Parsing, verdicts, documents and the history's SQL run without trio, httpx or quart:
    each is imported alone in a fresh interpreter and none of those is loaded."""
    probe = (
        f"import importlib, json, sys; importlib.import_module({module!r}); "
        f"print(json.dumps(sorted(m for m in {IO_PACKAGES!r} if m in sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_the_probe_would_see_an_io_import() -> None:
    """The check above can fail: the daemon module does load them."""
    probe = (
        "import json, sys, statusd.daemon; "
        f"print(json.dumps(sorted(m for m in {IO_PACKAGES!r} if m in sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert {"trio", "httpx", "hypercorn"} <= set(json.loads(result.stdout))


def test_no_module_is_over_the_size_that_reads_in_one_sitting() -> None:
    package = Path(statusd.__file__).parent
    sizes = {
        str(path.relative_to(package)): len(path.read_text().splitlines())
        for path in package.rglob("*.py")
    }
    assert sizes, "no modules found"
    assert {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES} == {}
