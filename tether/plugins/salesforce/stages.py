"""Opportunity stages (``OpportunityStage``): default probability, forecast category, closed/won.

Salesforce sets Probability, ForecastCategory(Name), IsClosed and IsWon from the stage
when a stage changes, and lets users override probability and forecast category. The
record's own values win; the stage table fills what the record leaves empty, and
forecast categories are normalised to tether's vocabulary (``Forecast`` is Commit).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Mapping

from .mapping import normalise_forecast_category

STAGE_FIELDS = ("ApiName", "MasterLabel", "DefaultProbability", "ForecastCategory", "ForecastCategoryName",
                "IsClosed", "IsWon", "IsActive", "SortOrder")


@dataclasses.dataclass(frozen=True)
class Stage:
    api_name: str
    label: str
    probability: float | None
    forecast_category: str | None
    is_closed: bool
    is_won: bool
    is_active: bool = True
    sort_order: int | None = None


def parse_stages(records: Iterable[Mapping[str, Any]]) -> dict[str, Stage]:
    stages = {}
    for record in records:
        api_name = record.get("ApiName") or record.get("MasterLabel")
        if not api_name:
            continue
        probability = record.get("DefaultProbability")
        stages[api_name] = Stage(
            api_name=api_name, label=record.get("MasterLabel") or api_name,
            probability=float(probability) if probability not in (None, "") else None,
            forecast_category=normalise_forecast_category(record.get("ForecastCategory")
                                                          or record.get("ForecastCategoryName")),
            is_closed=_bool(record.get("IsClosed")), is_won=_bool(record.get("IsWon")),
            is_active=_bool(record.get("IsActive", True)),
            sort_order=int(record["SortOrder"]) if record.get("SortOrder") not in (None, "") else None,
        )
    return stages


def _bool(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def fill_from_stages(records: list[dict[str, Any]], stages: Mapping[str, Stage]) -> None:
    """Fill stage-derived fields a raw Opportunity record leaves empty, in place.

    Only fields present in the record (i.e. requested) are filled; values the record
    carries (a user's override) are kept.
    """
    for record in records:
        stage = stages.get(record.get("StageName") or "")
        if stage is None:
            continue
        if "Probability" in record and record["Probability"] in (None, ""):
            record["Probability"] = stage.probability
        if "ForecastCategory" in record and record["ForecastCategory"] in (None, ""):
            record["ForecastCategory"] = stage.forecast_category
        for field, value in (("IsClosed", stage.is_closed), ("IsWon", stage.is_won)):
            if field in record and record[field] in (None, ""):
                record[field] = value


def normalise_forecast_categories(records: list[dict[str, Any]]) -> None:
    """Mapped opportunity records: ``Forecast``/``Commit`` → ``commit`` and so on, in place."""
    for record in records:
        if record.get("forecast_category") is not None:
            record["forecast_category"] = normalise_forecast_category(record["forecast_category"])
