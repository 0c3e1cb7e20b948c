"""Column-oriented storage for one sObject type.

One Python list per field keeps a million records cheap to seed (whole columns are built
at once) and cheap to stream (a Bulk result renders column slices, not per-record dicts).
Rows are never reused: hard-deleted rows are tombstoned in ``purged``.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from .ids import to18
from .schema import ObjectDef


class Table:
    """Records of one object type, stored as parallel columns."""

    def __init__(self, definition: ObjectDef) -> None:
        self.definition = definition
        self.columns: dict[str, list[Any]] = {name: [] for name in definition.fields}
        # Id → row, built lazily after bulk loads: hashing millions of ids would dominate seeding.
        self._row_of: dict[str, int] | None = {}
        self.purged: set[int] = set()
        self.deleted_at: dict[int, int] = {}
        self._external_indexes: dict[str, dict[Any, list[int]]] = {}
        self._size = 0

    # ------------------------------------------------------------------ shape
    def __len__(self) -> int:
        return self._size

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def row_of(self) -> dict[str, int]:
        """Index of live (non-purged) rows by 18-character id."""
        if self._row_of is None:
            ids = self.columns["Id"]
            index = dict(zip(ids, range(len(ids))))
            for row in self.purged:
                index.pop(ids[row], None)
            self._row_of = index
        return self._row_of

    def sync_columns(self) -> None:
        """Add empty columns for fields declared after rows were stored."""
        for name in self.definition.fields:
            if name not in self.columns:
                self.columns[name] = [None] * self._size

    def column(self, name: str) -> list[Any]:
        """The column of a canonical field name (created on demand for new custom fields)."""
        column = self.columns.get(name)
        if column is None:
            self.sync_columns()
            column = self.columns[name]
        return column

    # ------------------------------------------------------------------ rows
    def append(self, values: Mapping[str, Any]) -> int:
        """Store one record given canonical field names; returns its row."""
        row = self._size
        for name, column in self.columns.items():
            column.append(values.get(name))
        self._size += 1
        if self._row_of is not None:
            self._row_of[values["Id"]] = row
        for field_name, index in self._external_indexes.items():
            self._index_add(index, values.get(field_name), row)
        return row

    def pop_last(self) -> None:
        """Undo the most recent append (transaction rollback)."""
        row = self._size - 1
        record_id = self.columns["Id"][row]
        for column in self.columns.values():
            column.pop()
        self._size -= 1
        if self._row_of is not None:
            self._row_of.pop(record_id, None)
        self._external_indexes.clear()

    def extend(self, columns: Mapping[str, Sequence[Any]]) -> range:
        """Bulk-load whole columns (seeding); missing fields are null.  Returns the new rows."""
        count = len(columns["Id"])
        start = self._size
        for name, column in self.columns.items():
            given = columns.get(name)
            if given is None:
                column.extend([None] * count)
            else:
                if len(given) != count:
                    raise ValueError(f"column {name} has {len(given)} values, expected {count}")
                column.extend(given)
        self._row_of = None
        self._size += count
        self._external_indexes.clear()
        return range(start, start + count)

    def get(self, row: int, field: str) -> Any:
        return self.columns[field][row]

    def set(self, row: int, field: str, value: Any) -> None:
        """Write one value, keeping external-id indexes current."""
        column = self.columns[field]
        index = self._external_indexes.get(field)
        if index is not None:
            self._index_remove(index, column[row], row)
            self._index_add(index, value, row)
        column[row] = value

    def row_for_id(self, record_id: str) -> int | None:
        """Row of a 15- or 18-character id (None if unknown or purged)."""
        if len(record_id) == 15:
            try:
                record_id = to18(record_id)
            except ValueError:
                return None
        return self.row_of.get(record_id)

    def is_deleted(self, row: int) -> bool:
        return row in self.deleted_at

    def live_rows(self, include_deleted: bool = False) -> Sequence[int]:
        """Rows a query sees: all non-purged rows, minus the recycle bin unless ``include_deleted``."""
        if not self.purged and (include_deleted or not self.deleted_at):
            return range(self._size)
        hidden = self.purged if include_deleted else self.purged | self.deleted_at.keys()
        return [row for row in range(self._size) if row not in hidden]

    def record(self, row: int, fields: Iterable[str] | None = None) -> dict[str, Any]:
        """Stored values of one row as a dict of canonical names."""
        names = self.columns.keys() if fields is None else fields
        return {name: self.column(name)[row] for name in names}

    # ------------------------------------------------------------------ external ids
    def external_index(self, field: str) -> dict[Any, list[int]]:
        """Value → rows for an external-id field; built on first use, kept current after."""
        index = self._external_indexes.get(field)
        if index is None:
            index = {}
            for row, value in enumerate(self.column(field)):
                if row not in self.purged:
                    self._index_add(index, value, row)
            self._external_indexes[field] = index
        return index

    def drop_indexes(self) -> None:
        self._external_indexes.clear()

    @staticmethod
    def _key(value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    def _index_add(self, index: dict[Any, list[int]], value: Any, row: int) -> None:
        if value is not None:
            index.setdefault(self._key(value), []).append(row)

    def _index_remove(self, index: dict[Any, list[int]], value: Any, row: int) -> None:
        if value is None:
            return
        rows = index.get(self._key(value))
        if rows and row in rows:
            rows.remove(row)
            if not rows:
                del index[self._key(value)]

    def purge(self, row: int) -> None:
        """Tombstone a row (hard delete / recycle bin emptied)."""
        record_id = self.columns["Id"][row]
        self.purged.add(row)
        self.deleted_at.pop(row, None)
        if self._row_of is not None:
            self._row_of.pop(record_id, None)
        self._external_indexes.clear()
