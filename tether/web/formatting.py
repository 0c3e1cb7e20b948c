"""How values read on a page: money, ratios, dates, lags, category names."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}
CATEGORIES = {"pipeline": "Pipeline", "best_case": "Best case", "commit": "Commit", "most_likely": "Most likely",
              "omitted": "Omitted", "closed": "Closed", "none": "—"}
UPDATE_NEEDED = {"forecast_amount": "No forecast amount", "close_date": "Close date passed",
                 "forecast_call": "Forecast call due"}


def decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def money(value: Any, currency: str | None = None, *, exact: bool = False) -> str:
    amount = decimal(value)
    if amount is None:
        return "—"
    symbol = SYMBOLS.get(currency or "", "")
    text = f"{abs(amount):,.2f}" if exact else f"{abs(amount):,.0f}"
    sign = "−" if amount < 0 else ""
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text}{' ' + currency if currency else ''}"


def compact_money(value: Any, currency: str | None = None) -> str:
    amount = decimal(value)
    if amount is None:
        return "—"
    symbol = SYMBOLS.get(currency or "", "")
    size = abs(amount)
    for limit, suffix in ((Decimal(1_000_000_000), "B"), (Decimal(1_000_000), "M"), (Decimal(1_000), "k")):
        if size >= limit:
            text = f"{size / limit:.1f}".rstrip("0").rstrip(".") + suffix
            break
    else:
        text = f"{size:,.0f}"
    return ("−" if amount < 0 else "") + (symbol + text if symbol else text)


def ratio(value: Any) -> str:
    amount = decimal(value)
    if amount is None:
        return "—"
    return f"{amount * 100:.1f} %"


def figure(value: Any, unit: str, currency: str | None = None, *, compact: bool = False) -> str:
    if unit == "ratio":
        return ratio(value)
    if unit == "count":
        amount = decimal(value)
        return "—" if amount is None else f"{amount:,.0f}"
    return compact_money(value, currency) if compact else money(value, currency)


def likelihood(value: Any) -> str:
    amount = decimal(value)
    return "—" if amount is None else f"{amount * 100:.0f} %"


def when(value: Any) -> str:
    """An ISO time as ``2025-03-04 14:05 UTC``."""
    if not value:
        return "—"
    try:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def day(value: Any) -> str:
    if not value:
        return "—"
    return str(value)[:10]


def lag(value: dt.timedelta | None) -> str:
    from tether.core.jobs.status import format_lag

    return format_lag(value)


def category(value: Any) -> str:
    return CATEGORIES.get(str(value), str(value).replace("_", " ").capitalize()) if value else "—"


def update_needed(value: str) -> str:
    return UPDATE_NEEDED.get(value, value.replace("_", " "))


def health_class(color: Any, label: Any = None) -> str:
    """A badge class (green, yellow, red, plain) for a scheme's colour (a name or #rrggbb)."""
    for word in (str(label or "").lower(), str(color or "").lower()):
        for name in ("green", "yellow", "amber", "red"):
            if name in word:
                return "yellow" if name == "amber" else name
    text = str(color or "").lstrip("#")
    if len(text) == 6:
        try:
            red, green = int(text[0:2], 16), int(text[2:4], 16)
        except ValueError:
            return "plain"
        if green > red * 1.2:
            return "green"
        return "red" if red > green * 1.6 else "yellow"
    return "plain"


def register(app) -> None:
    filters = {"money": money, "compact_money": compact_money, "ratio": ratio, "figure": figure,
               "likelihood": likelihood, "when": when, "day": day, "lag": lag, "category": category,
               "update_needed": update_needed,
               "health_class": health_class}
    app.jinja_env.filters.update({f"tw_{name}": fn for name, fn in filters.items()})
