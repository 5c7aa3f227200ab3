"""Deciding and wording are sans-I/O like the rest of the core (issue 17): only the planner
task imports trio."""

from __future__ import annotations

import pytest

from tests.test_layout import test_the_core_imports_no_io_framework as imports_no_io_framework

PURE = (
    "statusd.notify.settle",
    "statusd.notify.batch",
    "statusd.notify.incidents",
    "statusd.notify.catalog",
    "statusd.notify.wording",
    "statusd.notify.messages",
    "statusd.subscriptions.model",
)


@pytest.mark.parametrize("module", PURE)
def test_deciding_and_wording_import_no_io_framework(module: str) -> None:
    imports_no_io_framework(module)
