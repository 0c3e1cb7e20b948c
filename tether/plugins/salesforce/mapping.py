"""Default Salesforce ⇄ tether field mappings, and Salesforce-specific value normalising.

Admins override these field by field in the tenant manifest's ``mappings``. Fields
Salesforce derives (IsClosed, IsWon, ForecastCategory) are inbound only; references to
other records (AccountId, ParentId, OwnerId, WhatId) are inbound only because pushing them
needs the pusher's id translation, not a plain value.

Tasks, Events and OpportunityHistory map to Timeline's ``activity`` entity: they are
synced inbound when the tenant enables the Timeline plugin (which applies activities),
and Tasks carry activities logged in tether back to Salesforce either way.
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
        _f("Subject", "subject"),
        _f("Description", "notes", "text"),
        _f("ActivityDate", "occurred_at", "date"),
        _f("Type", "type", "picklist"),
        _f("TaskSubtype", "subtype", "picklist", "inbound"),
        # IsClosed is what Status means (an org may have several closed statuses): an open
        # task is planned, not yet an activity.
        _f("IsClosed", "done", "boolean", "inbound"),
        _f("WhatId", "related_external_id", "reference", "inbound"),
        _f("AccountId", "company_external_id", "reference", "inbound"),
        _f("OwnerId", "author", "reference", "inbound"),
        _f("CreatedDate", "logged_at", "datetime", "inbound"),
    ),
)

EVENT = ObjectMapping(
    connector=CONNECTOR, object_name="Event", entity="activity",
    fields=(
        _f("Subject", "subject", "string", "inbound"),
        _f("Description", "notes", "text", "inbound"),
        _f("StartDateTime", "occurred_at", "datetime", "inbound"),
        _f("DurationInMinutes", "duration_minutes", "integer", "inbound"),
        _f("Type", "type", "picklist", "inbound"),
        _f("WhatId", "related_external_id", "reference", "inbound"),
        _f("AccountId", "company_external_id", "reference", "inbound"),
        _f("OwnerId", "author", "reference", "inbound"),
        _f("CreatedDate", "logged_at", "datetime", "inbound"),
    ),
)

# One row per save that changed stage, amount, probability or close date; the inbound
# transform turns it into a "Stage changed to X" milestone (activities.py), and Timeline
# leaves out one that repeats the opportunity's previous milestone.
OPPORTUNITY_HISTORY = ObjectMapping(
    connector=CONNECTOR, object_name="OpportunityHistory", entity="activity",
    fields=(
        _f("OpportunityId", "opportunity_external_id", "reference", "inbound"),
        _f("StageName", "subject", "picklist", "inbound"),
        _f("CreatedDate", "occurred_at", "datetime", "inbound"),
        _f("CreatedById", "author", "reference", "inbound"),
    ),
)

DEFAULT_MAPPINGS = (ACCOUNT, OPPORTUNITY, TASK, EVENT, OPPORTUNITY_HISTORY)

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
