"""The entities an inbound sync writes, and how each links to the others.

Companies resolve ``parent_external_id`` → ``parent_id`` and, when they land, link the
children and opportunities that arrived before them; opportunities resolve
``account_external_id`` → ``company_id`` and join (or create) the relationship
``tether_assign_relationships`` names. Everything is set-based, per page.
"""

from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..errors import DomainError
from ..store.models import Company, Opportunity, Relationship, RelationshipType
from ..store.types import utcnow
from .apply import EntityApplier, Row, chunks


class CompanyApplier(EntityApplier):
    model = Company
    entity = "company"

    def link_columns(self) -> tuple[str, ...]:
        return ("parent_id",) if "parent_external_id" in self.columns else ()

    def resolve_links(self, session: Session, rows: Sequence[Row]) -> None:
        if "parent_external_id" not in self.columns:
            return
        parents = self._local_ids(session, Company, (r.values.get("parent_external_id") for r in rows))
        for row in rows:
            parent = row.values.get("parent_external_id")
            row.values["parent_id"] = parents.get(parent) if parent else None

    def after_upsert(self, session: Session, rows: Sequence[Row], ids: dict[str, int], *, created: set[str]) -> None:
        table = self.table
        connection = session.connection()
        if "parent_external_id" in self.columns:
            # Rows of this page whose parent is in this page too, or whose parent is new.
            late = [{"row_id": ids[r.external_id], "parent": ids[r.values["parent_external_id"]]}
                    for r in rows if r.external_id in ids and r.values.get("parent_id") is None
                    and r.values.get("parent_external_id") in ids]
            if late:
                connection.execute(update(table).where(table.c.id == bindparam("row_id"))
                                   .values(parent_id=bindparam("parent")), late)
            # Children that arrived before these (new) parents: find them first, in bulk, so
            # an initial load does not run one UPDATE per company for nothing.
            waiting_for = self._waiting(session, table, table.c.parent_external_id, table.c.parent_id, created, ids)
            if waiting_for:
                connection.execute(
                    update(table).where(table.c.tenant_id == self.tenant_id, table.c.external_source == self.source,
                                        table.c.parent_external_id == bindparam("ext"), table.c.parent_id.is_(None))
                    .values(parent_id=bindparam("parent")),
                    [{"ext": e, "parent": ids[e]} for e in waiting_for])
        # Opportunities that arrived before their (new) account.
        opportunities = Opportunity.__table__
        waiting_for = self._waiting(session, opportunities, opportunities.c.account_external_id,
                                    opportunities.c.company_id, created, ids)
        if waiting_for:
            connection.execute(
                update(opportunities).where(
                    opportunities.c.tenant_id == self.tenant_id, opportunities.c.external_source == self.source,
                    opportunities.c.account_external_id == bindparam("ext"), opportunities.c.company_id.is_(None))
                .values(company_id=bindparam("company")), [{"ext": e, "company": ids[e]} for e in waiting_for])

    def _waiting(self, session: Session, table: Table, reference, link, created: set[str],
                 ids: dict[str, int]) -> list[str]:
        """External ids among ``created`` that unlinked rows of ``table`` refer to."""
        wanted = sorted(e for e in created if e in ids)
        found: list[str] = []
        for chunk in chunks(wanted):
            found += session.scalars(select(reference).distinct().where(
                table.c.tenant_id == self.tenant_id, table.c.external_source == self.source,
                link.is_(None), reference.in_(chunk))).all()
        return found


class OpportunityApplier(EntityApplier):
    model = Opportunity
    entity = "opportunity"

    def link_columns(self) -> tuple[str, ...]:
        links = ("company_id",) if "account_external_id" in self.columns else ()
        return links + ("relationship_id",)

    def resolve_links(self, session: Session, rows: Sequence[Row]) -> None:
        if "account_external_id" in self.columns:
            companies = self._local_ids(session, Company, (r.values.get("account_external_id") for r in rows))
            for row in rows:
                account = row.values.get("account_external_id")
                row.values["company_id"] = companies.get(account) if account else None
        self._resolve_relationships(session, rows)

    def _resolve_relationships(self, session: Session, rows: Sequence[Row]) -> None:
        assigned = [r for r in rows if r.relationship is not None and r.values.get("company_id")]
        for row in rows:
            row.values["relationship_id"] = None
        if not assigned:
            return
        types = dict(session.execute(select(RelationshipType.__table__.c.name, RelationshipType.__table__.c.id).where(
            RelationshipType.__table__.c.tenant_id == self.tenant_id)).all())
        by_lower = {name.lower(): type_id for name, type_id in types.items()}
        wanted: dict[tuple[int, int, str], dict[str, Any]] = {}
        for row in assigned:
            type_id = by_lower.get(row.relationship.type_name.lower())
            if type_id is None:
                raise DomainError(
                    f"opportunity {row.external_id}: relationship type {row.relationship.type_name!r} does not exist",
                    field="relationship_type",
                    hint="declare it in the tenant manifest's relationship_types, or fix the relationship rule")
            wanted.setdefault((row.values["company_id"], type_id, row.relationship.name), dict(row.relationship.attributes))
        table = Relationship.__table__
        found: dict[tuple[int, int, str], int] = {}
        keys = list(wanted)
        for chunk in chunks(sorted({k[0] for k in keys})):
            for rel_id, company_id, type_id, name in session.execute(
                    select(table.c.id, table.c.company_id, table.c.type_id, table.c.name).where(
                        table.c.tenant_id == self.tenant_id, table.c.company_id.in_(chunk))):
                found[(company_id, type_id, name)] = rel_id
        missing = [k for k in keys if k not in found]
        if missing:
            now = utcnow()
            result = session.execute(self._insert_relationships(), [
                {"tenant_id": self.tenant_id, "company_id": c, "type_id": t, "name": n, "attributes": wanted[(c, t, n)],
                 "is_deleted": False, "created_at": now, "updated_at": now} for c, t, n in missing])
            for rel_id, company_id, type_id, name in result:
                found[(company_id, type_id, name)] = rel_id
        for row in assigned:
            type_id = by_lower[row.relationship.type_name.lower()]
            row.values["relationship_id"] = found.get((row.values["company_id"], type_id, row.relationship.name))

    def _insert_relationships(self):
        table = Relationship.__table__
        return (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(table).returning(
            table.c.id, table.c.company_id, table.c.type_id, table.c.name)


APPLIERS: dict[str, type[EntityApplier]] = {"company": CompanyApplier, "opportunity": OpportunityApplier}


def applier_for(entity: str) -> type[EntityApplier]:
    try:
        return APPLIERS[entity]
    except KeyError:
        raise DomainError(
            f"entity {entity!r} cannot be synced inbound: tether applies only {', '.join(sorted(APPLIERS))}",
            field="entity", hint="map the object outbound only, or to one of those entities") from None
