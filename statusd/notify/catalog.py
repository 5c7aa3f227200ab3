"""Every string of the notifications, one dict per language (SPEC §10).

A value is a whole template (``str.format`` fields in braces), or, for a text that depends
on a number, a dict of CLDR plural categories (``one``, ``few``, ``many``, ``other``…) to
templates, chosen with Babel's plural rules. Templates are whole sentences per message
shape, never assembled from fragments, so each language keeps its own word order. Country
names are not here: they come from CLDR (``babel.Locale(lang).territories``), in the
nominative, so the Russian templates put the country where the nominative reads right.
Adding a language is adding one dict; ``catalog_problems`` (run by
``tests/notify/test_catalog.py``) names every key a dict lacks and another has, and every
plural entry lacking a category its language uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from string import Formatter
from typing import Final

from babel import Locale

Entry = str | Mapping[str, str]

EN: Final[Mapping[str, Entry]] = {
    # verdicts (SPEC §7) and products (SPEC §8)
    "verdict.operational": "operational",
    "verdict.degraded_performance": "degraded performance",
    "verdict.partial_outage": "partial outage",
    "verdict.major_outage": "major outage",
    "verdict.under_maintenance": "under maintenance",
    "verdict.unknown": "unknown",
    "product.sms": "SMS",
    "product.mms": "MMS",
    "product.voice": "Voice",
    "product.email": "Email",
    "product.billing": "Billing",
    "product.support": "Support",
    "product.incidents": "Incidents",
    "function.create_customer": "Create customer",
    "function.purchase": "Purchase",
    "function.payout": "Payout",
    "function.recurring": "Recurring",
    "function.fraud_control": "Fraud control",
    "function.checkout_page": "Checkout page",
    # one change: the subject of a message with one change, and a line of a longer one
    "change.country.subject": "{product} in {country}: {status}",
    "change.function.subject": "{product} — {function}: {status}",
    "change.product.subject": "{product}: {status}",
    "change.country.line": "{product} in {country}: {status} (was {before})",
    "change.function.line": "{product} — {function}: {status} (was {before})",
    "change.product.line": "{product}: {status} (was {before})",
    "changes.subject": {
        "one": "{page}: {count} status change",
        "other": "{page}: {count} status changes",
    },
    "changes.intro": {
        "one": "The status of {count} service on {page} changed:",
        "other": "The status of {count} services on {page} changed:",
    },
    "changes.since": "Changed at {time}.",
    # incidents
    "incident.opened.subject": "Incident: {name}",
    "incident.opened.intro": "{page} reports a new incident: {name}.",
    "incident.resolved.subject": "Resolved: {name}",
    "incident.resolved.intro": "The incident “{name}” on {page} is resolved.",
    "incident.started": "Started: {time}",
    "incident.resolved": "Resolved: {time}",
    "incident.duration": "Duration: {duration}",
    # maintenance (SPEC §9)
    "maintenance.scheduled.subject": "Planned maintenance: {title}",
    "maintenance.scheduled.intro": "{page} announces planned maintenance: {title}.",
    "maintenance.started.subject": "Maintenance started: {title}",
    "maintenance.started.intro": "Planned maintenance has started: {title}.",
    "maintenance.completed.subject": "Maintenance completed: {title}",
    "maintenance.completed.intro": "Planned maintenance is over: {title}.",
    "maintenance.start": "Start: {time}",
    "maintenance.end": "End: {time}",
    "maintenance.affects": "Affected: {scope}",
    # scopes (a subscription's or a window's)
    "scope.products": "products: {products}",
    "scope.countries": "countries: {countries}",
    "scope.functions": "billing functions: {functions}",
    "scope.all_products": "products: all",
    "scope.all_countries": "countries: all",
    # links and footers
    "page.link": "Status page: {url}",
    "page.link_text": "Open the status page",
    "footer.why": "You receive this email because you subscribed to notifications from {page}.",
    "footer.scope": "Your subscription: {scope}.",
    "footer.unsubscribe": "Unsubscribe: {url}",
    "footer.unsubscribe_text": "Unsubscribe",
    # the confirmation email (double opt-in)
    "confirm.subject": "Confirm your subscription to {page}",
    "confirm.intro": (
        "Someone, hopefully you, asked to receive status notifications from {page} at this address."
    ),
    "confirm.scope": "Subscription: {scope}.",
    "confirm.action": "To confirm, open this link and press the button on the page:",
    "confirm.button": "Confirm the subscription",
    "confirm.expires": {
        "one": "The link is valid for {count} hour.",
        "other": "The link is valid for {count} hours.",
    },
    "confirm.ignore": (
        "If you did not ask for this, ignore this email: nothing is sent without your confirmation."
    ),
}

RU: Final[Mapping[str, Entry]] = {
    "verdict.operational": "работает нормально",
    "verdict.degraded_performance": "снижение производительности",
    "verdict.partial_outage": "частичный сбой",
    "verdict.major_outage": "полный сбой",
    "verdict.under_maintenance": "плановые работы",
    "verdict.unknown": "нет данных",
    "product.sms": "SMS",
    "product.mms": "MMS",
    "product.voice": "Голосовые вызовы",
    "product.email": "Электронная почта",
    "product.billing": "Биллинг",
    "product.support": "Поддержка",
    "product.incidents": "Инциденты",
    "function.create_customer": "Создание клиента",
    "function.purchase": "Покупка",
    "function.payout": "Выплаты",
    "function.recurring": "Регулярные платежи",
    "function.fraud_control": "Антифрод",
    "function.checkout_page": "Страница оплаты",
    "change.country.subject": "{product} — {country}: {status}",
    "change.function.subject": "{product} — {function}: {status}",
    "change.product.subject": "{product}: {status}",
    "change.country.line": "{product} — {country}: {status} (было: {before})",
    "change.function.line": "{product} — {function}: {status} (было: {before})",
    "change.product.line": "{product}: {status} (было: {before})",
    "changes.subject": {
        "one": "{page}: {count} изменение статуса",
        "few": "{page}: {count} изменения статуса",
        "many": "{page}: {count} изменений статуса",
        "other": "{page}: {count} изменения статуса",
    },
    "changes.intro": {
        "one": "На странице {page} изменился статус {count} сервиса:",
        "few": "На странице {page} изменился статус {count} сервисов:",
        "many": "На странице {page} изменился статус {count} сервисов:",
        "other": "На странице {page} изменился статус {count} сервиса:",
    },
    "changes.since": "Время изменения: {time}.",
    "incident.opened.subject": "Инцидент: {name}",
    "incident.opened.intro": "{page} сообщает о новом инциденте: {name}.",
    "incident.resolved.subject": "Инцидент завершён: {name}",
    "incident.resolved.intro": "Инцидент «{name}» на странице {page} завершён.",
    "incident.started": "Начало: {time}",
    "incident.resolved": "Завершение: {time}",
    "incident.duration": "Длительность: {duration}",
    "maintenance.scheduled.subject": "Запланированы работы: {title}",
    "maintenance.scheduled.intro": "{page} сообщает о плановых работах: {title}.",
    "maintenance.started.subject": "Начались плановые работы: {title}",
    "maintenance.started.intro": "Плановые работы начались: {title}.",
    "maintenance.completed.subject": "Плановые работы завершены: {title}",
    "maintenance.completed.intro": "Плановые работы завершены: {title}.",
    "maintenance.start": "Начало: {time}",
    "maintenance.end": "Окончание: {time}",
    "maintenance.affects": "Затронуто: {scope}",
    "scope.products": "продукты: {products}",
    "scope.countries": "страны: {countries}",
    "scope.functions": "функции биллинга: {functions}",
    "scope.all_products": "продукты: все",
    "scope.all_countries": "страны: все",
    "page.link": "Страница статуса: {url}",
    "page.link_text": "Открыть страницу статуса",
    "footer.why": "Вы получили это письмо, потому что подписались на уведомления {page}.",
    "footer.scope": "Ваша подписка: {scope}.",
    "footer.unsubscribe": "Отписаться: {url}",
    "footer.unsubscribe_text": "Отписаться",
    "confirm.subject": "Подтвердите подписку на уведомления {page}",
    "confirm.intro": (
        "Кто-то (надеемся, что вы) запросил уведомления о статусе {page} на этот адрес."
    ),
    "confirm.scope": "Подписка: {scope}.",
    "confirm.action": "Чтобы подтвердить подписку, откройте ссылку и нажмите кнопку на странице:",
    "confirm.button": "Подтвердить подписку",
    "confirm.expires": {
        "one": "Ссылка действует {count} час.",
        "few": "Ссылка действует {count} часа.",
        "many": "Ссылка действует {count} часов.",
        "other": "Ссылка действует {count} часа.",
    },
    "confirm.ignore": (
        "Если вы не запрашивали подписку, просто не отвечайте на это письмо: без "
        "подтверждения ничего не будет отправлено."
    ),
}

CATALOGS: Final[Mapping[str, Mapping[str, Entry]]] = {"en": EN, "ru": RU}
"""Language (``Subscription.lang``) → its catalog."""
DEFAULT_LANGUAGE: Final = "en"


def _fields(entry: Entry) -> frozenset[str]:
    templates = [entry] if isinstance(entry, str) else list(entry.values())
    return frozenset(
        name for template in templates for _, name, _, _ in Formatter().parse(template) if name
    )


def catalog_problems(catalogs: Mapping[str, Mapping[str, Entry]] = CATALOGS) -> list[str]:
    """What makes the catalogs disagree, one line each (empty: they agree): a key one lacks
    and another has, an entry plural in one language only, a plural entry without a CLDR
    category its language uses, a template whose fields differ from the other languages'."""
    problems: list[str] = []
    every_key = sorted({key for catalog in catalogs.values() for key in catalog})
    for key in every_key:
        having = {lang: c[key] for lang, c in catalogs.items() if key in c}
        problems += [f"{lang}: lacks {key!r}" for lang in catalogs if lang not in having]
        if len({isinstance(entry, str) for entry in having.values()}) > 1:
            problems.append(f"{key!r}: plural in some languages only")
        if len({_fields(entry) for entry in having.values()}) > 1:
            problems.append(f"{key!r}: the fields differ between languages")
        for lang, entry in having.items():
            if isinstance(entry, str):
                continue
            needed = Locale.parse(lang).plural_form.tags | {"other"}
            problems += [
                f"{lang}: {key!r} lacks the {t!r} form" for t in sorted(needed - set(entry))
            ]
    return problems
