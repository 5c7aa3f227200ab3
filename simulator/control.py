"""What a test or a demo pins in the simulator's data, as an immutable value, and its requests.

A ``Control`` travels inside every ``Plan``, so it survives regenerations: degraded
(product, country) cells whose every row is bad under SPEC §7's default thresholds, billing
functions held down, a pinned support load, named incidents, and ``steady`` mode (every row
good, billing up, support load 1, no random active incident) in which a test's only verdict
changes are the ones it causes. The generator (``simulator.generate``) reads it; the state
(``simulator.state``) replaces it; the routes (``simulator.server``) parse requests with the
functions here. ``Control()`` changes nothing: the data of a seed stays byte for byte.

Errors: ``BodyError`` for a malformed request, ``ControlError`` (a ``BodyError``) for one that
names what the simulator does not have; the message is the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

from simulator.bodies import BodyError, check_keys, json_object, string_field

Quality = Literal["mixed", "good", "bad"]
"""How a cell's rows are drawn: as usual (some bad), all good (steady) or all bad (degraded)."""

COUNTRY_OUTPUTS: Final = {
    "sms": "sms.data",
    "mms": "mms",
    "voice": "voice.data",
    "email": "email.data",
}
"""Products with a cell per country (SPEC §7) → the data file or endpoint their rows are in."""
BILLING_FUNCTIONS: Final = (
    "create_customer",
    "purchase",
    "payout",
    "recurring",
    "fraud_control",
    "checkout_page",
)
"""The billing functions by bit number (SPEC §1; bit 0 is the rightmost character)."""
PRODUCT_OUTPUTS: Final = {**COUNTRY_OUTPUTS, "billing": "billing.data", "support": "support"}
"""Every product ``/_control/degrade`` knows → the one output its degradation rewrites."""
INCIDENT_OUTPUT: Final = "accendent"
SUPPORT_LOADS: Final = (1, 2, 3)
INCIDENT_STATUSES: Final = ("active", "closed")
MAX_TOPIC_LENGTH: Final = 200
MAX_INCIDENTS: Final = 100
"""Named incidents the simulator holds at most (each stays until removed)."""
SHOWN_COUNTRIES: Final = 20
"""An error about a country lists the generated ones when there are at most this many."""


class ControlError(BodyError):
    """A degrade, restore or incident request that cannot be applied; the message says why."""


@dataclass(frozen=True, slots=True)
class Target:
    """What one degrade or restore request names: a country cell, a billing function or support.

    ``load`` is the support load a degrade pins (None in a restore).
    """

    product: str
    country: str | None = None
    function: str | None = None
    load: int | None = None

    @property
    def output(self) -> str:
        """The data file or endpoint whose bytes change with this target."""
        return PRODUCT_OUTPUTS[self.product]


@dataclass(frozen=True, slots=True)
class Control:
    """Everything pinned in the data; the default pins nothing."""

    steady: bool = False
    degraded: frozenset[tuple[str, str]] = frozenset()
    """(product, country) cells of ``COUNTRY_OUTPUTS`` products whose rows are all bad."""
    billing_down: frozenset[str] = frozenset()
    support_load: int | None = None
    incidents: tuple[tuple[str, str], ...] = ()
    """(topic, status) of the named incidents, in the order they were first set."""

    def quality(self, product: str, country: str) -> Quality:
        """How the rows of ``product`` in ``country`` are drawn."""
        if (product, country) in self.degraded:
            return "bad"
        return "good" if self.steady else "mixed"

    def degrade(self, target: Target) -> Control:
        """This control with ``target`` degraded (billing down, support at ``target.load``)."""
        if target.country is not None:
            return replace(self, degraded=self.degraded | {(target.product, target.country)})
        if target.function is not None:
            return replace(self, billing_down=self.billing_down | {target.function})
        return replace(self, support_load=target.load)

    def restore(self, target: Target) -> Control:
        """This control with ``target`` back to generated data."""
        if target.country is not None:
            return replace(self, degraded=self.degraded - {(target.product, target.country)})
        if target.function is not None:
            return replace(self, billing_down=self.billing_down - {target.function})
        return replace(self, support_load=None)

    def with_incident(self, topic: str, status: str | None) -> Control:
        """This control with incident ``topic`` set to ``status`` (None removes it)."""
        incidents = dict(self.incidents)
        if status is None:
            incidents.pop(topic, None)
        else:
            if topic not in incidents and len(incidents) >= MAX_INCIDENTS:
                raise ControlError(f"at most {MAX_INCIDENTS} named incidents; remove one first")
            incidents[topic] = status
        return replace(self, incidents=tuple(incidents.items()))

    def to_json(self) -> dict[str, Any]:
        """The JSON shape of ``GET /_control/status`` and of every control answer."""
        return {
            "steady": self.steady,
            "degraded": [
                {"product": product, "country": country}
                for product, country in sorted(self.degraded)
            ],
            "billing_down": [name for name in BILLING_FUNCTIONS if name in self.billing_down],
            "support_load": self.support_load,
            "incidents": [{"topic": topic, "status": status} for topic, status in self.incidents],
        }


def _known(names: Sequence[str]) -> str:
    return ", ".join(names)


def _country(value: dict[str, Any], countries: Sequence[str]) -> str:
    code = string_field(value, "country").strip().upper()
    if code not in countries:
        listed = f": {_known(countries)}" if len(countries) <= SHOWN_COUNTRIES else ""
        raise ControlError(
            f"country {value['country']!r} is not one the simulator generates "
            f"({len(countries)} countries, see --countries{listed})"
        )
    return code


def _load(value: dict[str, Any]) -> int:
    load = value["load"]
    if type(load) is not int or load not in SUPPORT_LOADS:
        raise ControlError(f"'load' must be one of {_known([str(n) for n in SUPPORT_LOADS])}")
    return load


def parse_target(body: bytes, countries: Sequence[str], *, restore: bool = False) -> Target:
    """The body of ``POST /_control/degrade`` (or ``/restore`` with ``restore``).

    ``{"product": "sms"|"mms"|"voice"|"email", "country": CODE}`` with CODE among
    ``countries``; ``{"product": "billing", "function": NAME}``; ``{"product": "support",
    "load": 1|2|3}`` (a restore may leave ``load`` out: it returns support to generated data).
    """
    value = json_object(body, '{"product": ..., ...}')
    if "product" not in value:
        raise ControlError("missing key 'product'")
    product = string_field(value, "product")
    if product not in PRODUCT_OUTPUTS:
        hint = " (incidents: POST /_control/incident)" if product == "incidents" else ""
        known = _known(list(PRODUCT_OUTPUTS))
        raise ControlError(f"unknown product {product!r} (known: {known}){hint}")
    if product in COUNTRY_OUTPUTS:
        check_keys(value, ("product", "country"))
        return Target(product, country=_country(value, countries))
    if product == "billing":
        check_keys(value, ("product", "function"))
        function = string_field(value, "function")
        if function not in BILLING_FUNCTIONS:
            known = _known(BILLING_FUNCTIONS)
            raise ControlError(f"unknown billing function {function!r} (known: {known})")
        return Target(product, function=function)
    if restore:
        check_keys(value, ("product",), ("load",))
        if "load" in value:
            _load(value)  # the degrade's body is accepted as it is; the load is not used
        return Target(product)
    check_keys(value, ("product", "load"))
    return Target(product, load=_load(value))


def parse_incident(body: bytes) -> tuple[str, str | None]:
    """The body of ``POST /_control/incident``: ``{"topic": str, "status": STATUS}``.

    STATUS is ``"active"`` or ``"closed"`` (adds or updates the named incident) or null
    (removes it).
    """
    value = json_object(body, '{"topic": ..., "status": "active"|"closed"|null}')
    check_keys(value, ("topic", "status"))
    topic = string_field(value, "topic")
    if not topic.strip():
        raise ControlError("'topic' must not be empty")
    if len(topic) > MAX_TOPIC_LENGTH:
        raise ControlError(f"'topic' is longer than {MAX_TOPIC_LENGTH} characters")
    status = value["status"]
    if status is not None and status not in INCIDENT_STATUSES:
        raise ControlError('\'status\' must be "active", "closed" or null (removes it)')
    return topic, status
