"""Forecast periods: months, fiscal quarters and fiscal years with a configurable start month.

A fiscal year starting in month ``m`` (1-12) is named after the calendar year in which it
**ends** (a year starting February 2025 is FY2026), as Salesforce does by default;
with ``m = 1`` the fiscal and calendar years coincide. Quarters are fiscal quarters:
Q1 starts in the fiscal start month.

Periods are half-open ``[start, end)`` date ranges. Spellings accepted by :func:`parse_period`:
``2025-03`` (month), ``FY2025`` (fiscal year), ``FY2025-Q2`` or ``2025-Q2`` (fiscal
quarter), and relative ones: ``current_month``, ``next_quarter``, ``previous_fiscal_year``,
``current_quarter+2``, ``current_quarter-1`` ... Two spellings joined by ``..`` make a range
from the start of the first to the end of the second (``FY2022..FY2025``, ``2024-01..2024-06``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Iterator

from ..errors import DomainError

GRAINS = ("month", "quarter", "fiscal_year")
RANGE = "range"
_GRAIN_MONTHS = {"month": 1, "quarter": 3, "fiscal_year": 12}

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_FISCAL_YEAR = re.compile(r"^FY(\d{4})$", re.IGNORECASE)
_QUARTER = re.compile(r"^(?:FY)?(\d{4})-?Q([1-4])$", re.IGNORECASE)
_RELATIVE = re.compile(r"^(previous|current|next)_(month|quarter|fiscal_year)(?:([+-])(\d{1,3}))?$")

PERIOD_HELP = ("use a month (2025-03), a fiscal quarter (FY2025-Q2), a fiscal year (FY2025), a relative "
               "period such as current_quarter, next_quarter, previous_month or current_quarter+2, or a range "
               "of two of them joined by '..' (FY2024..FY2025)")


def month_index(day: dt.date) -> int:
    """Months since year 0: a total order that makes month arithmetic integer arithmetic."""
    return day.year * 12 + day.month - 1


def month_start(index: int) -> dt.date:
    return dt.date(index // 12, index % 12 + 1, 1)


@dataclasses.dataclass(frozen=True, order=True)
class Period:
    """A half-open range of whole months with its grain and label."""

    first_month: int          # month_index of the first month
    months: int               # length in months
    grain: str
    label: str

    @property
    def start(self) -> dt.date:
        return month_start(self.first_month)

    @property
    def end(self) -> dt.date:
        """The first day after the period."""
        return month_start(self.first_month + self.months)

    @property
    def last_day(self) -> dt.date:
        return self.end - dt.timedelta(days=1)

    def contains(self, day: dt.date) -> bool:
        return self.start <= day < self.end

    def month_indexes(self) -> range:
        return range(self.first_month, self.first_month + self.months)

    def as_dict(self) -> dict:
        return {"label": self.label, "grain": self.grain, "start": self.start.isoformat(),
                "end": self.last_day.isoformat()}


@dataclasses.dataclass(frozen=True)
class FiscalCalendar:
    """Where fiscal years start; everything about periods goes through it."""

    start_month: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.start_month <= 12:
            raise DomainError(f"fiscal year start month {self.start_month} is not between 1 and 12",
                              field="fiscal_year_start_month")

    # -- naming ----------------------------------------------------------------------

    def fiscal_year_of(self, day: dt.date) -> int:
        """The fiscal year ``day`` falls in, named by the calendar year it ends in."""
        if self.start_month == 1:
            return day.year
        return day.year + 1 if day.month >= self.start_month else day.year

    def fiscal_year_start(self, fiscal_year: int) -> int:
        """month_index of the first month of ``fiscal_year``."""
        year = fiscal_year if self.start_month == 1 else fiscal_year - 1
        return year * 12 + self.start_month - 1

    # -- periods ---------------------------------------------------------------------

    def month(self, index: int) -> Period:
        start = month_start(index)
        return Period(index, 1, "month", f"{start:%Y-%m}")

    def quarter(self, fiscal_year: int, quarter: int) -> Period:
        first = self.fiscal_year_start(fiscal_year) + 3 * (quarter - 1)
        return Period(first, 3, "quarter", f"FY{fiscal_year}-Q{quarter}")

    def fiscal_year(self, fiscal_year: int) -> Period:
        return Period(self.fiscal_year_start(fiscal_year), 12, "fiscal_year", f"FY{fiscal_year}")

    def containing(self, day: dt.date, grain: str) -> Period:
        """The period of ``grain`` that contains ``day``."""
        _check_grain(grain)
        if grain == "month":
            return self.month(month_index(day))
        fiscal_year = self.fiscal_year_of(day)
        if grain == "fiscal_year":
            return self.fiscal_year(fiscal_year)
        offset = month_index(day) - self.fiscal_year_start(fiscal_year)
        return self.quarter(fiscal_year, offset // 3 + 1)

    def shifted(self, period: Period, steps: int) -> Period:
        """The period ``steps`` periods of the same grain after (or before) ``period``."""
        if steps == 0:
            return period
        if period.grain == RANGE:
            first = period.first_month + steps * period.months
            return Period(first, period.months, RANGE, f"{month_start(first):%Y-%m}..{month_start(first + period.months - 1):%Y-%m}")
        return self.containing(month_start(period.first_month + steps * period.months), period.grain)

    def series(self, period: Period, before: int = 0, after: int = 0) -> list[Period]:
        """``before`` periods, ``period`` itself and ``after`` periods, in time order."""
        return [self.shifted(period, step) for step in range(-before, after + 1)]

    def between(self, first_month: int, last_month: int, grain: str) -> Iterator[Period]:
        """Every period of ``grain`` overlapping the months ``first_month..last_month``."""
        if last_month < first_month:
            return
        period = self.containing(month_start(first_month), grain)
        while period.first_month <= last_month:
            yield period
            period = self.shifted(period, 1)

    def parse(self, text: str, today: dt.date) -> Period:
        return parse_period(text, self, today)


def _check_grain(grain: str) -> None:
    if grain not in GRAINS:
        raise DomainError(f"unknown period grain {grain!r}", field="grain", hint=f"use one of {', '.join(GRAINS)}")


def parse_period(text: str, calendar: FiscalCalendar, today: dt.date) -> Period:
    """Read a period spelling (see the module docstring); ``today`` anchors relative ones."""
    value = (text or "").strip()
    if ".." in value:
        first_text, _, last_text = value.partition("..")
        first, last = parse_period(first_text, calendar, today), parse_period(last_text, calendar, today)
        if last.first_month + last.months <= first.first_month:
            raise DomainError(f"period {text!r} ends before it starts", field="period", hint=PERIOD_HELP)
        months = last.first_month + last.months - first.first_month
        return Period(first.first_month, months, RANGE, f"{first.label}..{last.label}")
    match = _RELATIVE.match(value.lower())
    if match:
        which, grain, sign, steps = match.groups()
        offset = {"previous": -1, "current": 0, "next": 1}[which]
        if steps:
            offset += int(steps) if sign == "+" else -int(steps)
        return calendar.shifted(calendar.containing(today, grain), offset)
    match = _MONTH.match(value)
    if match:
        year, month = int(match.group(1)), int(match.group(2))
        if not 1 <= month <= 12:
            raise DomainError(f"period {text!r}: month {month} does not exist", field="period", hint=PERIOD_HELP)
        return calendar.month(year * 12 + month - 1)
    match = _FISCAL_YEAR.match(value)
    if match:
        return calendar.fiscal_year(int(match.group(1)))
    match = _QUARTER.match(value)
    if match:
        return calendar.quarter(int(match.group(1)), int(match.group(2)))
    raise DomainError(f"period {text!r} is not understood", field="period", hint=PERIOD_HELP)
