"""Scenarios: who arrives, what they buy and what they do with their points, phase by phase.

A scenario is a parameter set plus buyer behaviour in phases. A phase starts at a fraction of
the run (``from``, so a short ``--days`` keeps the shape) or at an absolute ``from_day``; new
buyers a day ramp linearly from ``new_buyers[0]`` to ``new_buyers[1]`` across the phase.
Arrival counts are Poisson draws (``arrival: poisson``) or the expected counts with the
fractions carried to the next day (``arrival: fixed``). ``total_purchases`` instead spreads an
exact number of orders evenly over the days (new buyers' first orders included).

Behaviour probabilities and rates are floats (they only steer the random draws); basket
amounts are money, decimal strings parsed to fen; the share of points sold or converted is an
exact fraction parsed from a decimal string.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from tokenmall.domain.economy import DEFAULT, SEED, Params
from tokenmall.domain.errors import DomainError
from tokenmall.domain.money import parse_money, parse_rate


class ScenarioError(DomainError):
    """A scenario file or option that cannot be run; the message says which field and why."""


@dataclass(frozen=True, slots=True)
class Phase:
    start: float = 0.0  # fraction of the run at which the phase begins
    start_day: int | None = None  # or an absolute day (1-based), which wins when given
    new_buyers: tuple[float, float] = (0.0, 0.0)  # a day, at the phase's start and end
    repeat_rate: float = 0.0  # chance a day that a known buyer buys again
    sell_rate: float = 0.0  # chance a day that a buyer sells
    sell_fraction: Fraction = Fraction(1, 2)  # of their points
    convert_rate: float = 0.0  # chance a day that a buyer converts to stable points
    convert_fraction: Fraction = Fraction(1, 2)
    spend_stable_rate: float = 0.0  # chance a converter spends the stable points at once

    def first_day(self, days: int) -> int:
        if self.start_day is not None:
            return self.start_day
        return 1 + int(self.start * days)


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    params: Params
    days: int
    phases: tuple[Phase, ...]
    basket: tuple[tuple[int, int], ...] = ((100_00, 1),)  # (amount in fen, weight)
    contribution: int | None = None  # a fixed pool contribution per order, in fen
    referral_probability: float = 0.0
    arrival: str = "poisson"  # or "fixed"
    total_purchases: int | None = None
    notes: tuple[str, ...] = field(default=())

    def phase_bounds(self) -> list[tuple[int, int, Phase]]:
        """(first day, last day, phase) for each phase that has days in this run."""
        starts = [max(1, phase.first_day(self.days)) for phase in self.phases]
        bounds = []
        for i, (first, phase) in enumerate(zip(starts, self.phases, strict=True)):
            last = starts[i + 1] - 1 if i + 1 < len(starts) else self.days
            if first <= min(last, self.days):
                bounds.append((first, min(last, self.days), phase))
        return bounds


BASKET = ((99_00, 50), (199_00, 30), (499_00, 15), (999_00, 5))

BUILTIN: dict[str, Scenario] = {
    "seed": Scenario(
        "seed",
        "种子示例：每天一笔 100 元订单，贡献 30 元，无推荐，无人卖出，不强制出局。 The seed's "
        "worked example: one order of 100.00 a day contributing 30.00, no referrers, nobody "
        "sells; forced exit is off because the seed's table assumes no buyback (a forced "
        "exit burns points, which moves the price up off the table).",
        SEED.updated({"referral_rates": [], "forced_exit": False}),
        100,
        (Phase(new_buyers=(1.0, 1.0)),),
        basket=((100_00, 1),),
        contribution=30_00,
        arrival="fixed",
    ),
    "steady": Scenario(
        "steady",
        "稳定增长：新买家每天从 20 增至 80。 Steady growth: new buyers rise from 20 to 80 a day.",
        DEFAULT,
        365,
        (
            Phase(
                new_buyers=(20.0, 80.0),
                repeat_rate=0.02,
                sell_rate=0.002,
                convert_rate=0.001,
                spend_stable_rate=0.8,
            ),
        ),
        basket=BASKET,
        referral_probability=0.3,
    ),
    "stall": Scenario(
        "stall",
        "增长后停滞：前一半时间增长，之后没有任何销售。 Growth then stall: growth for half the "
        "run, then no sales at all.",
        DEFAULT,
        365,
        (
            Phase(new_buyers=(20.0, 100.0), repeat_rate=0.02, sell_rate=0.002),
            Phase(start=0.5, sell_rate=0.002),
        ),
        basket=BASKET,
        referral_probability=0.3,
    ),
    "decline": Scenario(
        "decline",
        "衰退：新买家每天从 100 降到 5。 Decline: new buyers fall from 100 to 5 a day.",
        DEFAULT,
        365,
        (Phase(new_buyers=(100.0, 5.0), repeat_rate=0.01, sell_rate=0.003),),
        basket=BASKET,
        referral_probability=0.3,
    ),
    "run": Scenario(
        "run",
        "挤兑：增长之后，持有人纷纷全部卖出。 A run on the pool: after growth, holders sell "
        "everything and few new buyers come.",
        DEFAULT,
        365,
        (
            Phase(new_buyers=(20.0, 100.0), repeat_rate=0.02, sell_rate=0.002),
            Phase(
                start=0.4,
                new_buyers=(5.0, 0.0),
                repeat_rate=0.002,
                sell_rate=0.2,
                sell_fraction=Fraction(1),
            ),
        ),
        basket=BASKET,
        referral_probability=0.3,
    ),
    "referral": Scenario(
        "referral",
        "重度推荐：九成新买家由老买家推荐，三级推荐奖励。 Heavy referral: nine in ten new "
        "buyers are referred, three referral levels.",
        DEFAULT.updated({"grant_rate": "0.60", "referral_rates": ["0.15", "0.10", "0.05"]}),
        365,
        (Phase(new_buyers=(20.0, 80.0), repeat_rate=0.02, sell_rate=0.002),),
        basket=BASKET,
        referral_probability=0.9,
    ),
}

ALIASES = {
    "growth": "steady",
    "steady-growth": "steady",
    "growth-then-stall": "stall",
    "run-on-pool": "run",
    "heavy-referral": "referral",
}


def builtin(name: str) -> Scenario:
    found = BUILTIN.get(ALIASES.get(name, name))
    if found is None:
        raise ScenarioError(f"unknown scenario {name!r} (known: {', '.join(BUILTIN)})")
    return found


# -- scenario files and option overrides ------------------------------------------------------

_PHASE_FIELDS = {
    "from",
    "from_day",
    "new_buyers",
    "repeat_rate",
    "sell_rate",
    "sell_fraction",
    "convert_rate",
    "convert_fraction",
    "spend_stable_rate",
}
_FILE_FIELDS = {
    "name",
    "description",
    "base",
    "days",
    "params",
    "phases",
    "basket",
    "contribution",
    "referral_probability",
    "arrival",
    "total_purchases",
}


def load_file(path: Path) -> Scenario:
    """A scenario from a JSON file: optional ``base`` (a built-in name) and fields over it."""
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ScenarioError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: must be a JSON object")
    try:
        return from_mapping(raw)
    except ScenarioError as exc:
        raise ScenarioError(f"{path}: {exc}") from None


def from_mapping(raw: Mapping[str, Any]) -> Scenario:
    unknown = sorted(set(raw) - _FILE_FIELDS)
    if unknown:
        raise ScenarioError(f"unknown field {', '.join(unknown)} (known: {sorted(_FILE_FIELDS)})")
    base = builtin(str(raw.get("base", "steady")))
    changes: dict[str, Any] = {"name": str(raw.get("name", base.name))}
    if "description" in raw:
        changes["description"] = str(raw["description"])
    if "days" in raw:
        changes["days"] = _days(raw["days"])
    if "params" in raw:
        changes["params"] = _params(base.params, raw["params"])
    if "phases" in raw:
        phases = raw["phases"]
        if not isinstance(phases, list) or not phases:
            raise ScenarioError("phases must be a non-empty list of objects")
        changes["phases"] = tuple(_phase(i, p) for i, p in enumerate(phases, start=1))
    if "basket" in raw:
        changes["basket"] = _basket(raw["basket"])
    if "contribution" in raw:
        value = raw["contribution"]
        changes["contribution"] = None if value is None else _money(value, "contribution")
    if "referral_probability" in raw:
        changes["referral_probability"] = _probability(
            raw["referral_probability"], "referral_probability"
        )
    if "arrival" in raw:
        changes["arrival"] = _arrival(raw["arrival"])
    if "total_purchases" in raw:
        value = raw["total_purchases"]
        changes["total_purchases"] = None if value is None else _whole(value, "total_purchases")
    return replace(base, **changes)


def with_options(
    scenario: Scenario,
    *,
    days: int | None = None,
    params: Mapping[str, Any] | None = None,
    new_buyers: str | None = None,
    repeat_rate: float | None = None,
    referral_probability: float | None = None,
    sell_rate: float | None = None,
    convert_rate: float | None = None,
    basket: str | None = None,
    arrival: str | None = None,
) -> Scenario:
    """Command-line overrides; behaviour options apply to every phase."""
    changes: dict[str, Any] = {}
    if days is not None:
        changes["days"] = _days(days)
    if params:
        changes["params"] = _params(scenario.params, dict(params))
    if referral_probability is not None:
        changes["referral_probability"] = _probability(referral_probability, "referral")
    if basket is not None:
        changes["basket"] = parse_basket(basket)
    if arrival is not None:
        changes["arrival"] = _arrival(arrival)
    phase_changes: dict[str, Any] = {}
    if new_buyers is not None:
        phase_changes["new_buyers"] = parse_ramp(new_buyers)
    for name, value in (
        ("repeat_rate", repeat_rate),
        ("sell_rate", sell_rate),
        ("convert_rate", convert_rate),
    ):
        if value is not None:
            phase_changes[name] = _probability(value, name)
    if phase_changes:
        changes["phases"] = tuple(replace(p, **phase_changes) for p in scenario.phases)
    return replace(scenario, **changes) if changes else scenario


def parse_ramp(text: str) -> tuple[float, float]:
    """``"20"`` (constant) or ``"20:80"`` (a linear ramp) new buyers a day."""
    parts = text.split(":")
    if len(parts) > 2:
        raise ScenarioError(f'new buyers must be "N" or "START:END", got {text!r}')
    try:
        values = [float(part) for part in parts]
    except ValueError:
        raise ScenarioError(f'new buyers must be numbers such as "20:80", got {text!r}') from None
    if any(v < 0 or v != v or v == float("inf") for v in values):
        raise ScenarioError(f"new buyers must be finite and not negative, got {text!r}")
    return (values[0], values[-1])


def parse_basket(text: str) -> tuple[tuple[int, int], ...]:
    """``"99.00*5,199.00*3"``: basket amounts with weights (weight 1 when omitted)."""
    items: list[list[Any]] = []
    for part in text.split(","):
        amount, _, weight = part.strip().partition("*")
        items.append([amount, int(weight) if weight.strip().isdigit() else (weight or 1)])
    return _basket(items)


def _days(value: Any) -> int:
    days = _whole(value, "days")
    if not 1 <= days <= 36_500:
        raise ScenarioError(f"days must be between 1 and 36500, got {days}")
    return days


def _whole(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ScenarioError(f"{what} must be a whole number >= 0, got {value!r}")
    return value


def _probability(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ScenarioError(f"{what} must be a number between 0 and 1, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise ScenarioError(f"{what} must be a number between 0 and 1, got {value!r}") from None
    if not 0 <= number <= 1:
        raise ScenarioError(f"{what} must be between 0 and 1, got {value!r}")
    return number


def _fraction(value: Any, what: str) -> Fraction:
    try:
        rate = parse_rate(value, what)
    except DomainError as exc:
        raise ScenarioError(str(exc)) from None
    if not 0 < rate <= 1:
        raise ScenarioError(f"{what} must be above 0 and at most 1, got {value!r}")
    return rate


def _money(value: Any, what: str) -> int:
    try:
        return parse_money(value, what)
    except DomainError as exc:
        raise ScenarioError(str(exc)) from None


def _arrival(value: Any) -> str:
    if value not in ("poisson", "fixed"):
        raise ScenarioError(f"arrival must be poisson or fixed, got {value!r}")
    return str(value)


def _params(base: Params, raw: Any) -> Params:
    if not isinstance(raw, dict):
        raise ScenarioError("params must be an object of parameter names and values")
    overrides = dict(raw)
    preset = overrides.pop("preset", None)
    if preset is not None:
        if preset not in ("seed", "default"):
            raise ScenarioError(f"params.preset must be seed or default, got {preset!r}")
        base = SEED if preset == "seed" else DEFAULT
    try:
        return base.updated(overrides)
    except DomainError as exc:
        raise ScenarioError(f"params: {exc}") from None


def _basket(raw: Any) -> tuple[tuple[int, int], ...]:
    if not isinstance(raw, list) or not raw:
        raise ScenarioError('basket must be a list such as [["99.00", 5], ["199.00", 3]]')
    items = []
    for item in raw:
        if not isinstance(item, list) or len(item) != 2:
            raise ScenarioError(f"each basket item is [amount, weight], got {item!r}")
        amount = _money(item[0], "basket amount")
        weight = item[1]
        if isinstance(weight, bool) or not isinstance(weight, int) or weight <= 0:
            raise ScenarioError(f"basket weight must be a whole number > 0, got {weight!r}")
        items.append((amount, weight))
    return tuple(items)


def _phase(n: int, raw: Any) -> Phase:
    if not isinstance(raw, dict):
        raise ScenarioError(f"phase {n} must be an object")
    unknown = sorted(set(raw) - _PHASE_FIELDS)
    if unknown:
        raise ScenarioError(f"phase {n}: unknown field {', '.join(unknown)}")
    values: dict[str, Any] = {}
    try:
        if "from" in raw:
            start = _probability(raw["from"], "from")
            if start >= 1:
                raise ScenarioError("from must be below 1 (a fraction of the run)")
            values["start"] = start
        if "from_day" in raw:
            values["start_day"] = max(1, _whole(raw["from_day"], "from_day"))
        if "new_buyers" in raw:
            ramp = raw["new_buyers"]
            if isinstance(ramp, int | float | str) and not isinstance(ramp, bool):
                ramp = [ramp, ramp]
            if not isinstance(ramp, list) or len(ramp) != 2:
                raise ScenarioError("new_buyers must be a number or [start, end]")
            values["new_buyers"] = parse_ramp(f"{ramp[0]}:{ramp[1]}")
        for name in ("repeat_rate", "sell_rate", "convert_rate", "spend_stable_rate"):
            if name in raw:
                values[name] = _probability(raw[name], name)
        for name in ("sell_fraction", "convert_fraction"):
            if name in raw:
                values[name] = _fraction(raw[name], name)
    except ScenarioError as exc:
        raise ScenarioError(f"phase {n}: {exc}") from None
    return Phase(**values)
