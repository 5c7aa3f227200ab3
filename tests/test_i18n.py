"""The catalogs (SPEC §10): every language has every key with the same fields and the plural
forms its CLDR rules need, every key the code uses exists, and the loader's choices."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from statusd import i18n

ROOT = Path(__file__).resolve().parent.parent
PAGE_KEY = re.compile(r"""["'](page\.[a-z0-9_.]+)["']""")
"""A key in the page's code; one ending in a dot is a prefix completed at run time."""
SERVER_KEY = re.compile(r"""["']((?:mail|subscribe|feed)\.[a-z0-9_.]+)["']""")
"""A full key in statusd's Python (the feed's, ``i18n.text(lang, "feed.title")``)."""
SHORT_KEY = re.compile(r"""\b(?:text|plural)\(\s*lang,\s*["']([a-z0-9_]+(?:\.[a-z0-9_]+)*)["']""")
"""A ``mail.*`` key as statusd/notify writes it (``wording.text(lang, "confirm.subject")``)."""


def used_keys() -> dict[str, set[str]]:
    """Every literal key in the page (HTML and scripts) and in statusd's Python → where."""
    found: dict[str, set[str]] = {}
    page = [*(ROOT / "web").rglob("*.js"), ROOT / "web/index.html"]
    for path in [*page, *(ROOT / "statusd").rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        where = str(path.relative_to(ROOT))
        if path in page:
            keys = set(PAGE_KEY.findall(text))
        elif path.parent.name == "notify":
            keys = {"mail." + key for key in SHORT_KEY.findall(text)}
        else:
            keys = set(SERVER_KEY.findall(text))
        for key in keys:
            found.setdefault(key, set()).add(where)
    return found


def test_the_catalogs_agree() -> None:
    """No key missing in a language, no field set or plural form out of step."""
    assert i18n.problems() == []


def test_there_are_english_and_russian_and_the_files_are_the_languages() -> None:
    assert i18n.languages()[:1] == ("en",)
    assert set(i18n.languages()) == {p.stem for p in i18n.CATALOG_DIR.glob("*.json")}
    assert "ru" in i18n.languages()


def test_the_check_finds_each_kind_of_disagreement() -> None:
    """A missing key, other fields, a plural entry in one language only and a plural entry
    without a category Russian needs (Babel's rules say one, few, many) are each reported."""
    en: dict[str, i18n.Entry] = {
        "a": "A {count}",
        "b": "B {name}",
        "c": {"one": "{count} c", "other": "{count} cs"},
    }
    en["d"] = "D"
    ru: dict[str, i18n.Entry] = {
        "b": "Б {title}",
        "c": {"one": "{count} с", "other": "{count} с"},
        "d": {"one": "Д"},
    }
    assert i18n.problems({"en": en, "ru": ru}) == [
        "ru: lacks 'a'",
        "'b': the fields differ between languages",
        "ru: 'c' lacks the 'few' form",
        "ru: 'c' lacks the 'many' form",
        "'d': plural in some languages only",
        "ru: 'd' lacks the 'few' form",
        "ru: 'd' lacks the 'many' form",
        "ru: 'd' lacks the 'other' form",
    ]


def test_every_key_the_code_uses_is_in_the_catalogs() -> None:
    """``t("page.…")`` in the page, ``data-i18n`` in its HTML, ``text(lang, "…")`` in the
    notifications, the feed's and the confirm pages' keys: each is in English (so, by the
    check above, in every language); a prefix (``"page.verdict." + v``) starts some key."""
    english = i18n.catalogs()["en"]
    used = used_keys()
    assert len(used) > 150  # the grep still finds the call sites
    missing = {
        key: sorted(where)
        for key, where in used.items()
        if (key.endswith(".") and not any(k.startswith(key) for k in english))
        or (not key.endswith(".") and key not in english)
    }
    assert missing == {}


def test_the_key_check_would_see_a_key_no_catalog_has() -> None:
    """The pattern finds keys as the code writes them (so a typo would show above)."""
    code = 't("page.banner.ok"); tp(\'page.reason.cells\', n); t("page.verdict." + v);'
    assert PAGE_KEY.findall(code) == ["page.banner.ok", "page.reason.cells", "page.verdict."]
    assert SERVER_KEY.findall('i18n.text(lang, "feed.title", page=p)') == ["feed.title"]
    assert SHORT_KEY.findall('text(lang, "changes.since", time=at)') == ["changes.since"]


def test_the_page_gets_only_its_own_entries() -> None:
    import json

    document = json.loads(i18n.page_document("ru"))
    assert document["lang"] == "ru"
    assert document["languages"] == list(i18n.languages())
    assert document["entries"]["page.banner.ok"] == "Все системы работают штатно"
    assert all(key.startswith("page.") for key in document["entries"])


@pytest.mark.parametrize(
    ("want", "expected"),
    [
        ("ru-RU,ru,en-US", "ru"),
        ("de-DE,en-GB", "en"),
        ("fr,de", "en"),
        ("", "en"),
        ("RU", "ru"),
        ("pt_BR,ru_RU", "ru"),
        (",".join(["de"] * 20 + ["ru"]), "en"),  # only the first 16 tags are looked at
    ],
)
def test_the_page_language_is_the_first_wanted_that_has_a_catalog(want: str, expected: str) -> None:
    assert i18n.page_language(want) == expected


def test_accept_language_by_quality() -> None:
    header = "de;q=0.9, ru-RU, en;q=0.8, fr;q=0, *;q=0.1"
    assert i18n.accept_language(header) == ["ru-RU", "de", "en"]
    assert i18n.best_language(i18n.accept_language(header)) == "ru"
    assert i18n.accept_language("") == []


@pytest.mark.parametrize(
    ("count", "form"),
    [(1, "1 страна"), (2, "2 страны"), (5, "5 стран"), (21, "21 страна"), (11, "11 стран")],
)
def test_russian_plurals_follow_cldr(count: int, form: str) -> None:
    forms = {"one": "{count} страна", "few": "{count} страны", "many": "{count} стран"}
    forms["other"] = "{count} страны"
    assert i18n.plural_form("ru", forms, count).format(count=count) == form


def test_a_text_and_a_plural_in_each_language() -> None:
    assert i18n.text("ru", "feed.title", page="Статус") == "Статус: изменения статуса"
    assert i18n.text("xx", "feed.title", page="S") == "S: status changes"  # unknown → English
    assert i18n.plural("ru", "mail.confirm.expires", 48) == "Ссылка действует 48 часов."
    assert i18n.plural("en", "mail.confirm.expires", 1) == "The link is valid for 1 hour."
