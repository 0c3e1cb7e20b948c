"""The domain's rules, applied to each synced page inside its transaction.

- **Hierarchy** (:mod:`tether.core.hierarchy`): a parent link a page sets that would make
  a cycle or a sixth level is cut (the company is left without a parent) and reported
  naming the companies, e.g. ``Acme Group › Acme Europe › Acme Group would be a cycle``.
  Only the neighbourhood of the companies the page linked is read (their ancestors and
  descendants, a bounded walk each way), so a page costs the same on a tenant of any size.
- **Relationships** (:mod:`tether.core.relationship_rules`): admin rules first, by
  priority; records no rule matched go to plugins through ``tether_assign_relationships``
  (one call per page); missing relationships are created in bulk. A type no one defined
  is reported, and its records stay unlinked, instead of failing the sync.

A broken rule never fails a page: what it refused is left out and the run records a
warning (``tether sync status``, the run's details).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from sqlalchemy import bindparam, literal, select, union, update
from sqlalchemy.orm import Session

from ..contracts import RelationshipAssignment
from ..errors import DomainError, NotFound
from ..hierarchy import ARROW, MAX_LEVELS, LinkReport, _refuse_cycles
from ..relationship_rules import compile_rules, evaluate_rules, materialise
from ..relationships import resolve_type
from ..store.models import Company
from .apply import ATTRIBUTE_PREFIX, chunks

if TYPE_CHECKING:
    from ..plugins import TenantContext

# How far the neighbourhood walk goes each way: past the five allowed levels, so any chain
# too deep (or a cycle) through a linked company is seen whole enough to name it.
WALK_LIMIT = 2 * MAX_LEVELS + 2
# Warnings kept per page (the count of what was refused is always exact).
MAX_WARNINGS = 20


# -- hierarchy ----------------------------------------------------------------------------

def refuse_bad_parents(session: Session, tenant_id: str, linked: Iterable[int]) -> list[str]:
    """Cut parent links of ``linked`` companies that make a cycle or a sixth level.

    ``linked`` are the companies whose ``parent_id`` this transaction set. The company cut
    is one of them: in a cycle, the first linked company on it; on a branch too deep, the
    linked company nearest the sixth level (so a link that was valid before stays). Returns
    one message per refused link, naming the companies top-down.
    """
    linked = set(linked)
    if not linked:
        return []
    rows = _neighbourhood(session, tenant_id, sorted(linked))
    names = {r[0]: r[1] for r in rows}
    stored = {r[0]: r[2] for r in rows}
    wanted: dict[int, int | None] = {i: (p if p in names else None) for i, p in stored.items()}
    report = LinkReport()
    _refuse_cycles(wanted, linked, names, report)
    _refuse_depth(wanted, linked, names, report)
    cut = [i for i, parent in wanted.items() if parent is None and stored[i] is not None and stored[i] in names]
    if cut:
        table = Company.__table__
        session.connection().execute(
            update(table).where(table.c.tenant_id == tenant_id, table.c.id == bindparam("cid"))
            .values(parent_id=None), [{"cid": i} for i in cut])
    return report.refused


def _neighbourhood(session: Session, tenant_id: str, ids: Sequence[int]) -> list[tuple[int, str, int | None]]:
    """(id, name, parent_id) of ``ids``, their ancestors and their descendants (live companies)."""
    table = Company.__table__
    found: set[int] = set()
    for chunk in chunks(list(ids)):
        up = select(table.c.id, table.c.parent_id, literal(0).label("depth")).where(
            table.c.tenant_id == tenant_id, table.c.id.in_(chunk)).cte("up", recursive=True)
        parent = table.alias("parent")
        up = up.union_all(select(parent.c.id, parent.c.parent_id, up.c.depth + 1).where(
            parent.c.id == up.c.parent_id, parent.c.tenant_id == tenant_id, up.c.depth < WALK_LIMIT))
        down = select(table.c.id, literal(0).label("depth")).where(
            table.c.tenant_id == tenant_id, table.c.id.in_(chunk)).cte("down", recursive=True)
        child = table.alias("child")
        down = down.union_all(select(child.c.id, down.c.depth + 1).where(
            child.c.parent_id == down.c.id, child.c.tenant_id == tenant_id, down.c.depth < WALK_LIMIT))
        found.update(session.scalars(union(select(up.c.id), select(down.c.id))))
    rows: list[tuple[int, str, int | None]] = []
    for chunk in chunks(sorted(found)):
        rows += [tuple(r) for r in session.execute(select(table.c.id, table.c.name, table.c.parent_id).where(
            table.c.tenant_id == tenant_id, table.c.id.in_(chunk), table.c.is_deleted.is_(False)))]
    return rows


def _refuse_depth(wanted: dict[int, int | None], linked: set[int], names: Mapping[int, str],
                  report: LinkReport) -> None:
    """Cut one link per company that would sit on a sixth level (which mends all below it)."""
    while True:
        levels = _levels(wanted)
        too_deep = sorted(n for n, level in levels.items() if level == MAX_LEVELS + 1)
        if not too_deep:
            return
        node = too_deep[0]
        path = [node]
        while wanted.get(path[-1]) is not None:
            path.append(wanted[path[-1]])
        path.reverse()  # root first
        # The linked company nearest the sixth level, so a link that was valid stays.
        candidates = [n for n in path[1:] if n in linked] or [node]
        victim = candidates[-1]
        below = sum(1 for n, level in levels.items() if n != victim and level > levels[victim]
                    and _under(wanted, n, victim))
        wanted[victim] = None
        extra = f" (and {below} {'company' if below == 1 else 'companies'} below it)" if below else ""
        report.refused.append(
            f"{ARROW.join(names[n] for n in path)} would be more than {MAX_LEVELS} levels deep; "
            f"{names[victim]!r}{extra} was left without a parent")


def _levels(wanted: Mapping[int, int | None]) -> dict[int, int]:
    level: dict[int, int] = {}
    for start in wanted:
        chain: list[int] = []
        node: int | None = start
        while node is not None and node not in level:
            chain.append(node)
            node = wanted.get(node)
        base = level[node] if node is not None else 0
        for n in reversed(chain):
            base += 1
            level[n] = base
    return level


def _under(wanted: Mapping[int, int | None], node: int, ancestor: int) -> bool:
    current = wanted.get(node)
    while current is not None:
        if current == ancestor:
            return True
        current = wanted.get(current)
    return False


# -- relationships ------------------------------------------------------------------------

def rule_record(values: Mapping[str, Any], _shapes: dict[tuple[str, ...], tuple[tuple[str, str], ...]] | None = None
                ) -> dict[str, Any]:
    """A mapped record as relationship rules and plugins read it: tether fields (custom
    attributes both as ``attributes.<name>`` and under ``attributes``), raw source under
    ``_source``.

    ``_shapes`` remembers which keys are attributes per key set: a page's records share
    a few key sets, and testing every key of every record was most of a page's rule cost.
    """
    if _shapes is None:
        attributes = tuple((key, key[len(ATTRIBUTE_PREFIX):]) for key in values if key.startswith(ATTRIBUTE_PREFIX))
    else:
        shape = tuple(values)
        attributes = _shapes.get(shape)  # type: ignore[assignment]
        if attributes is None:
            attributes = _shapes[shape] = tuple((key, key[len(ATTRIBUTE_PREFIX):]) for key in shape
                                                if key.startswith(ATTRIBUTE_PREFIX))
    record = dict(values)
    record["attributes"] = {name: values[key] for key, name in attributes}
    return record


def assign_relationship_ids(tenant: "TenantContext", session: Session, entity: str,
                            values: Sequence[Mapping[str, Any]]) -> tuple[list[int | None], list[str]]:
    """Relationship ids for mapped records (each with ``company_id``), and warnings.

    The order of :func:`tether.core.relationship_rules.assign_relationships`: admin rules,
    then the plugins' ``tether_assign_relationships`` for the records no rule matched, then
    the relationships created in bulk. Assignments to a relationship type that does not
    exist are left out and reported, naming the type and some of the records. None where
    nothing decided.
    """
    rules = compile_rules(session, entity)
    if not rules and not tenant.hooks.implementers("tether_assign_relationships"):
        return [None] * len(values), []  # nothing can decide: no per-record work
    shapes: dict[tuple[str, ...], tuple[tuple[str, str], ...]] = {}
    records = [rule_record(v, shapes) for v in values]
    assignments: list[RelationshipAssignment | None] = evaluate_rules(rules, records)
    pending = [i for i, a in enumerate(assignments) if a is None and records[i].get("company_id") is not None]
    if pending:
        offered = [records[i] for i in pending]
        answered = tenant.hooks.tether_assign_relationships(entity=entity, records=offered)
        if answered is not None:
            if len(answered) != len(offered):
                raise DomainError(f"tether_assign_relationships returned {len(answered)} assignments for "
                                  f"{len(offered)} records", hint="a plugin must return one entry per record")
            for index, assignment in zip(pending, answered):
                assignments[index] = assignment
    warnings = _drop_unknown_types(tenant, session, records, assignments)
    ids, _ = materialise(tenant, session, [r.get("company_id") for r in records], assignments)
    return ids, warnings


def _drop_unknown_types(tenant: "TenantContext", session: Session, records: Sequence[Mapping[str, Any]],
                        assignments: list[RelationshipAssignment | None]) -> list[str]:
    unknown: dict[str, list[int]] = {}
    known: dict[str, bool] = {}
    for index, assignment in enumerate(assignments):
        if assignment is None or records[index].get("company_id") is None:
            continue
        key = assignment.type_name.lower()
        if key not in known:
            try:
                resolve_type(tenant, session, type_name=assignment.type_name)
                known[key] = True
            except NotFound:
                known[key] = False
        if not known[key]:
            unknown.setdefault(assignment.type_name, []).append(index)
            assignments[index] = None
    warnings = []
    for type_name, indexes in unknown.items():
        named = ", ".join(repr(str(records[i].get("name") or records[i].get("_external_id") or "?"))
                          for i in indexes[:3])
        more = f" and {len(indexes) - 3} more" if len(indexes) > 3 else ""
        warnings.append(f"relationship type {type_name!r} does not exist: {len(indexes)} "
                        f"{'record was' if len(indexes) == 1 else 'records were'} left without a relationship "
                        f"({named}{more}); declare the type in the tenant manifest or fix the rule naming it")
    return warnings


__all__ = ["assign_relationship_ids", "refuse_bad_parents", "rule_record"]
