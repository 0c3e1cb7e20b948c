"""The entities an inbound sync writes, and how each links to the others.

Companies resolve ``parent_external_id`` → ``parent_id`` and, when they land, link the
children and opportunities that arrived before them; every parent link a page sets is
checked against the hierarchy rules (at most five levels, no cycles) and a link that
breaks them is cut and reported (:mod:`.domain_rules`). Opportunities resolve
``account_external_id`` → ``company_id`` and join (or create) the relationship the
admin's relationship rules, then ``tether_assign_relationships``, decide; one nothing
decides keeps the relationship it had. Everything is set-based, per page.

Entities plugins own (``tether_entity_appliers``) are applied through
:mod:`.plugin_entities`; :func:`applier_for` finds either kind.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from ..contracts import ObjectMapping
from ..errors import DomainError
from ..store.models import Company, Opportunity
from .apply import EntityApplier, Row, chunks
from .domain_rules import assign_relationship_ids, refuse_bad_parents
from .plugin_entities import PluginEntityApplier, applier_class, entity_appliers

if TYPE_CHECKING:
    from ..plugins import TenantContext


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
            # Every company whose parent link this page sets, for the hierarchy rules.
            linked = {ids[r.external_id] for r in rows if r.external_id in ids and r.values.get("parent_id")}
            # Rows of this page whose parent is in this page too, or whose parent is new.
            late = [{"row_id": ids[r.external_id], "parent": ids[r.values["parent_external_id"]]}
                    for r in rows if r.external_id in ids and r.values.get("parent_id") is None
                    and r.values.get("parent_external_id") in ids]
            if late:
                connection.execute(update(table).where(table.c.id == bindparam("row_id"))
                                   .values(parent_id=bindparam("parent")), late)
                linked.update(link["row_id"] for link in late)
            # Children that arrived before these (new) parents: find them first, in bulk, so
            # an initial load does not run one UPDATE per company for nothing.
            children = self._waiting_children(session, created, ids)
            if children:
                connection.execute(update(table).where(table.c.id == bindparam("row_id"))
                                   .values(parent_id=bindparam("parent")),
                                   [{"row_id": child, "parent": parent} for child, parent in children])
                linked.update(child for child, _ in children)
            self.warnings.extend(refuse_bad_parents(session, self.tenant_id, linked))
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

    def _waiting_children(self, session: Session, created: set[str], ids: dict[str, int]) -> list[tuple[int, int]]:
        """(child id, parent id) of unlinked companies whose parent is among ``created``."""
        table = self.table
        wanted = sorted(e for e in created if e in ids)
        found: list[tuple[int, int]] = []
        statement = select(table.c.id, table.c.parent_external_id).where(
            table.c.tenant_id == self.tenant_id, table.c.external_source == self.source,
            table.c.parent_id.is_(None), table.c.parent_external_id.in_(bindparam("keys", expanding=True)))
        for chunk in chunks(wanted):
            found += [(child, ids[parent]) for child, parent in session.execute(statement, {"keys": list(chunk)})]
        return found

    def _waiting(self, session: Session, table: Table, reference, link, created: set[str],
                 ids: dict[str, int]) -> list[str]:
        """External ids among ``created`` that unlinked rows of ``table`` refer to."""
        wanted = sorted(e for e in created if e in ids)
        found: list[str] = []
        statement = select(reference).distinct().where(
            table.c.tenant_id == self.tenant_id, table.c.external_source == self.source,
            link.is_(None), reference.in_(bindparam("keys", expanding=True)))
        for chunk in chunks(wanted):
            found += session.scalars(statement, {"keys": list(chunk)}).all()
        return found


class OpportunityApplier(EntityApplier):
    model = Opportunity
    entity = "opportunity"
    # An opportunity no rule or plugin assigns keeps the relationship it has.
    keep_when_null = ("relationship_id",)

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
        """Admin rules, then plugins, decide; a record nothing decides keeps its relationship
        (``keep_when_null``: the upsert leaves the stored link when the value is None)."""
        if self.tenant is None:
            raise ValueError("the opportunity applier needs the tenant (relationship rules and hooks)")
        ids, warnings = assign_relationship_ids(self.tenant, session, self.entity, [row.values for row in rows])
        self.warnings.extend(warnings)
        for row, rel_id in zip(rows, ids):
            row.values["relationship_id"] = rel_id


APPLIERS: dict[str, type[EntityApplier]] = {"company": CompanyApplier, "opportunity": OpportunityApplier}


def applier_for(entity: str, *, tenant: "TenantContext | None" = None, mapping: ObjectMapping | None = None
                ) -> type[EntityApplier] | type[PluginEntityApplier]:
    """The applier of a core entity, or of an entity one of ``tenant``'s plugins owns."""
    if entity in APPLIERS:
        return APPLIERS[entity]
    plugins = entity_appliers(tenant) if tenant is not None else {}
    spec = plugins.get(entity)
    if spec is not None and mapping is not None:
        return applier_class(spec, mapping)
    offered = sorted(APPLIERS) + sorted(plugins)
    raise DomainError(
        f"entity {entity!r} cannot be synced inbound: no enabled plugin applies it "
        f"(entities applied for this tenant: {', '.join(offered)})",
        field="entity", hint="enable the plugin that owns it (e.g. timeline for 'activity'), "
                             "or map the object outbound only")
