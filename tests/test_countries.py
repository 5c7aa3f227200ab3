"""Country codes and names come from pycountry: assigned alpha-2 codes, upper case only."""

from __future__ import annotations

import pycountry
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statusd.countries import country_codes, country_name, is_country


def test_codes_are_pycountry_alpha_2() -> None:
    """Every assigned code pycountry knows, and nothing else."""
    expected = {country.alpha_2 for country in pycountry.countries}
    assert country_codes() == expected
    assert len(country_codes()) >= 249


@pytest.mark.parametrize("code", ["RU", "US", "GB", "BL", "TR", "AQ", "SS", "AX", "ZW", "MC", "PE"])
def test_assigned_codes(code: str) -> None:
    """Assigned codes, including ones the simulator never writes, are countries."""
    assert is_country(code)


@pytest.mark.parametrize(
    "code",
    [
        "ru",  # lower case
        "Ru",
        "rU",
        "UK",  # exceptionally reserved, not assigned
        "EU",
        "XK",  # user-assigned (Kosovo), not in ISO 3166-1
        "ZZ",
        "RUS",  # alpha-3
        "643",  # numeric
        "R",
        "",
        " RU",
        "RU ",
        "ＲＵ",  # full-width letters
    ],
)
def test_not_countries(code: str) -> None:
    """Lower case, reserved, user-assigned, alpha-3, numeric and padded codes are not countries."""
    assert not is_country(code)


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("RU", "Russian Federation"),
        ("BL", "Saint Barthélemy"),
        ("TR", "Türkiye"),
        ("US", "United States"),
        ("GB", "United Kingdom"),
        ("AX", "Åland Islands"),
    ],
)
def test_country_name(code: str, name: str) -> None:
    """The English short name of ISO 3166-1, as SPEC §2's examples show."""
    assert country_name(code) == name


def test_every_name_is_pycountrys() -> None:
    """``country_name`` is ``pycountry.countries.get(alpha_2=code).name`` for every code."""
    for code in country_codes():
        country = pycountry.countries.get(alpha_2=code)
        assert country is not None
        assert country_name(code) == country.name


@pytest.mark.parametrize("code", ["ru", "UK", "", "RUS"])
def test_country_name_of_unknown_code(code: str) -> None:
    """An unassigned or lower-case code has no name (pycountry's lookup would ignore case)."""
    with pytest.raises(KeyError):
        country_name(code)


@settings(deadline=None)
@given(st.text(max_size=3))
def test_is_country_is_exact_membership(code: str) -> None:
    """``is_country`` never raises and agrees with pycountry's list, case-sensitively."""
    assert is_country(code) == (code in {c.alpha_2 for c in pycountry.countries})


def test_names_are_unique() -> None:
    """The SMS and MMS encoders group rows by (provider, code) and sort the groups by name:
    that is the stable sort by (provider, name) only while no two codes share a name."""
    names = [country_name(code) for code in country_codes()]
    assert len(set(names)) == len(names)
