"""REST endpoints for companies, the company hierarchy and Company 360."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from .. import company360, hierarchy, hierarchy_rollups
from ..store import Company
from ..sync.outbox import capture_local_change
from .domain_endpoints import notify
from .domain_schemas import (
    Company360Schema,
    CompanyInputSchema,
    CompanyPatchSchema,
    CompanyQuery,
    CompanySchema,
    HierarchySchema,
    LinkReportSchema,
    ParentSchema,
    encode_cursor,
    page_schema,
)
from .registry import ADMIN_ROLES, READ_ROLES, WRITE_ROLES, registry

EDITABLE = ("name", "industry", "segment", "company_type", "owner_name", "csm", "lifecycle_stage", "arr", "mrr",
            "employees", "attributes")


@registry.route("/companies", roles=READ_ROLES, tag="companies", query=CompanyQuery,
                response=page_schema(CompanySchema, "CompanyPage"))
def list_companies(api):
    """Companies in id order, filtered by name (contains), parent, top level, CSM or segment."""
    q = api.query
    query = select(Company).where(Company.is_deleted.is_(False))
    if q["name"]:
        query = query.where(func.lower(Company.name).contains(q["name"].lower(), autoescape=True))
    if q["parent_id"] is not None:
        query = query.where(Company.parent_id == q["parent_id"])
    if q["top_level"]:
        query = query.where(Company.parent_id.is_(None))
    for column, value in ((Company.csm, q["csm"]), (Company.segment, q["segment"])):
        if value is not None:
            query = query.where(column == value)
    if q["cursor"] is not None:
        query = query.where(Company.id > int(q["cursor"]))
    with api.session() as session:
        rows = list(session.scalars(query.order_by(Company.id).limit(q["limit"] + 1)))
    items = [company360.company_summary(r) for r in rows[:q["limit"]]]
    return {"items": items, "next_cursor": encode_cursor(items[-1]["id"]) if len(rows) > q["limit"] else None}


@registry.route("/companies", methods=("POST",), roles=WRITE_ROLES, tag="companies", body=CompanyInputSchema,
                response=CompanySchema, status=201)
def create_company(api):
    """Create a company by hand (most arrive from the CRM sync)."""
    data = dict(api.body)
    parent_id = data.pop("parent_id", None)
    with api.transaction() as session:
        company = Company(**{k: v for k, v in data.items() if k in EDITABLE})
        session.add(company)
        session.flush()
        if parent_id is not None:
            hierarchy.set_parent(session, company.id, parent_id)
        summary = company360.company_summary(company)
        capture_local_change(api.tenant, session, entity="company", local_id=company.id,
                             changes={k: summary[k] for k in (*EDITABLE, "parent_id") if summary[k] is not None})
    notify(api, "company", created=[company.id])
    return summary


@registry.route("/companies/<int:company_id>", roles=READ_ROLES, tag="companies", response=CompanySchema)
def get_company(api, company_id: int):
    """One company."""
    with api.session() as session:
        return company360.company_summary(hierarchy.get_company(session, company_id))


@registry.route("/companies/<int:company_id>", methods=("PATCH",), roles=WRITE_ROLES, tag="companies",
                body=CompanyPatchSchema, response=CompanySchema)
def update_company(api, company_id: int):
    """Change a company; a new ``parent_id`` is checked (at most five levels, no cycles)."""
    data = dict(api.body)
    with api.transaction() as session:
        company = hierarchy.get_company(session, company_id)
        changed: dict[str, Any] = {}
        if "parent_id" in data and data["parent_id"] != company.parent_id:
            hierarchy.set_parent(session, company_id, data["parent_id"])
            changed["parent_id"] = data["parent_id"]
        for key in EDITABLE:
            if key in data and getattr(company, key) != data[key]:
                setattr(company, key, data[key])
                changed[key] = data[key]
        session.flush()
        if changed:
            capture_local_change(api.tenant, session, entity="company", local_id=company_id, changes=changed)
        summary = company360.company_summary(company)
    if changed:
        notify(api, "company", updated=[company_id])
    return summary


@registry.route("/companies/<int:company_id>/parent", methods=("PUT",), roles=WRITE_ROLES, tag="companies",
                body=ParentSchema, response=CompanySchema)
def set_company_parent(api, company_id: int):
    """Attach a company under a parent (null detaches it); cycles and a sixth level are refused."""
    with api.transaction() as session:
        company = hierarchy.set_parent(session, company_id, api.body["parent_id"])
        capture_local_change(api.tenant, session, entity="company", local_id=company_id,
                             changes={"parent_id": company.parent_id})
        summary = company360.company_summary(company)
    notify(api, "company", updated=[company_id])
    return summary


@registry.route("/companies/<int:company_id>/hierarchy", roles=READ_ROLES, tag="companies", response=HierarchySchema)
def company_hierarchy(api, company_id: int):
    """The company's path from the top, its children, the tree below it and its rollup."""
    with api.session() as session:
        hierarchy.get_company(session, company_id)
        rollup = hierarchy_rollups.rollups(session, [company_id]).get(company_id)
        return {
            "path": hierarchy.path_of(session, company_id),
            "children": hierarchy.children_of(session, [company_id]).get(company_id, []),
            "tree": hierarchy.subtree(session, company_id),
            "rollup": rollup.as_dict() if rollup else None,
        }


@registry.route("/companies/hierarchy/link", methods=("POST",), roles=ADMIN_ROLES, tag="companies",
                response=LinkReportSchema)
def link_company_parents(api):
    """Link every company to the parent its CRM ``ParentId`` names; refused links are listed."""
    with api.transaction() as session:
        report = hierarchy.link_parents(session)
    return report


@registry.route("/companies/<int:company_id>/360", roles=READ_ROLES, tag="companies", response=Company360Schema)
def company_360(api, company_id: int):
    """Company 360: attributes, hierarchy, relationships, open and closed opportunities, health, recent timeline."""
    return company360.company_360(api.tenant, company_id)

