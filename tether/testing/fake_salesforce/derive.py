"""Fields Salesforce computes on save: stage-driven Opportunity fields, names, activity links.

Each deriver gets the full merged record (canonical names, stored values), the set of
fields the caller wrote, and the previous values (None on create), and edits the record
in place — the same place Salesforce's save order applies these before triggers.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from .standard_objects import FORECAST_CATEGORY

Deriver = Callable[[Any, dict[str, Any], set[str], "Mapping[str, Any] | None", int], None]


def fiscal_of(close_date: str | None) -> tuple[int | None, int | None, str | None]:
    """(FiscalYear, FiscalQuarter, Fiscal) for a calendar fiscal year starting in January."""
    if not close_date:
        return None, None, None
    year = int(close_date[:4])
    quarter = (int(close_date[5:7]) - 1) // 3 + 1
    return year, quarter, f"{year} {quarter}"


def derive_opportunity(store: Any, record: dict[str, Any], written: set[str], old: Mapping[str, Any] | None,
                       now_ms: int) -> None:
    """StageName drives IsClosed/IsWon always, and Probability/ForecastCategoryName unless also written."""
    stage_changed = old is None or record.get("StageName") != old.get("StageName")
    stage = store.stages.get(record.get("StageName"))
    if stage is not None:
        record["IsClosed"] = stage["IsClosed"]
        record["IsWon"] = stage["IsWon"]
        if stage_changed and "Probability" not in written:
            record["Probability"] = stage["DefaultProbability"]
        if stage_changed and "ForecastCategoryName" not in written:
            record["ForecastCategoryName"] = stage["ForecastCategoryName"]
    elif old is None:
        record["IsClosed"] = False
        record["IsWon"] = False
    if stage_changed:
        from .clock import format_ms
        record["LastStageChangeDate"] = format_ms(now_ms)
    record["ForecastCategory"] = FORECAST_CATEGORY.get(record.get("ForecastCategoryName"))
    amount, probability = record.get("Amount"), record.get("Probability")
    record["ExpectedRevenue"] = None if amount is None or probability is None else round(amount * probability / 100, 2)
    record["FiscalYear"], record["FiscalQuarter"], record["Fiscal"] = fiscal_of(record.get("CloseDate"))
    if record.get("HasOpportunityLineItem") is None:
        record["HasOpportunityLineItem"] = False
    if record.get("IsPrivate") is None:
        record["IsPrivate"] = False


def derive_full_name(store: Any, record: dict[str, Any], written: set[str], old: Mapping[str, Any] | None,
                     now_ms: int) -> None:
    """Contact/User ``Name`` = FirstName + LastName."""
    record["Name"] = " ".join(part for part in (record.get("FirstName"), record.get("LastName")) if part)


def _account_of(store: Any, what_id: str | None) -> str | None:
    if not what_id:
        return None
    if what_id.startswith("001"):
        return what_id
    located = store.locate(what_id)
    if located is None:
        return None
    table, row = located
    return table.columns["AccountId"][row] if "AccountId" in table.columns else None


def derive_task(store: Any, record: dict[str, Any], written: set[str], old: Mapping[str, Any] | None,
                now_ms: int) -> None:
    """Task ``IsClosed`` from Status, ``AccountId`` from WhatId."""
    record["IsClosed"] = record.get("Status") == "Completed"
    record["AccountId"] = _account_of(store, record.get("WhatId"))


def derive_event(store: Any, record: dict[str, Any], written: set[str], old: Mapping[str, Any] | None,
                 now_ms: int) -> None:
    """Event start/end/date consistency and ``AccountId`` from WhatId."""
    from .clock import format_ms, parse_datetime_ms
    start = record.get("StartDateTime") or record.get("ActivityDateTime")
    if start:
        record["StartDateTime"] = record["ActivityDateTime"] = start
        record["ActivityDate"] = start[:10]
        if record.get("DurationInMinutes") is not None and ("EndDateTime" not in written or not record.get("EndDateTime")):
            record["EndDateTime"] = format_ms(parse_datetime_ms(start) + int(record["DurationInMinutes"]) * 60_000)
        elif record.get("EndDateTime") and record.get("DurationInMinutes") is None:
            record["DurationInMinutes"] = (parse_datetime_ms(record["EndDateTime"]) - parse_datetime_ms(start)) // 60_000
    record["AccountId"] = _account_of(store, record.get("WhatId"))


DERIVERS: dict[str, Deriver] = {
    "Opportunity": derive_opportunity,
    "Contact": derive_full_name,
    "User": derive_full_name,
    "Task": derive_task,
    "Event": derive_event,
}

# Changes to these Opportunity fields add an OpportunityHistory row, as Salesforce does.
HISTORY_TRACKED = ("StageName", "Amount", "CloseDate", "Probability", "ForecastCategoryName")


def history_row(record: Mapping[str, Any], old: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The OpportunityHistory values for a save, or None when nothing tracked changed."""
    if old is not None and all(record.get(f) == old.get(f) for f in HISTORY_TRACKED):
        return None
    return {
        "OpportunityId": record["Id"], "StageName": record.get("StageName"), "Amount": record.get("Amount"),
        "ExpectedRevenue": record.get("ExpectedRevenue"), "CloseDate": record.get("CloseDate"),
        "Probability": record.get("Probability"), "ForecastCategory": record.get("ForecastCategory"),
        "PrevAmount": old.get("Amount") if old else None, "PrevCloseDate": old.get("CloseDate") if old else None,
    }
