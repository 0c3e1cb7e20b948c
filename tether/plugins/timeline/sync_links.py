"""Where synced activities belong: their company and opportunity, now or once they land.

A page's references (``company_external_id``, ``opportunity_external_id``, and
``related_external_id``, a company *or* an opportunity, like a Task's ``WhatId``) are
looked up in two queries per chunk; an activity on an opportunity carries its company and
relationship too. References not synced yet are kept on the activity, and
:func:`link_waiting` (from ``tether_records_changed``) links them when the company or
opportunity is created.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from tether.core.contracts import ChangeSet, SyncedRecord
from tether.core.store import Company, Opportunity

from .models import ActivityRecord

if TYPE_CHECKING:
    from tether.core.plugins import TenantContext

IN_CHUNK = 900


def chunks(items: Sequence[Any], size: int = IN_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class References:
    """Company and opportunity ids of a page's references, looked up in two queries."""

    def __init__(self, session: Session, tenant_id: str, source: str, records: Sequence[SyncedRecord]) -> None:
        refs: set[str] = set()
        for record in records:
            for key in ("company_external_id", "opportunity_external_id", "related_external_id"):
                if record.values.get(key):
                    refs.add(str(record.values[key]))
        wanted = sorted(refs)
        self.companies: dict[str, int] = {}
        self.opportunities: dict[str, tuple[int, int | None, int | None]] = {}
        companies, opportunities = Company.__table__, Opportunity.__table__
        for chunk in chunks(wanted):
            self.companies.update(session.execute(select(companies.c.external_id, companies.c.id).where(
                companies.c.tenant_id == tenant_id, companies.c.external_source == source,
                companies.c.is_deleted.is_(False), companies.c.external_id.in_(chunk))).all())
            for external_id, local_id, company_id, relationship_id in session.execute(
                    select(opportunities.c.external_id, opportunities.c.id, opportunities.c.company_id,
                           opportunities.c.relationship_id).where(
                        opportunities.c.tenant_id == tenant_id, opportunities.c.external_source == source,
                        opportunities.c.is_deleted.is_(False), opportunities.c.external_id.in_(chunk))):
                self.opportunities[external_id] = (local_id, company_id, relationship_id)

    def resolve(self, values: Mapping[str, Any]) -> tuple[int | None, int | None, int | None, str | None, str | None]:
        """(company_id, relationship_id, opportunity_id, company ref, opportunity ref)."""
        company_ref = _ref(values.get("company_external_id"))
        opportunity_ref = _ref(values.get("opportunity_external_id"))
        related = _ref(values.get("related_external_id"))
        if related is not None:
            if related in self.opportunities and opportunity_ref is None:
                opportunity_ref = related
            elif related in self.companies and company_ref is None:
                company_ref = related
            elif opportunity_ref is None and company_ref is None:
                # Not synced yet: kept as an opportunity reference unless it is a company's later.
                opportunity_ref = related
        company_id = self.companies.get(company_ref) if company_ref else None
        relationship_id = opportunity_id = None
        if opportunity_ref and opportunity_ref in self.opportunities:
            opportunity_id, opportunity_company, relationship_id = self.opportunities[opportunity_ref]
            company_id = company_id or opportunity_company
        return company_id, relationship_id, opportunity_id, company_ref, opportunity_ref


def _ref(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def link_waiting(tenant: "TenantContext", changes: ChangeSet) -> None:
    """Link synced activities that arrived before the companies or opportunities just created."""
    if changes.origin != "sync" or not changes.created or changes.entity not in ("company", "opportunity"):
        return
    table = ActivityRecord.__table__
    # Activities synced from any object of the connector the records came from.
    from_connector = table.c.external_source.like(bindparam("pat"), escape="\\")
    with tenant.transaction() as session:
        if changes.entity == "company":
            model = Company.__table__
            found = _created(session, tenant.id, model, [model.c.external_source, model.c.external_id, model.c.id],
                             changes.created)
            rows = [{"pat": _any_object_of(src), "ref": ref, "cid": local_id} for src, ref, local_id in found if ref]
            if rows:
                session.connection().execute(
                    update(table).where(table.c.tenant_id == tenant.id, from_connector,
                                        table.c.company_external_id == bindparam("ref"), table.c.company_id.is_(None))
                    .values(company_id=bindparam("cid")), rows)
                # A reference to "a company or an opportunity" (a Task's WhatId) kept as an opportunity's.
                session.connection().execute(
                    update(table).where(table.c.tenant_id == tenant.id, from_connector,
                                        table.c.opportunity_external_id == bindparam("ref"),
                                        table.c.opportunity_id.is_(None), table.c.company_id.is_(None))
                    .values(company_id=bindparam("cid")), rows)
            return
        model = Opportunity.__table__
        found = _created(session, tenant.id, model, [model.c.external_source, model.c.external_id, model.c.id,
                                                     model.c.company_id, model.c.relationship_id], changes.created)
        rows = [{"pat": _any_object_of(src), "ref": ref, "oid": local_id, "cid": company_id, "rid": relationship_id}
                for src, ref, local_id, company_id, relationship_id in found if ref]
        if rows:
            session.connection().execute(
                update(table).where(table.c.tenant_id == tenant.id, from_connector,
                                    table.c.opportunity_external_id == bindparam("ref"),
                                    table.c.opportunity_id.is_(None))
                .values(opportunity_id=bindparam("oid"), company_id=func.coalesce(table.c.company_id, bindparam("cid")),
                        relationship_id=bindparam("rid")), rows)


def _any_object_of(connector: str) -> str:
    """A LIKE pattern for the activities of any object of ``connector`` ("<connector>:<object>")."""
    escaped = connector.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}:%"


def _created(session: Session, tenant_id: str, model: Any, columns: list[Any], ids: Sequence[int]) -> list[tuple]:
    found: list[tuple] = []
    wanted = sorted(ids)
    for chunk in chunks(wanted):
        found += [tuple(r) for r in session.execute(select(*columns).where(model.c.tenant_id == tenant_id,
                                                                            model.c.id.in_(chunk)))]
    return found


__all__ = ["References", "chunks", "link_waiting"]
