"""Default Salesforce ⇄ tether field mappings, and Salesforce-specific value normalising.

Admins override these field by field in the tenant manifest's ``mappings``. Fields
Salesforce derives (IsClosed, IsWon, ForecastCategory) are inbound only; references to
other records (AccountId, ParentId, OwnerId) are inbound only because pushing them needs
the pusher's id translation, not a plain value.
"""

from __future__ import annotations

from typing import Any

from tether.core.contracts import FieldMapping, ObjectMapping

CONNECTOR = "salesforce"


def _f(source: str, target: str, type_: str = "string", direction: str = "both") -> FieldMapping:
    return FieldMapping(source=source, target=target, type=type_, direction=direction)  # type: ignore[arg-type]


ACCOUNT = ObjectMapping(
    connector=CONNECTOR, object_name="Account", entity="company",
    fields=(
        _f("Name", "name"),
        _f("ParentId", "parent_external_id", "reference", "inbound"),
        _f("Industry", "industry", "picklist"),
        _f("Type", "company_type", "picklist"),
        _f("NumberOfEmployees", "employees", "integer"),
    ),
)

OPPORTUNITY = ObjectMapping(
    connector=CONNECTOR, object_name="Opportunity", entity="opportunity",
    fields=(
        _f("Name", "name"),
        _f("AccountId", "account_external_id", "reference", "inbound"),
        _f("StageName", "stage", "picklist"),
        _f("Amount", "amount", "money"),
        _f("CloseDate", "close_date", "date"),
        _f("Type", "opportunity_type", "picklist"),
        _f("RecordTypeId", "record_type", "reference", "inbound"),
        _f("Probability", "probability", "percent"),
        # ForecastCategory is the read-only API value (Forecast = Commit); pushes go to
        # ForecastCategoryName, the writable label picklist.
        _f("ForecastCategory", "forecast_category", "picklist", "inbound"),
        _f("ForecastCategoryName", "forecast_category", "picklist", "outbound"),
        _f("IsClosed", "is_closed", "boolean", "inbound"),
        _f("IsWon", "is_won", "boolean", "inbound"),
        _f("OwnerId", "owner_external_id", "reference", "inbound"),
    ),
)

TASK = ObjectMapping(
    connector=CONNECTOR, object_name="Task", entity="activity",
    fields=(
        _f("Subject", "subject", "string", "outbound"),
        _f("Description", "notes", "text", "outbound"),
        _f("ActivityDate", "occurred_at", "date", "outbound"),
        _f("Type", "type", "picklist", "outbound"),
    ),
)

DEFAULT_MAPPINGS = (ACCOUNT, OPPORTUNITY, TASK)

# ForecastCategory API values and ForecastCategoryName labels → tether's forecast categories.
FORECAST_CATEGORIES = {
    "pipeline": "pipeline", "bestcase": "best_case", "best case": "best_case",
    "forecast": "commit", "commit": "commit", "mostlikely": "most_likely", "most likely": "most_likely",
    "omitted": "omitted", "closed": "closed",
}
# tether forecast category → the ForecastCategoryName label Salesforce accepts on write.
FORECAST_CATEGORY_LABELS = {
    "pipeline": "Pipeline", "best_case": "Best Case", "commit": "Commit", "most_likely": "Most Likely",
    "omitted": "Omitted", "closed": "Closed",
}


def normalise_forecast_category(value: Any) -> str | None:
    """``Forecast`` / ``Commit`` → ``commit``, ``BestCase`` / ``Best Case`` → ``best_case``..."""
    if value is None or value == "":
        return None
    return FORECAST_CATEGORIES.get(str(value).strip().lower(), str(value))


def label_forecast_categories(records: list[dict[str, Any]]) -> None:
    """Records being pushed (Salesforce field names): ``commit`` → ``Commit`` and so on, in place."""
    for record in records:
        value = record.get("ForecastCategoryName")
        if value is not None:
            record["ForecastCategoryName"] = FORECAST_CATEGORY_LABELS.get(normalise_forecast_category(value) or "", value)
