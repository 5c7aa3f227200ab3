"""An independent, deliberately plain reading of SPEC §1–2, to check /api end to end.

It shares no code with statusd's parsers: if both agree on the simulator's data, the
contract is met twice over.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pycountry

INT = re.compile(r"^[0-9]+$")
DECIMAL = re.compile(r"^[0-9]+(\.[0-9]+)?$")
CODES = {c.alpha_2 for c in pycountry.countries}
SMS_PROVIDERS = {"Topolo", "Rond", "Kildy"}
VOICE_PROVIDERS = {"TransparentCalls", "E-Voice", "JustPhone"}
EMAIL_PROVIDERS = {
    "Gmail", "Yahoo", "Hotmail", "MSN", "Orange", "Comcast", "AOL", "Live",
    "RediffMail", "GMX", "Protonmail", "Yandex", "Mail.ru",
}  # fmt: skip


def name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    assert country is not None
    return str(country.name)


def lines(path: Path) -> list[list[str]]:
    rows = []
    for raw in path.read_bytes().split(b"\n"):
        raw = raw.removesuffix(b"\r")
        if len(raw) > 4096:
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if text.strip():
            rows.append([field.strip() for field in text.split(";")])
    return rows


def percent(text: str) -> bool:
    return bool(INT.match(text)) and int(text) <= 100


def sms_like(country: str, bandwidth: str, response_time: str, provider: str) -> bool:
    return (
        country in CODES
        and percent(bandwidth)
        and bool(INT.match(response_time))
        and provider in SMS_PROVIDERS
    )


def two_orders(rows: list[dict[str, str]]) -> list[list[dict[str, str]]]:
    named = [{**row, "country": name(row["country"])} for row in rows]
    by_provider = sorted(named, key=lambda r: (r["provider"], r["country"]))
    by_country = sorted(named, key=lambda r: (r["country"], r["provider"]))
    return [by_provider, by_country]


def expected_sms(data_dir: Path) -> Any:
    rows = [
        {"country": f[0], "bandwidth": f[1], "response_time": f[2], "provider": f[3]}
        for f in lines(data_dir / "sms.data")
        if len(f) == 4 and sms_like(*f)
    ]
    return two_orders(rows)


def expected_mms(body: bytes) -> Any:
    rows = []
    for item in json.loads(body):
        keys = ("country", "provider", "bandwidth", "response_time")
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in keys):
            continue
        row = {k: item[k].strip() for k in keys}
        if sms_like(row["country"], row["bandwidth"], row["response_time"], row["provider"]):
            rows.append(row)
    return two_orders(rows)


def expected_voice(data_dir: Path) -> Any:
    rows = []
    for f in lines(data_dir / "voice.data"):
        if len(f) != 8 or not sms_like(f[0], f[1], f[2], "Topolo") or f[3] not in VOICE_PROVIDERS:
            continue
        if not DECIMAL.match(f[4]) or float(f[4]) > 1:
            continue
        if not all(INT.match(v) for v in f[5:]) or int(f[6]) > 100:
            continue
        rows.append(
            {
                "country": f[0],
                "bandwidth": f[1],
                "response_time": f[2],
                "provider": f[3],
                "connection_stability": float(f[4]),
                "ttfb": int(f[5]),
                "voice_purity": int(f[6]),
                "median_of_calls_time": int(f[7]),
            }
        )
    return rows


def expected_email(data_dir: Path) -> Any:
    by_country: dict[str, list[dict[str, Any]]] = {}
    for f in lines(data_dir / "email.data"):
        if len(f) == 3 and f[0] in CODES and f[1] in EMAIL_PROVIDERS and INT.match(f[2]):
            by_country.setdefault(f[0], []).append(
                {"country": f[0], "provider": f[1], "delivery_time": int(f[2])}
            )
    result = {}
    for code, rows in by_country.items():
        rows.sort(key=lambda r: (r["delivery_time"], r["provider"]))
        result[code] = [rows[:3], rows[-3:]]
    return result


def expected_billing(data_dir: Path) -> Any:
    mask = (data_dir / "billing.data").read_text().strip()
    names = ["create_customer", "purchase", "payout", "reccuring", "fraud_control", "checkout_page"]
    return {n: mask[-1 - bit] == "1" for bit, n in enumerate(names)}


def expected_support(body: bytes) -> Any:
    total = sum(
        item["active_tickets"]
        for item in json.loads(body)
        if isinstance(item, dict)
        and isinstance(item.get("topic"), str)
        and type(item.get("active_tickets")) is int
        and item["active_tickets"] >= 0
    )
    load = 1 if total < 9 else 2 if total <= 16 else 3
    return [load, (total * 60 + 17) // 18]


def expected_incidents(body: bytes) -> Any:
    items = [
        {"topic": i["topic"], "status": i["status"]}
        for i in json.loads(body)
        if isinstance(i, dict)
        and isinstance(i.get("topic"), str)
        and i.get("status") in ("active", "closed")
    ]
    return [i for i in items if i["status"] == "active"] + [
        i for i in items if i["status"] == "closed"
    ]
