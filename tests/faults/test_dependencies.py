"""Dependencies: every requirement is pinned by a range (a floor and a ceiling), the
installed set satisfies those ranges, and ``pip check`` finds no conflict. This is the
offline part of the supply-chain check; ``pip-audit`` (docs/security.md) needs the network.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, version

import pytest
from packaging.requirements import Requirement

from tests.faults.processes import ROOT


def requirements() -> list[Requirement]:
    """Every requirement pyproject.toml declares: runtime, optional groups, build."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = list(project["project"]["dependencies"])
    for group in project["project"].get("optional-dependencies", {}).values():
        declared.extend(group)
    declared.extend(project["build-system"]["requires"])
    return [Requirement(text) for text in declared]


def test_every_requirement_has_a_floor_and_a_ceiling() -> None:
    unbounded = []
    for requirement in requirements():
        operators = {spec.operator for spec in requirement.specifier}
        has_floor = bool(operators & {">=", ">", "==", "~="})
        has_ceiling = bool(operators & {"<", "<=", "==", "~="})
        if not (has_floor and has_ceiling):
            unbounded.append(str(requirement))
    assert not unbounded, f"pin these by a range (>=x,<y): {unbounded}"


def installed_by_make_test() -> list[Requirement]:
    """What `make test` installs: the runtime dependencies and the ``test`` extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = list(project["project"]["dependencies"])
    declared.extend(project["project"]["optional-dependencies"]["test"])
    return [Requirement(text) for text in declared]


@pytest.mark.parametrize("requirement", installed_by_make_test(), ids=str)
def test_installed_version_is_in_range(requirement: Requirement) -> None:
    if requirement.marker is not None and not requirement.marker.evaluate():
        pytest.skip(f"not for this platform: {requirement.marker}")
    try:
        installed = version(requirement.name)
    except PackageNotFoundError:
        if requirement.name in ("hatchling",):
            pytest.skip("a build requirement, installed only in the build environment")
        raise
    assert requirement.specifier.contains(installed, prereleases=True), (
        f"{requirement.name} {installed} is outside {requirement.specifier}"
    )


def test_pip_check_finds_no_broken_requirement() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "check"], capture_output=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
