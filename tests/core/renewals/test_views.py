"""Saved views, their figures, drill-downs and CSV exports agree with each other."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from tether.core.errors import DomainError, InvalidFields, NotFound
from tether.core.renewals import drilldown
from tether.core.renewals.calls import record_call
from tether.core.renewals.export import csv_chunks
from tether.core.renewals.views import (
    Viewer, create_view, delete_view, evaluate_view, get_view, list_views, update_view, widget_drill,
)

from .book import TODAY

K = Decimal(1000)
ANA = Viewer("ana", "user")
BOB = Viewer("bob", "user")
BOSS = Viewer("boss", "admin")
ANALYST = Viewer("analyst", "viewer_analytics")

WIDGETS = [
    {"kind": "kpi", "measure": "renewal_forecast"},
    {"kind": "kpi", "measure": "forecast_low", "title": "SMB low", "filters": [{"field": "segment", "op": "eq", "value": "SMB"}]},
    {"kind": "breakdown", "measure": "grr", "dimension": "owner"},
    {"kind": "breakdown", "measure": "forecast_high", "dimension": "forecast_category"},
    {"kind": "timeseries", "measure": "renewals_due", "grain": "quarter", "periods_before": 1, "periods_after": 1},
    {"kind": "kpi", "measure": "arr_nrr"},
    {"kind": "kpi", "measure": "missing_forecast_count"},
]


def _view(tenant, viewer=ANA, **overrides):
    data = {"name": "Q1 review", "period": "FY2025-Q1", "shared": True, "widgets": WIDGETS}
    data.update(overrides)
    return create_view(tenant, data, viewer)


def _drill_rows(tenant, view_id, widget_id, viewer=ANA, **kwargs):
    drill, config = widget_drill(tenant, view_id, widget_id, viewer, today=TODAY, **kwargs)
    with tenant.session() as session:
        header = drill.header()
        return drill, [dict(zip(header, values)) for values in drilldown.rows(session, drill, tenant.id, config)]


def _sum(rows, column):
    return sum((Decimal(str(r[column])) for r in rows if r[column] not in (None, "")), Decimal(0))


def test_view_figures_match_hand_computation(book):
    view = _view(book)
    data = evaluate_view(book, view["id"], ANA, today=TODAY)
    widgets = data["widgets"]
    assert widgets[0]["figure"]["value"] == 237 * K
    assert widgets[1]["figure"]["value"] == 67 * K      # SMB, low: R4 80k - D1 5k - D2 8k (R6 is best case)
    owners = {g["group"]: g["value"] for g in widgets[2]["groups"]}
    assert owners["ana"] == pytest.approx(140 / 170, abs=1e-6) and owners["bob"] == 0
    assert widgets[2]["total"]["value"] == pytest.approx(140 / 320, abs=1e-6)
    categories = {g["group"]: g["value"] for g in widgets[3]["groups"]}
    assert categories["closed"] == 135 * K and categories["commit"] == 72 * K and categories["best_case"] == 30 * K
    assert [(s["period_info"]["label"], s["value"]) for s in widgets[4]["series"]] == [
        ("FY2024-Q4", Decimal("0.00")), ("FY2025-Q1", 320 * K), ("FY2025-Q2", 60 * K)]
    assert widgets[5]["figure"]["value"] == pytest.approx(380 / 390, abs=1e-6)
    assert widgets[6]["figure"]["value"] == 1


def test_every_figure_equals_the_sum_of_its_drill_down(book):
    record_call(book, book.ids["R6"], category="commit", amount=Decimal("35000"), comment=None, by="bob")
    view = _view(book)
    data = evaluate_view(book, view["id"], ANA, today=TODAY)
    checked = 0
    for widget in data["widgets"]:
        figures = []
        if widget["kind"] == "kpi":
            figures = [(widget["figure"], None)]
        elif widget["kind"] == "breakdown":
            figures = [(g, g["group"]) for g in widget["groups"]] + [(widget["total"], None)]
        else:
            figures = [(s, None) for s in widget["series"]]
        for figure, group in figures:
            drill, rows = _drill_rows(book, view["id"], widget["id"], period=figure["drill"]["period"], group=group)
            if widget["unit"] == "ratio":
                denominator = _sum(rows, "denominator_contribution")
                if figure["value"] is None:
                    assert denominator == 0
                else:
                    assert float(_sum(rows, "numerator_contribution") / denominator) == pytest.approx(
                        figure["value"], abs=1e-6)
            else:
                assert _sum(rows, "contribution") == Decimal(figure["value"]), (widget["title"], group)
            checked += 1
    assert checked >= 12


def test_drill_down_lists_the_right_opportunities(book):
    view = _view(book)
    first = view["widgets"][0]["id"]
    _, rows = _drill_rows(book, view["id"], first)
    contributions = {r["name"]: r["contribution"] for r in rows}
    assert contributions == {"R1": "100000.00", "R2": "40000.00", "R4": "80000.00", "R5": "0.00",
                             "R6": "30000.00", "D1": "-5000.00", "D2": "-8000.00"}
    assert all(r["name"] not in ("GONE", "NB", "R7", "R3") for r in rows)   # deleted, new business, later, lost


def test_csv_export_matches_the_drill_down(book):
    view = _view(book)
    widget = view["widgets"][2]["id"]     # GRR by owner: numerator and denominator columns
    drill, rows = _drill_rows(book, view["id"], widget, group="bob")
    from tether.core.renewals.config import load_config

    exported = "".join(csv_chunks(book, drill, load_config(book)))
    parsed = list(csv.DictReader(io.StringIO(exported)))
    assert [r["opportunity_id"] for r in parsed] == [str(r["opportunity_id"]) for r in rows]
    assert [r["denominator_contribution"] for r in parsed] == [r["denominator_contribution"] for r in rows]
    assert {r["name"] for r in parsed} == {"R3", "R4", "R6"}
    assert list(parsed[0]) == drill.header()


def test_viewer_filters_narrow_every_widget_and_its_drill_down(book):
    view = _view(book)
    narrowed = evaluate_view(book, view["id"], ANALYST, today=TODAY,
                             extra_filters=[{"field": "owner", "op": "eq", "value": "ana"}])
    assert narrowed["widgets"][0]["figure"]["value"] == 140 * K
    assert narrowed["extra_filters"] == [{"field": "owner", "op": "eq", "value": "ana"}]
    _, rows = _drill_rows(book, view["id"], view["widgets"][0]["id"], ANALYST,
                          extra_filters=[{"field": "owner", "op": "eq", "value": "ana"}])
    assert {r["name"] for r in rows} == {"R1", "R2", "R5"}
    assert get_view(book, view["id"], ANALYST)["filters"] == []    # nothing was saved


def test_sharing_and_ownership(book):
    private = _view(book, shared=False, name="Mine")
    shared = _view(book, name="Team")
    assert {v["name"] for v in list_views(book, ANA)} == {"Mine", "Team"}
    assert {v["name"] for v in list_views(book, BOB)} == {"Team"}
    assert {v["name"] for v in list_views(book, ANALYST)} == {"Team"}
    with pytest.raises(NotFound):
        get_view(book, private["id"], BOB)
    with pytest.raises(NotFound):
        evaluate_view(book, private["id"], ANALYST, today=TODAY)
    with pytest.raises(DomainError):
        update_view(book, shared["id"], {"name": "Hijacked"}, BOB)
    assert update_view(book, shared["id"], {"name": "Team (admin)"}, BOSS)["name"] == "Team (admin)"
    with pytest.raises(DomainError):
        update_view(book, shared["id"], {"shared": False}, BOSS)
    assert update_view(book, private["id"], {"shared": True}, ANA)["shared"] is True
    assert {v["name"] for v in list_views(book, ANALYST)} == {"Mine", "Team (admin)"}
    delete_view(book, private["id"], ANA)
    assert {v["name"] for v in list_views(book, ANA)} == {"Team (admin)"}


def test_invalid_views_are_refused_with_every_problem(book):
    with pytest.raises(InvalidFields) as caught:
        create_view(book, {"name": "", "period": "someday", "filters": [{"field": "segment", "op": "gt", "value": 1}],
                           "widgets": [{"kind": "pie", "measure": "magic"},
                                       {"kind": "breakdown", "measure": "grr"},
                                       {"kind": "timeseries", "measure": "won", "periods_before": 40}]}, ANA)
    assert set(caught.value.errors) == {"name", "period", "filters[0].op", "widgets[0].kind", "widgets[0].measure",
                                        "widgets[1].dimension", "widgets[2].periods_before"}
    assert list_views(book, ANA) == []
