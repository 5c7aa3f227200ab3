"""The catalogs agree: every key in every language, plural forms per CLDR, same fields."""

from __future__ import annotations

from statusd.notify.catalog import CATALOGS, catalog_problems
from statusd.subscriptions.model import LANGUAGES, NOTIFY_PRODUCTS
from statusd.verdicts.cells import BILLING_FUNCTIONS, VERDICTS


def test_the_catalogs_agree() -> None:
    assert catalog_problems() == []


def test_every_language_has_a_catalog() -> None:
    assert set(CATALOGS) == set(LANGUAGES)


def test_every_verdict_product_and_function_has_a_name() -> None:
    """What the messages look up by value: verdicts (and under_maintenance), the products
    a subscription can name, the billing functions."""
    names = {f"verdict.{v}" for v in (*VERDICTS, "under_maintenance")}
    names |= {f"product.{p}" for p in NOTIFY_PRODUCTS}
    names |= {f"function.{f}" for f in BILLING_FUNCTIONS}
    assert names <= set(CATALOGS["en"])


def test_the_check_finds_each_kind_of_disagreement() -> None:
    """A missing key, a plural entry in one language only, a missing Russian plural form
    and a template with other fields are each reported."""
    ru = dict(CATALOGS["ru"])
    del ru["page.link"]
    ru["footer.why"] = {"one": "{page}", "few": "{page}", "many": "{page}", "other": "{page}"}
    ru["confirm.expires"] = {"one": "{count} час", "other": "{count} часа"}
    ru["incident.started"] = "Начало: {when}"
    problems = catalog_problems({"en": CATALOGS["en"], "ru": ru})
    assert problems == [
        "ru: 'confirm.expires' lacks the 'few' form",
        "ru: 'confirm.expires' lacks the 'many' form",
        "'footer.why': plural in some languages only",
        "'incident.started': the fields differ between languages",
        "ru: lacks 'page.link'",
    ]
