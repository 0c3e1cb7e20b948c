"""Company hierarchy: five levels at most, cycles refused naming the companies, rollups exact."""

from decimal import Decimal

import pytest
from sqlalchemy import select

from tether.core import hierarchy, hierarchy_rollups
from tether.core.errors import DomainError
from tether.core.store import Company

from .conftest import add_companies, add_relationship

CHAIN = [{"name": "Global"}, {"name": "EMEA", "parent": "Global"}, {"name": "Germany", "parent": "EMEA"},
         {"name": "Bavaria", "parent": "Germany"}, {"name": "Munich", "parent": "Bavaria"}]


def test_a_sixth_level_is_refused_naming_the_whole_chain(acme):
    ids = add_companies(acme, CHAIN + [{"name": "Schwabing"}])
    with acme.transaction() as session:
        with pytest.raises(DomainError) as refused:
            hierarchy.set_parent(session, ids["Schwabing"], ids["Munich"])
    message = str(refused.value)
    assert "6 levels deep" in message and "at most 5" in message
    assert "Global › EMEA › Germany › Bavaria › Munich › Schwabing" in message
    assert refused.value.field == "parent_id"
    with acme.session() as session:
        assert session.get(Company, ids["Schwabing"]).parent_id is None


def test_joining_two_branches_counts_the_levels_below_the_moved_company(acme):
    ids = add_companies(acme, [{"name": "Top"}, {"name": "Mid", "parent": "Top"}, {"name": "Low", "parent": "Mid"},
                               {"name": "Other"}, {"name": "Other child", "parent": "Other"},
                               {"name": "Other grandchild", "parent": "Other child"}])
    with acme.transaction() as session:
        with pytest.raises(DomainError, match="Top › Mid › Low › Other › Other child › Other grandchild"):
            hierarchy.set_parent(session, ids["Other"], ids["Low"])
        # Two levels below "Other" fit under "Mid": 2 + 1 + 2 = 5 levels.
        hierarchy.set_parent(session, ids["Other"], ids["Mid"])
    with acme.session() as session:
        assert [p["name"] for p in hierarchy.path_of(session, ids["Other grandchild"])] == \
            ["Top", "Mid", "Other", "Other child", "Other grandchild"]


def test_a_cycle_is_refused_naming_the_companies_in_it(acme):
    ids = add_companies(acme, [{"name": "Acme Group"}, {"name": "Acme Europe", "parent": "Acme Group"},
                               {"name": "Acme France", "parent": "Acme Europe"}])
    with acme.transaction() as session:
        with pytest.raises(DomainError) as refused:
            hierarchy.set_parent(session, ids["Acme Group"], ids["Acme France"])
        with pytest.raises(DomainError, match="cannot be its own parent"):
            hierarchy.set_parent(session, ids["Acme Group"], ids["Acme Group"])
    assert "'Acme France' cannot be the parent of 'Acme Group'" in str(refused.value)
    assert "Acme Group › Acme Europe › Acme France › Acme Group" in str(refused.value)


def test_rollups_match_a_hand_computed_tree(acme):
    ids = add_companies(acme, [
        {"name": "Root", "arr": Decimal("100.00"), "mrr": Decimal("10.00"), "employees": 5},
        {"name": "EU", "parent": "Root", "arr": Decimal("200.50"), "employees": 10},
        {"name": "DE", "parent": "EU", "arr": Decimal("300.25")},
        {"name": "FR", "parent": "EU", "employees": 7},
        {"name": "Gone", "parent": "EU", "arr": Decimal("999.00"), "is_deleted": True},
        {"name": "US", "parent": "Root", "arr": Decimal("1000.00"), "mrr": Decimal("0.05")},
        {"name": "Elsewhere", "arr": Decimal("5.00")},
    ])
    add_relationship(acme, ids["DE"], "Analytics", arr=Decimal("50.00"), attributes={"seats": 10, "budget": "20.10"})
    add_relationship(acme, ids["US"], "Core", arr=Decimal("25.10"), mrr=Decimal("2.00"),
                     attributes={"seats": 5, "budget": "0.05"})
    add_relationship(acme, ids["Root"], "Mobile", attributes={"seats": 1})
    with acme.session() as session:
        totals = hierarchy_rollups.rollups(session)
        just_eu = hierarchy_rollups.rollups(session, [ids["EU"]])

    root = totals[ids["Root"]]
    # Companies: 100 + 200.50 + 300.25 + 1000 (Gone is deleted, Elsewhere is another tree).
    assert (root.companies, root.arr, root.mrr, root.employees) == (5, Decimal("1600.75"), Decimal("10.05"), 22)
    assert (root.relationships, root.relationship_arr, root.relationship_mrr) == (3, Decimal("75.10"), Decimal("2.00"))
    assert root.attributes == {"Product.seats": 16, "Product.budget": "20.15"}
    eu = totals[ids["EU"]]
    assert (eu.companies, eu.arr, eu.employees, eu.relationships) == (3, Decimal("500.75"), 17, 1)
    assert eu.attributes == {"Product.seats": 10, "Product.budget": "20.10"}
    assert totals[ids["FR"]].arr == Decimal("0.00") and totals[ids["FR"]].employees == 7
    assert totals[ids["Elsewhere"]].companies == 1
    assert ids["Gone"] not in totals
    assert just_eu == {ids["EU"]: eu}


def test_parent_ids_from_the_crm_link_up_and_bad_links_are_refused_with_names(acme):
    chain = [("A1", None), ("A2", "A1"), ("A3", "A2"), ("A4", "A3"), ("A5", "A4"), ("A6", "A5"), ("A7", "A6")]
    loop = [("L1", "L3"), ("L2", "L1"), ("L3", "L2")]
    spec = [{"name": f"Co {ext}", "external_source": "salesforce", "external_id": ext, "parent_external_id": parent}
            for ext, parent in chain + loop]
    spec.append({"name": "Orphan", "external_source": "salesforce", "external_id": "O1", "parent_external_id": "NOPE"})
    ids = add_companies(acme, spec)
    with acme.transaction() as session:
        report = hierarchy.link_parents(session)
    with acme.session() as session:
        parents = dict(session.execute(select(Company.name, Company.parent_id)).all())
    assert parents["Co A5"] == ids["Co A4"]
    assert parents["Co A6"] is None and parents["Co A7"] == ids["Co A6"]  # cut at the sixth level
    assert parents["Orphan"] is None and report.waiting == 1
    assert sum(1 for name in ("Co L1", "Co L2", "Co L3") if parents[name] is None) == 1
    assert any("Co A1 › Co A2 › Co A3 › Co A4 › Co A5 › Co A6 would be more than 5 levels deep" in m
               for m in report.refused)
    assert any("would be a cycle" in m and "Co L1" in m and "Co L2" in m and "Co L3" in m for m in report.refused)
    assert any("Co L1 › Co L2 › Co L3 › Co L1 would be a cycle" in m for m in report.refused)
    assert report.linked == 7  # A2 to A5, A7 and two of the loop
    with acme.session() as session:
        assert hierarchy.hierarchy_problems(session) == []
    with acme.transaction() as session:
        assert hierarchy.link_parents(session).linked == 0  # nothing left to do


def test_problems_already_in_stored_data_are_reported(acme):
    ids = add_companies(acme, [{"name": "X"}, {"name": "Y", "parent": "X"}])
    with acme.transaction() as session:
        session.get(Company, ids["X"]).parent_id = ids["Y"]  # written behind the checks' back
    with acme.session() as session:
        problems = hierarchy.hierarchy_problems(session)
        # Reads stay bounded on cyclic data.
        assert hierarchy.path_of(session, ids["Y"])
        assert hierarchy_rollups.rollups(session, [ids["X"]])[ids["X"]].companies == 2
    assert len(problems) == 1 and "would be a cycle" in problems[0] and "X" in problems[0]
