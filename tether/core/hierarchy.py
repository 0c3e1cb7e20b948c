"""Company hierarchy: at most five levels, no cycles, and rollups of numbers up the tree.

Parents come from Salesforce's ``ParentId`` (kept in ``parent_external_id`` so a child
that arrives first links up later) or are set by hand. Every change is checked: a
cycle or a sixth level is refused with an error naming the companies involved.
Rollups of numbers up the tree are in :mod:`tether.core.hierarchy_rollups`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import bindparam, literal, select, update
from sqlalchemy.orm import Session

from .errors import DomainError, NotFound
from .store import Company

log = logging.getLogger(__name__)

MAX_LEVELS = 5
ARROW = " › "


def _names(session: Session, ids: Sequence[int]) -> list[str]:
    found = dict(session.execute(select(Company.id, Company.name).where(Company.id.in_(list(ids)))).all())
    return [found.get(i, f"#{i}") for i in ids]


def get_company(session: Session, company_id: int) -> Company:
    company = session.get(Company, company_id)
    if company is None or company.is_deleted:
        raise NotFound(f"no company {company_id}", hint="list companies with GET /companies")
    return company


def ancestor_ids(session: Session, company_id: int) -> list[int]:
    """Ids from the root down to ``company_id`` (inclusive). Stops at a cycle in stored data."""
    up = select(Company.id, Company.parent_id, literal(0).label("depth")).where(Company.id == company_id) \
        .cte("up", recursive=True)
    parent = Company.__table__.alias("parent")
    up = up.union_all(
        select(parent.c.id, parent.c.parent_id, (up.c.depth + 1).label("depth"))
        .where(parent.c.id == up.c.parent_id, parent.c.tenant_id == _tenant(session),
               parent.c.is_deleted.is_(False), up.c.depth < MAX_LEVELS + 1)
    )
    walk: list[int] = []
    for row in session.execute(select(up.c.id).order_by(up.c.depth)):
        if row.id in walk:  # a cycle already in stored data: show the path once
            break
        walk.append(row.id)
    return walk[::-1]


def descendant_levels(session: Session, company_id: int) -> dict[int, int]:
    """``{descendant id: levels below company_id}`` (the company itself at 0)."""
    down = select(Company.id, literal(0).label("depth")).where(Company.id == company_id).cte("down", recursive=True)
    child = Company.__table__.alias("child")
    down = down.union_all(
        select(child.c.id, (down.c.depth + 1).label("depth"))
        .where(child.c.parent_id == down.c.id, child.c.tenant_id == _tenant(session), down.c.depth < MAX_LEVELS + 1)
    )
    levels: dict[int, int] = {}
    for row in session.execute(select(down.c.id, down.c.depth)):
        levels.setdefault(row.id, row.depth)
    return levels


def _tenant(session: Session) -> str:
    from .store.scoping import tenant_of

    tenant_id = tenant_of(session)
    if tenant_id is None:
        raise ValueError("hierarchy queries need a tenant session")
    return tenant_id


def check_parent(session: Session, company: Company, parent_id: int | None) -> None:
    """Refuse a parent that would make a cycle or a hierarchy deeper than five levels."""
    if parent_id is None:
        return
    if parent_id == company.id:
        raise DomainError(f"company {company.name!r} cannot be its own parent", field="parent_id")
    parent = session.get(Company, parent_id)
    if parent is None or parent.is_deleted:
        raise DomainError(f"no company {parent_id} to be the parent of {company.name!r}", field="parent_id")
    path = ancestor_ids(session, parent.id)
    if company.id in path:
        loop = path[path.index(company.id):] + [company.id]
        raise DomainError(
            f"{parent.name!r} cannot be the parent of {company.name!r}: {parent.name!r} is already below it "
            f"({ARROW.join(_names(session, loop))}), which would make a cycle",
            field="parent_id", hint="choose a parent that is not one of the company's descendants")
    below = descendant_levels(session, company.id)
    deepest = max(below.values(), default=0)
    levels = len(path) + 1 + deepest
    if levels > MAX_LEVELS:
        chain = path + [company.id] + _deepest_chain(session, company.id, below)
        raise DomainError(
            f"making {parent.name!r} the parent of {company.name!r} would make the hierarchy {levels} levels deep "
            f"({ARROW.join(_names(session, chain))}); at most {MAX_LEVELS} levels are allowed",
            field="parent_id", hint="attach the company higher up, or flatten the branch below it")


def _deepest_chain(session: Session, company_id: int, below: Mapping[int, int]) -> list[int]:
    if len(below) <= 1:
        return []
    deepest = max(below, key=lambda i: (below[i], -i))
    chain = ancestor_ids(session, deepest)
    return chain[chain.index(company_id) + 1:] if company_id in chain else [deepest]


def set_parent(session: Session, company_id: int, parent_id: int | None) -> Company:
    """Set a company's parent by hand after checking depth and cycles.

    A company mirrored from an external system keeps ``parent_external_id`` in step
    with the parent's external id, so the link survives the next sync and is pushed.
    """
    company = get_company(session, company_id)
    check_parent(session, company, parent_id)
    company.parent_id = parent_id
    if company.external_id is not None:
        parent = session.get(Company, parent_id) if parent_id is not None else None
        same_source = parent is not None and parent.external_source == company.external_source
        company.parent_external_id = parent.external_id if same_source else None
    session.flush()
    return company


# -- linking a whole tenant from ParentId ---------------------------------------------


@dataclasses.dataclass
class LinkReport:
    linked: int = 0
    unlinked: int = 0
    waiting: int = 0  # ParentId names a company not synced yet
    refused: list[str] = dataclasses.field(default_factory=list)


def link_parents(session: Session) -> LinkReport:
    """Resolve every company's ``parent_external_id`` to ``parent_id`` for the whole tenant.

    Links that would make a cycle or a sixth level are refused (the company stays at
    the top of its own branch) and reported naming the companies. One read of the
    tenant's companies, checks in memory, one batched update.
    """
    table = Company.__table__
    rows = session.execute(select(Company.id, Company.name, Company.parent_id, Company.external_source,
                                  Company.external_id, Company.parent_external_id)
                           .where(Company.is_deleted.is_(False)).order_by(Company.id)).all()
    by_external = {(r.external_source, r.external_id): r.id for r in rows if r.external_id}
    names = {r.id: r.name for r in rows}
    report = LinkReport()
    wanted: dict[int, int | None] = {}
    synced: set[int] = set()
    for r in rows:
        if r.parent_external_id:
            synced.add(r.id)
            target = by_external.get((r.external_source, r.parent_external_id))
            if target is None:
                report.waiting += 1
            wanted[r.id] = target
        else:
            wanted[r.id] = r.parent_id if r.parent_id in names else None
    _refuse_cycles(wanted, synced, names, report)
    _refuse_depth(wanted, synced, names, report)
    changes = [{"cid": r.id, "pid": wanted[r.id]} for r in rows if wanted[r.id] != r.parent_id]
    if changes:
        session.execute(update(table).where(table.c.tenant_id == _tenant(session), table.c.id == bindparam("cid"))
                        .values(parent_id=bindparam("pid")), changes)
        session.expire_all()
    report.linked = sum(1 for c in changes if c["pid"] is not None)
    report.unlinked = sum(1 for c in changes if c["pid"] is None)
    for message in report.refused:
        log.warning("tenant %s: %s", _tenant(session), message)
    return report


def _refuse_cycles(wanted: dict[int, int | None], synced: set[int], names: Mapping[int, str], report: LinkReport) -> None:
    state: dict[int, int] = {}  # 1 = on the current walk, 2 = done
    for start in sorted(wanted):
        walk: list[int] = []
        node: int | None = start
        while node is not None and state.get(node) is None:
            state[node] = 1
            walk.append(node)
            node = wanted.get(node)
        if node is not None and state.get(node) == 1:
            loop = walk[walk.index(node):]
            cut = min((n for n in loop if n in synced), default=min(loop))
            wanted[cut] = None
            # The walk went child → parent; show it top-down like every other path.
            down = loop[::-1]
            down = down[down.index(loop[0]):] + down[:down.index(loop[0])]
            report.refused.append(
                f"{ARROW.join(names[n] for n in down + [down[0]])} would be a cycle; "
                f"{names[cut]!r} was left without a parent")
        for n in walk:
            state[n] = 2


def _refuse_depth(wanted: dict[int, int | None], synced: set[int], names: Mapping[int, str], report: LinkReport) -> None:
    """Cut the link of every company that would sit on a sixth level; that mends all below it too."""
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
    deepest = [n for n, lvl in level.items() if lvl > MAX_LEVELS + 1]
    for node in sorted(n for n, lvl in level.items() if lvl == MAX_LEVELS + 1):
        path = [node]
        while wanted.get(path[-1]) is not None:
            path.append(wanted[path[-1]])
        path.reverse()
        deeper = sum(1 for n in deepest if _under(wanted, n, node))
        wanted[node] = None
        below = f" (and {deeper} {'company' if deeper == 1 else 'companies'} below it)" if deeper else ""
        report.refused.append(
            f"{ARROW.join(names[n] for n in path)} would be more than {MAX_LEVELS} levels deep; "
            f"{names[node]!r}{below} was left without a parent")


def _under(wanted: Mapping[int, int | None], node: int, ancestor: int) -> bool:
    current = wanted.get(node)
    while current is not None:
        if current == ancestor:
            return True
        current = wanted.get(current)
    return False


def hierarchy_problems(session: Session) -> list[str]:
    """Cycles and over-deep branches present in stored data (e.g. written by an older version)."""
    rows = session.execute(select(Company.id, Company.name, Company.parent_id).where(Company.is_deleted.is_(False))).all()
    names = {r.id: r.name for r in rows}
    wanted = {r.id: (r.parent_id if r.parent_id in names else None) for r in rows}
    report = LinkReport()
    _refuse_cycles(wanted, set(), names, report)
    _refuse_depth(wanted, set(), names, report)
    return [message.split(";")[0] for message in report.refused]


# -- reading the tree -----------------------------------------------------------------


def path_of(session: Session, company_id: int) -> list[dict[str, Any]]:
    ids = ancestor_ids(session, company_id)
    return [{"id": i, "name": n} for i, n in zip(ids, _names(session, ids))]


def children_of(session: Session, company_ids: Iterable[int]) -> dict[int, list[Company]]:
    out: dict[int, list[Company]] = defaultdict(list)
    for child in session.scalars(select(Company).where(Company.parent_id.in_(list(company_ids)),
                                                       Company.is_deleted.is_(False)).order_by(Company.name)):
        out[child.parent_id].append(child)
    return out


def subtree(session: Session, company_id: int) -> dict[str, Any]:
    """The company and every company below it as nested ``{id, name, level, children}``."""
    get_company(session, company_id)
    levels = descendant_levels(session, company_id)
    rows = session.execute(select(Company.id, Company.name, Company.parent_id)
                           .where(Company.id.in_(list(levels)), Company.is_deleted.is_(False))).all()
    nodes = {r.id: {"id": r.id, "name": r.name, "level": levels[r.id], "children": []} for r in rows}
    for r in sorted(rows, key=lambda r: r.name):
        if r.id != company_id and r.parent_id in nodes:
            nodes[r.parent_id]["children"].append(nodes[r.id])
    return nodes[company_id]
