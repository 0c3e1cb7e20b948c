"""The Renewal Center configuration an admin sets: scenarios, risk thresholds, model limits.

Stored per tenant in ``renewal_settings``; a tenant that never configured anything gets
the defaults below. Currency, ARR/MRR basis and the fiscal-year start come from the
tenant manifest's ``settings``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING, Any, Mapping

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import InvalidFields
from .models import RenewalSettings
from .periods import FiscalCalendar
from .vocabulary import CATEGORIES

if TYPE_CHECKING:
    from ..plugins import TenantContext

SCENARIOS = ("high", "medium", "low")

DEFAULT_SCENARIOS = {
    "high": ["closed", "commit", "most_likely", "best_case", "pipeline"],
    "medium": ["closed", "commit", "most_likely", "best_case"],
    "low": ["closed", "commit"],
}


@dataclasses.dataclass(frozen=True)
class RenewalConfig:
    # Forecast categories each scenario counts (Gainsight "Forecast Scenarios").
    scenarios: Mapping[str, tuple[str, ...]] = dataclasses.field(
        default_factory=lambda: {k: tuple(v) for k, v in DEFAULT_SCENARIOS.items()})
    # ARR-cohort metrics: a renewal due within this many months of a period's start is
    # a contract in force at that start.
    contract_term_months: int = 12
    # Risk rules
    stale_forecast_days: int = 30
    forecast_horizon_days: int = 180
    no_activity_days: int = 30
    red_health_below: float = 50.0
    low_likelihood_below: float = 0.5
    # Risk model
    min_training_rows: int = 40
    min_per_class: int = 10
    max_training_rows: int = 200_000
    retrain_cron: str = "0 3 * * 0"
    # From the tenant's settings
    currency: str = "USD"
    amount_basis: str = "ARR"
    fiscal_year_start_month: int = 1

    @property
    def calendar(self) -> FiscalCalendar:
        return FiscalCalendar(self.fiscal_year_start_month)

    def admin_dict(self) -> dict[str, Any]:
        """The admin-editable part, as stored."""
        data = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)
                if field.name not in TENANT_SETTINGS}
        data["scenarios"] = {k: list(v) for k, v in self.scenarios.items()}
        return data


TENANT_SETTINGS = ("currency", "amount_basis", "fiscal_year_start_month")


def _cron(value: str) -> None:
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(value)
    except ValueError as exc:
        raise ValidationError(f"{value!r} is not a 5-field cron expression: {exc}") from exc


class ScenariosSchema(Schema):
    high = fields.List(fields.String(validate=validate.OneOf(CATEGORIES)), required=True)
    medium = fields.List(fields.String(validate=validate.OneOf(CATEGORIES)), required=True)
    low = fields.List(fields.String(validate=validate.OneOf(CATEGORIES)), required=True)


class RenewalConfigSchema(Schema):
    """What an admin may change; every field optional on update (the rest is kept)."""

    scenarios = fields.Nested(ScenariosSchema)
    contract_term_months = fields.Integer(validate=validate.Range(1, 60))
    stale_forecast_days = fields.Integer(validate=validate.Range(1, 3650))
    forecast_horizon_days = fields.Integer(validate=validate.Range(1, 3650))
    no_activity_days = fields.Integer(validate=validate.Range(1, 3650))
    red_health_below = fields.Float(validate=validate.Range(0, 100))
    low_likelihood_below = fields.Float(validate=validate.Range(0, 1))
    min_training_rows = fields.Integer(validate=validate.Range(10, 10_000_000))
    min_per_class = fields.Integer(validate=validate.Range(2, 1_000_000))
    max_training_rows = fields.Integer(validate=validate.Range(100, 10_000_000))
    retrain_cron = fields.String(validate=_cron)

    @validates_schema(skip_on_field_errors=False)
    def _scenarios_nest(self, data, **kwargs):
        scenarios = data.get("scenarios")
        if scenarios and not (set(scenarios["low"]) <= set(scenarios["medium"]) <= set(scenarios["high"])):
            raise ValidationError("each scenario must include the categories of the one below it "
                                  "(low ⊆ medium ⊆ high)", "scenarios")


def config_from(stored: Mapping[str, Any] | None, tenant_settings: Mapping[str, Any] | None) -> RenewalConfig:
    values: dict[str, Any] = dict(stored or {})
    if "scenarios" in values:
        values["scenarios"] = {k: tuple(v) for k, v in values["scenarios"].items()}
    known = {field.name for field in dataclasses.fields(RenewalConfig)}
    values = {k: v for k, v in values.items() if k in known and k not in TENANT_SETTINGS}
    settings = tenant_settings or {}
    for key in TENANT_SETTINGS:
        if settings.get(key) is not None:
            values[key] = settings[key]
    return RenewalConfig(**values)


def load_config(tenant: "TenantContext", session: Session | None = None) -> RenewalConfig:
    """The tenant's configuration (defaults where the admin set nothing)."""
    if session is None:
        with tenant.session() as own:
            return load_config(tenant, own)
    row = session.scalar(select(RenewalSettings))
    return config_from(row.config if row else None, tenant.settings)


def update_config(tenant: "TenantContext", changes: Mapping[str, Any], *, by: str) -> RenewalConfig:
    """Validate and store an admin's change; unspecified fields keep their value."""
    try:
        validated = RenewalConfigSchema().load(dict(changes))
    except ValidationError as exc:
        raise InvalidFields("renewal settings are invalid", flatten_messages(exc.messages),
                            hint="fix the listed fields; nothing was changed") from exc
    with tenant.transaction() as session:
        row = session.scalar(select(RenewalSettings))
        current = config_from(row.config if row else None, tenant.settings).admin_dict()
        current.update(validated)
        if row is None:
            session.add(RenewalSettings(config=current, updated_by=by))
        else:
            row.config = current
            row.updated_by = by
        return config_from(current, tenant.settings)


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages → ``{"scenarios.high.0": [...]}``."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, (Mapping, list)) and not all(isinstance(v, str) for v in value):
                flat.update(flatten_messages(value, path))
            else:
                flat[path] = [value] if isinstance(value, str) else list(value)
    elif isinstance(messages, list):
        flat[prefix or "(input)"] = [str(m) for m in messages]
    else:
        flat[prefix or "(input)"] = [str(messages)]
    return flat


def today_utc() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()
