"""The `spot_checks` section of the compliance rules document: how often managers spot-check their team's phones.

The acceptable-use paper asks staff "to make the phone available for manager spot check at any given time". A
manager may start a spot check for any phone; besides, they draw a random sample of their team's phones once a
period, at the rate set here, so that every phone is looked at now and then and nobody chooses whom.

    spot_checks:
      sample_rate_percent: 10    # share of the team's enrolled phones drawn per period, rounded up; 0 = no sampling
      period: quarter            # month, quarter or year: one sample per team per period
      bring_within_days: 14      # the holder is asked to bring the phone within this many days

The section is optional; a document without it gets these defaults. Unknown keys and wrong values are refused,
naming the field, like the rest of the document.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

PERIODS: tuple[str, ...] = ("month", "quarter", "year")
_KEYS = {"sample_rate_percent", "period", "bring_within_days"}
MAX_BRING_WITHIN_DAYS = 365


@dataclass(frozen=True)
class SpotCheckRules:
    sample_rate_percent: int = 10
    period: str = "quarter"
    bring_within_days: int = 14

    def sample_size(self, population: int) -> int:
        """How many of `population` phones one sample draws: the rate, rounded up (10 % of 3 phones is 1)."""
        if population <= 0 or self.sample_rate_percent <= 0:
            return 0
        return min(population, math.ceil(population * self.sample_rate_percent / 100))

    def period_of(self, day: date) -> str:
        """The label of the period `day` falls in: "2026", "2026-Q4" or "2026-11"."""
        if self.period == "year":
            return f"{day.year}"
        if self.period == "month":
            return f"{day.year}-{day.month:02d}"
        return quarter_of(day)


def quarter_of(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def parse_spot_checks(raw: Any, errors: dict[str, list[str]]) -> SpotCheckRules:
    """The section with defaults filled in; problems are added to `errors` as "spot_checks.<field>"."""
    if raw is None:
        return SpotCheckRules()
    if not isinstance(raw, dict):
        errors.setdefault("spot_checks", []).append("must be a mapping of sample_rate_percent, period, bring_within_days")
        return SpotCheckRules()
    for key in sorted(set(raw) - _KEYS, key=str):
        errors.setdefault(f"spot_checks.{key}", []).append("unknown key")
    defaults = SpotCheckRules()
    rate = raw.get("sample_rate_percent", defaults.sample_rate_percent)
    if not _whole(rate) or not 0 <= rate <= 100:
        errors.setdefault("spot_checks.sample_rate_percent", []).append("must be a whole number from 0 to 100")
        rate = defaults.sample_rate_percent
    period = raw.get("period", defaults.period)
    if period not in PERIODS:
        errors.setdefault("spot_checks.period", []).append(f"must be one of {', '.join(PERIODS)}")
        period = defaults.period
    days = raw.get("bring_within_days", defaults.bring_within_days)
    if not _whole(days) or not 1 <= days <= MAX_BRING_WITHIN_DAYS:
        errors.setdefault("spot_checks.bring_within_days", []).append(
            f"must be a whole number of days from 1 to {MAX_BRING_WITHIN_DAYS}")
        days = defaults.bring_within_days
    return SpotCheckRules(sample_rate_percent=rate, period=period, bring_within_days=days)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
