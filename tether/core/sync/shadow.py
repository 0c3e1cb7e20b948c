"""Last-synced values (shadows): comparing values across the boundary, and taking the base.

Values meet here from three places: source records (JSON numbers, or text from an
Outbound Message), outbox entries (tether values stored as JSON) and local rows (Python
values). :func:`canonical` turns each into one comparable JSON form per field type, so
``"120000.0"``, ``120000`` and ``Decimal("120000.00")`` are the same money.

The base of a record is taken when it is first changed locally: the values of its
inbound fields *before* the change. Edit paths change the row and then call
:func:`~tether.core.sync.outbox.capture_local_change` in the same transaction, often
after a flush, so the values before the change are remembered at flush time by a
listener on every tenant session (:func:`_remember_before_flush`).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Mapping

from sqlalchemy import bindparam, event, inspect, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.base import NO_VALUE

from ..contracts import ObjectMapping
from ..store.models import Company, Opportunity, Relationship
from ..store.scoping import TENANT_KEY
from .coerce import converter, format_datetime, to_datetime
from .mappings import inbound_fields
from .writeback_models import SyncShadow

ENTITY_MODELS: dict[str, Any] = {"company": Company, "opportunity": Opportunity, "relationship": Relationship}
_MODEL_ENTITY = {model: entity for entity, model in ENTITY_MODELS.items()}
ATTRIBUTE_PREFIX = "attributes."
BEFORE_KEY = "tether.sync.before"
CENTS = Decimal("0.01")
_TEXT = frozenset({"string", "text", "picklist", "reference", "id"})


# -- comparable values ------------------------------------------------------------------

def canonical(type_name: str, value: Any) -> Any:
    """One JSON value per meaning, for comparing a field's values from anywhere."""
    if value is None or value == "":
        return None
    try:
        if type_name in _TEXT:
            return value if isinstance(value, str) else str(value)
        if type_name == "money":
            amount = value if isinstance(value, Decimal) else Decimal(str(value))
            return str(amount.quantize(CENTS))
        if type_name in ("float", "percent"):
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        if type_name == "datetime":
            return format_datetime(to_datetime(value))
        converted = converter(type_name)(value)
    except (ValueError, TypeError, InvalidOperation, ArithmeticError):
        return str(value)
    if isinstance(converted, dt.date):
        return converted.isoformat()
    return converted


def python_value(type_name: str, value: Any) -> Any:
    """A canonical (JSON) value back as the Python value tether stores."""
    if value is None:
        return None
    if type_name == "money":
        return Decimal(str(value))
    return converter(type_name)(value)


def field_types(mapping: ObjectMapping) -> dict[str, str]:
    """tether field → field type, inbound mappings first."""
    types: dict[str, str] = {}
    for field in sorted(mapping.fields, key=lambda f: f.direction == "outbound"):
        types.setdefault(field.target, field.type)
    return types


# -- the values before a local change ---------------------------------------------------

@event.listens_for(Session, "before_flush")
def _remember_before_flush(session: Session, flush_context: Any, instances: Any) -> None:
    """Keep the pre-change values of synced rows changed in this transaction (first wins)."""
    if TENANT_KEY not in session.info:
        return
    memo = None
    for obj in session.dirty:
        entity = _MODEL_ENTITY.get(type(obj))
        if entity is None or getattr(obj, "external_id", None) is None:
            continue
        changed = _unflushed_old_values(obj)
        if not changed:
            continue
        if memo is None:
            memo = session.info.setdefault(BEFORE_KEY, {})
        remembered = memo.setdefault((entity, obj.id), {})
        for name, old in changed.items():
            remembered.setdefault(name, old)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, *args: Any) -> None:
    session.info.pop(BEFORE_KEY, None)


def _unflushed_old_values(obj: Any) -> dict[str, Any]:
    """Original values of the attributes changed since the last flush (SQLAlchemy keeps
    them in ``committed_state``; reading it beats asking every attribute's history)."""
    state = inspect(obj)
    if not state.committed_state:
        return {}
    columns = state.mapper.column_attrs
    return {key: value for key, value in state.committed_state.items()
            if value is not NO_VALUE and key in columns}


def values_before_change(session: Session, entity: str, row: Any, targets: Iterable[str]) -> dict[str, Any]:
    """Each target's value on ``row`` before this transaction changed it."""
    before = dict(session.info.get(BEFORE_KEY, {}).get((entity, row.id), {}))
    for name, old in _unflushed_old_values(row).items():
        before.setdefault(name, old)
    values: dict[str, Any] = {}
    for target in targets:
        if target.startswith(ATTRIBUTE_PREFIX):
            attributes = before.get("attributes", row.attributes) or {}
            values[target] = attributes.get(target[len(ATTRIBUTE_PREFIX):])
        elif target in before:
            values[target] = before[target]
        else:
            values[target] = getattr(row, target, None)
    return values


# -- shadows ----------------------------------------------------------------------------

def remember_base(session: Session, tenant_id: str, mapping: ObjectMapping, *, entity: str, local_id: int,
                  external_id: str | None) -> SyncShadow:
    """The record's shadow, created from its pre-change values when it has none.

    Called when a local change is captured. A record that already has a shadow keeps its
    base: the base is what both sides last agreed on, not what the previous local edit set.
    """
    shadow = session.scalar(select(SyncShadow).where(
        SyncShadow.connector == mapping.connector, SyncShadow.object_name == mapping.object_name,
        SyncShadow.local_id == local_id))
    if shadow is not None:
        if external_id and not shadow.external_id:
            shadow.external_id = external_id
        return shadow
    base: dict[str, Any] = {}
    base_modstamp = None
    model = ENTITY_MODELS.get(entity)
    row = session.get(model, local_id) if model is not None and external_id else None
    if row is not None:
        types = field_types(mapping)
        targets = [f.target for f in inbound_fields(mapping)]
        before = values_before_change(session, entity, row, targets)
        base = {target: canonical(types[target], value) for target, value in before.items()}
        base_modstamp = row.source_modstamp
    shadow = SyncShadow(tenant_id=tenant_id, connector=mapping.connector, object_name=mapping.object_name,
                        entity=entity, local_id=local_id, external_id=external_id, base=base,
                        base_modstamp=base_modstamp)
    session.add(shadow)
    return shadow


def load_shadows(session: Session, connector: str, object_name: str, *, external_ids: Iterable[str] = (),
                 local_ids: Iterable[int] = (), chunk: int = 900) -> list[SyncShadow]:
    """Shadows of these records (by source id or local id), in the session for updating."""
    found: dict[int, SyncShadow] = {}
    for column, keys in ((SyncShadow.external_id, sorted(set(external_ids))),
                         (SyncShadow.local_id, sorted(set(local_ids)))):
        statement = select(SyncShadow).where(SyncShadow.connector == connector, SyncShadow.object_name == object_name,
                                             column.in_(bindparam("keys", expanding=True)))
        for start in range(0, len(keys), chunk):
            for shadow in session.scalars(statement, {"keys": keys[start:start + chunk]}):
                found[shadow.id] = shadow
    return list(found.values())


def merged_base(shadow: SyncShadow, values: Mapping[str, Any]) -> None:
    """Set base values (a new dict, so the JSON column sees the change)."""
    shadow.base = {**(shadow.base or {}), **values}
