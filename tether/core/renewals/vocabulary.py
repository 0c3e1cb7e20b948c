"""The words the Renewal Center counts by: booking families, statuses, forecast categories.

Booking types are the core's (:data:`tether.core.contracts.BOOKING_TYPES`). For figures
they fall into families: a *renewal* is any opportunity renewing a contract, however it
ended (renewal, renewal with upsell or downsell, churn); *upsell* and *downsell* are
standalone bookings; *new_business* and anything unclassified count in no renewal figure.

Forecast categories follow Salesforce's forecast categories (API values and labels both
accepted) and are normalised to ``pipeline, best_case, commit, most_likely, omitted,
closed``; an opportunity without one is ``none``.
"""

from __future__ import annotations

from typing import Any

RENEWAL_BOOKINGS = ("renewal", "renewal_upsell", "renewal_downsell", "churn")
FAMILIES = ("renewal", "upsell", "downsell", "new_business", "other")
STATUSES = ("open", "won", "lost")
CATEGORIES = ("pipeline", "best_case", "commit", "most_likely", "omitted", "closed", "none")

_FAMILY_OF = {booking: "renewal" for booking in RENEWAL_BOOKINGS} | {
    "upsell": "upsell", "downsell": "downsell", "new_business": "new_business"}

_CATEGORY_OF = {
    "pipeline": "pipeline", "bestcase": "best_case", "best case": "best_case", "best_case": "best_case",
    "forecast": "commit", "commit": "commit", "mostlikely": "most_likely", "most likely": "most_likely",
    "most_likely": "most_likely", "omitted": "omitted", "closed": "closed",
}


def family_of(booking_type: str | None) -> str:
    return _FAMILY_OF.get((booking_type or "").strip().lower(), "other")


def status_of(is_closed: Any, is_won: Any) -> str:
    if not is_closed:
        return "open"
    return "won" if is_won else "lost"


def category_of(value: Any) -> str:
    """A forecast category in any Salesforce spelling → its normalised name (``none`` if unset)."""
    if value is None:
        return "none"
    text = str(value).strip().lower()
    if not text:
        return "none"
    return _CATEGORY_OF.get(text, text)


def category_spellings(category: str) -> list[str]:
    """Every lower-case spelling that normalises to ``category`` (compare with ``lower(column)``)."""
    return sorted({spelling for spelling, normal in _CATEGORY_OF.items() if normal == category} | {category})


def bookings_of(family: str) -> tuple[str, ...]:
    """Booking types in ``family`` (``other`` is everything else, including unset)."""
    return tuple(booking for booking, fam in _FAMILY_OF.items() if fam == family)
