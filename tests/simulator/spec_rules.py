"""SPEC §1 and §7 rules, written from the SPEC independently of the generator's constants.

The simulator's tests judge its output with these: whether statusd must skip a record, and
whether a kept row is *good* under the default verdict thresholds.
"""

from __future__ import annotations

import re
from typing import Any

import pycountry

ASSIGNED = {country.alpha_2 for country in pycountry.countries}
SMS = {"Topolo", "Rond", "Kildy"}
VOICE = {"TransparentCalls", "E-Voice", "JustPhone"}
EMAIL = {
    "Gmail",
    "Yahoo",
    "Hotmail",
    "MSN",
    "Orange",
    "Comcast",
    "AOL",
    "Live",
    "RediffMail",
    "GMX",
    "Protonmail",
    "Yandex",
    "Mail.ru",
}
PROVIDERS = {"sms.data": SMS, "voice.data": VOICE, "email.data": EMAIL}
INTEGER = re.compile(r"[0-9]+")
DECIMAL_0_1 = re.compile(r"0(\.[0-9]+)?|1(\.0+)?")


def _int_in(text: str, low: int, high: int | None = None) -> bool:
    return (
        bool(INTEGER.fullmatch(text)) and low <= int(text) and (high is None or int(text) <= high)
    )


def line_problem(name: str, line: str) -> str | None:
    """Why statusd must skip this line of ``name`` under SPEC §1, or None if it is valid."""
    fields = [field.strip() for field in line.split(";")]
    expected = {"sms.data": 4, "voice.data": 8, "email.data": 3}[name]
    if len(fields) != expected:
        return "field_count"
    if fields[0] not in ASSIGNED:
        return "country"
    provider = fields[1] if name == "email.data" else fields[3]
    if provider not in PROVIDERS[name]:
        return "provider"
    if name == "email.data":
        return None if _int_in(fields[2], 0) else "delivery_time"
    if not _int_in(fields[1], 0, 100) or not _int_in(fields[2], 0):
        return "number"
    if name == "voice.data":
        stability, ttfb, purity, minutes = fields[4:]
        numbers_ok = _int_in(ttfb, 0) and _int_in(purity, 0, 100) and _int_in(minutes, 0)
        if not DECIMAL_0_1.fullmatch(stability) or not numbers_ok:
            return "number"
    return None


def item_problem(endpoint: str, item: Any) -> str | None:
    """Why statusd must skip this JSON item, or None if it is valid."""
    keys = {
        "mms": ("country", "provider", "bandwidth", "response_time"),
        "support": ("topic", "active_tickets"),
        "accendent": ("topic", "status"),
    }[endpoint]
    if not isinstance(item, dict):
        return "not_an_object"
    if any(key not in item for key in keys):
        return "missing_key"
    if endpoint == "mms":
        if not all(isinstance(item[key], str) for key in keys):
            return "wrong_type"
        sms_line = ";".join([item["country"], item["bandwidth"], item["response_time"]])
        return line_problem("sms.data", f"{sms_line};{item['provider']}")
    if endpoint == "support":
        count = item["active_tickets"]
        ok = isinstance(item["topic"], str) and type(count) is int and count >= 0
        return None if ok else "wrong_type"
    if not isinstance(item["topic"], str) or not isinstance(item["status"], str):
        return "wrong_type"
    return None if item["status"] in ("active", "closed") else "status"


def sms_row_good(bandwidth: str, response_time: str) -> bool:
    """SPEC §7 default: an SMS or MMS row is good when response_time ≤ 1000 and bandwidth ≥ 20."""
    return int(response_time) <= 1000 and int(bandwidth) >= 20


def line_good(name: str, line: str) -> bool:
    """Whether a valid line of ``name`` is a *good* row under SPEC §7's default thresholds."""
    f = [field.strip() for field in line.split(";")]
    if name == "sms.data":
        return sms_row_good(f[1], f[2])
    if name == "voice.data":
        load, ttfb, purity = int(f[1]), int(f[5]), int(f[6])
        return float(f[4]) >= 0.8 and purity >= 50 and ttfb <= 500 and load <= 90
    return int(f[2]) <= 300


def support_load(total: int) -> int:
    """SPEC §2: load 1 under 9 tickets, 2 for 9–16, 3 above."""
    return 1 if total < 9 else 2 if total <= 16 else 3


BILLING_BITS = (
    "create_customer",
    "purchase",
    "payout",
    "recurring",
    "fraud_control",
    "checkout_page",
)
"""SPEC §1: bit 0 (the rightmost character) first."""


def billing_up(data: bytes) -> dict[str, bool]:
    """The six functions of a billing file, read right to left."""
    text = data.decode()
    return {name: text[-1 - bit] == "1" for bit, name in enumerate(BILLING_BITS)}


def file_cells(name: str, data: bytes) -> dict[str, list[bool]]:
    """Country → goodness of each row statusd keeps from line file ``name`` (SPEC §7 cells)."""
    cells: dict[str, list[bool]] = {}
    for line in data.decode().splitlines():
        if line.strip() and line_problem(name, line) is None:
            cells.setdefault(line.split(";")[0].strip(), []).append(line_good(name, line))
    return cells


def mms_cells(items: list[Any]) -> dict[str, list[bool]]:
    """Country → goodness of each ``/mms`` item statusd keeps."""
    cells: dict[str, list[bool]] = {}
    for item in items:
        if item_problem("mms", item) is None:
            good = sms_row_good(item["bandwidth"], item["response_time"])
            cells.setdefault(item["country"].strip(), []).append(good)
    return cells
