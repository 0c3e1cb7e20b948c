"""Analyze views: saved widgets with global and widget filters, shared or private.

Who sees what: a private view only its owner; a shared view everyone in the tenant,
Viewer+Analytics users included (who see shared views only and can neither create, edit
nor share). Owners edit and delete their views; admins may also edit and delete any
shared view (Gainsight's admins manage the predefined views).

Evaluating a view computes every widget: a KPI (one figure for the period), a breakdown
(the figure per group of a dimension, and the total), or a time series (the figure over
periods around the view's). A viewer may add filters when looking; they narrow every
widget and are never saved. Every figure names the drill-down that lists its rows.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from ..errors import DomainError, InvalidFields, NotFound
from .analytics import Selection, build_rollup
from .catalog import Filter, dimension_field, parse_filters
from .config import RenewalConfig, load_config, today_utc
from .drilldown import Drill
from .measures import EVERY_GROUP, MEASURES, measure
from .models import SavedView, ViewWidget
from .periods import PERIOD_HELP, GRAINS, Period

if TYPE_CHECKING:
    from ..plugins import TenantContext

KINDS = ("kpi", "breakdown", "timeseries")
MAX_WIDGETS = 24
MAX_SERIES = 24


@dataclasses.dataclass(frozen=True)
class Viewer:
    username: str
    role: str

    @property
    def shared_only(self) -> bool:
        return self.role == "viewer_analytics"


# -- validation --------------------------------------------------------------------------


def _check_period(text: str | None, config: RenewalConfig, where: str, errors: dict[str, list[str]]) -> None:
    if text is None:
        return
    try:
        config.calendar.parse(text, today_utc())
    except DomainError:
        errors.setdefault(where, []).append(f"{text!r} is not a period; {PERIOD_HELP}")


def validate_view(data: Mapping[str, Any], config: RenewalConfig, *, partial: bool = False) -> dict[str, Any]:
    """Check a view (or, with ``partial``, the fields of an update); raise every problem at once."""
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    if not partial or "name" in data:
        name = (data.get("name") or "").strip()
        if not 1 <= len(name) <= 120:
            errors["name"] = ["must be 1 to 120 characters"]
        clean["name"] = name
    if "description" in data:
        clean["description"] = data.get("description")
    if "shared" in data:
        clean["shared"] = bool(data["shared"])
    if not partial or "period" in data:
        clean["period"] = data.get("period") or "current_quarter"
        _check_period(clean["period"], config, "period", errors)
    if not partial or "filters" in data:
        try:
            clean["filters"] = [f.as_dict() for f in parse_filters(data.get("filters") or [])]
        except InvalidFields as exc:
            errors.update(exc.errors)
    if not partial or "widgets" in data:
        widgets = data.get("widgets") or []
        if len(widgets) > MAX_WIDGETS:
            errors["widgets"] = [f"at most {MAX_WIDGETS} widgets"]
        clean["widgets"] = [_validate_widget(w, config, f"widgets[{i}]", errors) for i, w in enumerate(widgets)]
    if errors:
        raise InvalidFields("view refused", errors, hint="fix the listed fields; nothing was saved")
    return clean


def _validate_widget(data: Mapping[str, Any], config: RenewalConfig, where: str,
                     errors: dict[str, list[str]]) -> dict[str, Any]:
    kind = data.get("kind")
    if kind not in KINDS:
        errors.setdefault(f"{where}.kind", []).append(f"use one of {', '.join(KINDS)}")
    key = data.get("measure")
    if key not in MEASURES:
        errors.setdefault(f"{where}.measure", []).append(f"{key!r} is not a measure; see GET .../renewals/measures")
    dimension = data.get("dimension")
    if kind == "breakdown":
        if not dimension:
            errors.setdefault(f"{where}.dimension", []).append("a breakdown needs a dimension")
        else:
            try:
                dimension_field(dimension, where=f"{where}.dimension")
            except InvalidFields as exc:
                errors.update(exc.errors)
    elif dimension:
        errors.setdefault(f"{where}.dimension", []).append(f"only breakdown widgets have a dimension, not {kind}")
    grain = data.get("grain")
    if grain is not None and grain not in GRAINS:
        errors.setdefault(f"{where}.grain", []).append(f"use one of {', '.join(GRAINS)}")
    before, after = data.get("periods_before", 0) or 0, data.get("periods_after", 0) or 0
    if kind == "timeseries":
        if not isinstance(before, int) or not isinstance(after, int) or before < 0 or after < 0 \
                or before + after + 1 > MAX_SERIES:
            errors.setdefault(f"{where}.periods_before", []).append(
                f"before and after are non-negative and a series has at most {MAX_SERIES} periods")
    _check_period(data.get("period"), config, f"{where}.period", errors)
    title = (data.get("title") or (MEASURES[key].label if key in MEASURES else "")).strip()
    if not 1 <= len(title) <= 120 and (key in MEASURES or data.get("title")):
        errors.setdefault(f"{where}.title", []).append("must be 1 to 120 characters")
    filters: list[dict[str, Any]] = []
    try:
        filters = [f.as_dict() for f in parse_filters(data.get("filters") or [], where=f"{where}.filters")]
    except InvalidFields as exc:
        errors.update(exc.errors)
    return {"title": title, "kind": kind, "measure": key, "dimension": dimension or None,
            "period": data.get("period"), "grain": grain, "periods_before": before if kind == "timeseries" else 0,
            "periods_after": after if kind == "timeseries" else 0, "filters": filters}


# -- access ------------------------------------------------------------------------------


def _visible(viewer: Viewer):
    if viewer.shared_only:
        return SavedView.shared.is_(True)
    return or_(SavedView.shared.is_(True), SavedView.owner == viewer.username)


def _load(session: Session, view_id: int, viewer: Viewer) -> SavedView:
    view = session.scalar(select(SavedView).options(selectinload(SavedView.widgets))
                          .where(SavedView.id == view_id, _visible(viewer)))
    if view is None:
        raise NotFound(f"no view {view_id} visible to {viewer.username!r}")
    return view


def _check_can_edit(view: SavedView, viewer: Viewer) -> None:
    if view.owner == viewer.username or (viewer.role == "admin" and view.shared):
        return
    raise DomainError(f"view {view.id} belongs to {view.owner!r}; only its owner (or an admin, once shared) "
                      "may change it", field="view", hint="copy it into a view of your own")


# -- CRUD --------------------------------------------------------------------------------


def view_dict(view: SavedView) -> dict[str, Any]:
    return {"id": view.id, "name": view.name, "description": view.description, "owner": view.owner,
            "shared": view.shared, "period": view.period, "filters": view.filters or [],
            "created_at": view.created_at, "updated_at": view.updated_at,
            "widgets": [widget_dict(w) for w in view.widgets]}


def widget_dict(widget: ViewWidget) -> dict[str, Any]:
    return {"id": widget.id, "position": widget.position, "title": widget.title, "kind": widget.kind,
            "measure": widget.measure, "dimension": widget.dimension, "period": widget.period, "grain": widget.grain,
            "periods_before": widget.periods_before, "periods_after": widget.periods_after,
            "filters": widget.filters or []}


def list_views(tenant: "TenantContext", viewer: Viewer) -> list[dict[str, Any]]:
    with tenant.session() as session:
        views = session.scalars(select(SavedView).options(selectinload(SavedView.widgets))
                                .where(_visible(viewer)).order_by(SavedView.name, SavedView.id))
        return [view_dict(view) for view in views]


def get_view(tenant: "TenantContext", view_id: int, viewer: Viewer) -> dict[str, Any]:
    with tenant.session() as session:
        return view_dict(_load(session, view_id, viewer))


def _set_widgets(view: SavedView, widgets: Sequence[Mapping[str, Any]]) -> None:
    view.widgets.clear()
    for position, widget in enumerate(widgets):
        view.widgets.append(ViewWidget(position=position, **widget))


def create_view(tenant: "TenantContext", data: Mapping[str, Any], viewer: Viewer) -> dict[str, Any]:
    config = load_config(tenant)
    clean = validate_view(data, config)
    widgets = clean.pop("widgets")
    with tenant.transaction() as session:
        view = SavedView(owner=viewer.username, shared=clean.pop("shared", False), **clean)
        _set_widgets(view, widgets)
        session.add(view)
        session.flush()
        return view_dict(view)


def update_view(tenant: "TenantContext", view_id: int, data: Mapping[str, Any], viewer: Viewer) -> dict[str, Any]:
    config = load_config(tenant)
    clean = validate_view(data, config, partial=True)
    with tenant.transaction() as session:
        view = _load(session, view_id, viewer)
        _check_can_edit(view, viewer)
        if "shared" in clean and clean["shared"] != view.shared and view.owner != viewer.username:
            raise DomainError("only a view's owner shares or unshares it", field="shared")
        widgets = clean.pop("widgets", None)
        for key, value in clean.items():
            setattr(view, key, value)
        if widgets is not None:
            _set_widgets(view, widgets)
        session.flush()
        return view_dict(view)


def delete_view(tenant: "TenantContext", view_id: int, viewer: Viewer) -> None:
    with tenant.transaction() as session:
        view = _load(session, view_id, viewer)
        _check_can_edit(view, viewer)
        session.delete(view)


# -- evaluation --------------------------------------------------------------------------


def _filters_of(view: SavedView, widget: ViewWidget, extra: Sequence[Filter]) -> tuple[Filter, ...]:
    return tuple(parse_filters(view.filters or [])) + tuple(parse_filters(widget.filters or [])) + tuple(extra)


def _widget_periods(widget: ViewWidget, view: SavedView, config: RenewalConfig, today: dt.date,
                    override: str | None) -> list[Period]:
    anchor = config.calendar.parse(widget.period or override or view.period, today)
    if widget.kind != "timeseries":
        return [anchor]
    if widget.grain and widget.grain != anchor.grain:
        anchor = config.calendar.containing(anchor.start, widget.grain)
    return config.calendar.series(anchor, widget.periods_before, widget.periods_after)


def _figure(rollup, key: str, period: Period, group: Any) -> dict[str, Any]:
    figure = rollup.figure(key, period, group)
    return {"value": figure["value"], **({"note": figure["note"]} if "note" in figure else {})}


def evaluate_widget(session: Session, tenant_id: str, config: RenewalConfig, view: SavedView, widget: ViewWidget,
                    extra: Sequence[Filter], today: dt.date, period_override: str | None) -> dict[str, Any]:
    filters = _filters_of(view, widget, extra)
    dimension = dimension_field(widget.dimension) if widget.kind == "breakdown" and widget.dimension else None
    periods = _widget_periods(widget, view, config, today, period_override)
    definition = MEASURES[widget.measure]
    rollup = build_rollup(session, tenant_id, config, Selection(filters=filters, dimension=dimension), periods,
                          arr_window=definition.group == "arr_cohort" or definition.unit == "ratio")
    result: dict[str, Any] = {**widget_dict(widget), "unit": definition.unit, "label": definition.label}
    if widget.kind == "kpi":
        result["period_info"] = periods[0].as_dict()
        result["figure"] = {**_figure(rollup, widget.measure, periods[0], None),
                            "drill": {"period": periods[0].label}}
    elif widget.kind == "breakdown":
        period = periods[0]
        groups = []
        for group in sorted(rollup.groups, key=str):
            groups.append({"group": group, **_figure(rollup, widget.measure, period, group),
                           "drill": {"period": period.label, "group": group}})
        result["period_info"] = period.as_dict()
        result["groups"] = groups
        result["total"] = {**_figure(rollup, widget.measure, period, EVERY_GROUP), "drill": {"period": period.label}}
    else:
        result["series"] = [{"period_info": p.as_dict(), **_figure(rollup, widget.measure, p, None),
                             "drill": {"period": p.label}} for p in periods]
    return result


def evaluate_view(tenant: "TenantContext", view_id: int, viewer: Viewer, *, extra_filters: Any = None,
                  period: str | None = None, today: dt.date | None = None) -> dict[str, Any]:
    """Every widget's figures, narrowed by ``extra_filters`` (never saved)."""
    today = today or today_utc()
    extra = tuple(parse_filters(extra_filters))
    with tenant.session() as session:
        config = load_config(tenant, session)
        if period:
            config.calendar.parse(period, today)   # a bad override fails before any query
        view = _load(session, view_id, viewer)
        widgets = [evaluate_widget(session, tenant.id, config, view, widget, extra, today, period)
                   for widget in view.widgets]
        return {**view_dict(view), "today": today.isoformat(), "basis": config.amount_basis,
                "currency": config.currency, "extra_filters": [f.as_dict() for f in extra], "widgets": widgets}


def widget_drill(tenant: "TenantContext", view_id: int, widget_id: int, viewer: Viewer, *, period: str | None = None,
                 group: Any = None, extra_filters: Any = None, today: dt.date | None = None) -> tuple[Drill, RenewalConfig]:
    """The drill-down behind one figure of a widget (``period`` from the figure's ``drill``)."""
    today = today or today_utc()
    extra = tuple(parse_filters(extra_filters))
    with tenant.session() as session:
        config = load_config(tenant, session)
        view = _load(session, view_id, viewer)
        widget = next((w for w in view.widgets if w.id == widget_id), None)
        if widget is None:
            raise NotFound(f"view {view_id} has no widget {widget_id}")
        chosen = config.calendar.parse(period, today) if period else _widget_periods(widget, view, config, today, None)[0]
        dimension = dimension_field(widget.dimension) if widget.kind == "breakdown" and widget.dimension else None
        if dimension is None and group is not None:
            raise InvalidFields("invalid drill-down", {"group": ["only breakdown widgets have groups"]})
        # No group on a breakdown means its total: every group, no group condition.
        if group is None:
            dimension = None
        return Drill(measure(widget.measure), chosen, _filters_of(view, widget, extra), dimension, group), config
