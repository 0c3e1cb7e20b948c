"""Records as REST JSON: ``attributes`` blocks, nested parent relationships, typed values."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from .soql_eval import CompiledQuery
from .table import Table
from .values import bulk_json_value, json_value


def attributes(object_name: str, record_id: str | None, version: str) -> dict[str, str]:
    """``{"type": ..., "url": "/services/data/vXX.X/sobjects/<type>/<id>"}``."""
    attrs = {"type": object_name}
    if record_id:
        attrs["url"] = f"/services/data/v{version}/sobjects/{object_name}/{record_id}"
    return attrs


def record_json(table: Table, row: int, fields: Iterable[str], version: str) -> dict[str, Any]:
    """One stored record with the given canonical fields, as ``GET sobjects/X/id`` returns it."""
    definition = table.definition
    out: dict[str, Any] = {"attributes": attributes(definition.name, table.columns["Id"][row], version)}
    for name in fields:
        out[name] = json_value(definition.fields[name].type, table.column(name)[row])
    return out


def query_records(compiled: CompiledQuery, rows: Sequence[int], version: str, *, bulk: bool = False
                  ) -> list[dict[str, Any]]:
    """Query result records with nested parent objects (``"Account": {"attributes":…, "Name":…}``).

    ``bulk=True`` renders Bulk API 1.0 JSON, whose datetimes are epoch milliseconds.
    """
    convert = bulk_json_value if bulk else json_value
    root = compiled.definition.name
    id_column = compiled.table.columns["Id"]
    records = []
    for row in rows:
        record: dict[str, Any] = {"attributes": attributes(root, id_column[row], version)}
        for path in compiled.paths:
            if not path.hops:
                record[path.field.name] = convert(path.field.type, compiled.table.columns[path.field.name][row])
                continue
            reached = compiled.parent_of(path.hops, row)
            target = record
            for depth, hop in enumerate(path.hops):
                name = path.names[depth]
                located = reached[depth] if depth < len(reached) else None
                if located is None:
                    target.setdefault(name, None)
                    break
                table, parent_row = located
                nested = target.get(name)
                if not isinstance(nested, dict):
                    nested = {"attributes": attributes(table.name, table.columns["Id"][parent_row], version)}
                    target[name] = nested
                target = nested
            else:
                table, parent_row = reached[-1]  # type: ignore[misc]
                column = table.columns.get(path.field.name)
                target[path.field.name] = convert(path.field.type, column[parent_row] if column else None)
        records.append(record)
    return records
