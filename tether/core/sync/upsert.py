"""The hot statement of an inbound sync: ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``,
written for SQLite and PostgreSQL alike and run on the session's own DBAPI connection
(inside the page's transaction): multi-row on SQLite, a pipelined executemany of one
prepared statement on PostgreSQL (psycopg 3).

Going below SQLAlchemy's executemany here matters: per row it would build a dict, run
every column's bind processor and (for RETURNING) re-assemble batches. This writer
builds tuples, runs the *same* bind processors (so values are stored exactly as the ORM
stores them: Money as cents, UTC datetimes, JSON) only on columns that need one, and on
SQLite sends as many rows per statement as its parameter limit allows.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable, Iterable, Iterator, Sequence

from sqlalchemy import Table
from sqlalchemy.engine import Dialect

# Bound parameters per statement: SQLite's default limit is 32766, PostgreSQL's 65535.
MAX_PARAMETERS = {"sqlite": 32_000, "postgresql": 60_000}
MAX_ROWS_PER_STATEMENT = 1000
KEY = ("tenant_id", "external_source", "external_id")
_MISSING = object()


class MultiRowStatements:
    """``head (…), (…), … tail`` statements for chunks of up to ``rows_per_statement`` rows:
    each text is built once per chunk size, and ``chunks(rows)`` yields it with the chunk's
    values flattened into one parameter list."""

    def __init__(self, head: str, row_marks: str, tail: str, rows_per_statement: int) -> None:
        self.head, self.row_marks, self.tail = head, row_marks, tail
        self.rows_per_statement = rows_per_statement
        self._texts: dict[int, str] = {}

    def text(self, rows: int) -> str:
        text = self._texts.get(rows)
        if text is None:
            text = self._texts[rows] = self.head + ", ".join([self.row_marks] * rows) + self.tail
        return text

    def chunks(self, rows: Iterable[Sequence[Any]]) -> Iterator[tuple[str, list[Any]]]:
        iterator = iter(rows)
        while chunk := list(itertools.islice(iterator, self.rows_per_statement)):
            yield self.text(len(chunk)), list(itertools.chain.from_iterable(chunk))


class UpsertWriter:
    """``write(cursor, rows)`` upserts tuples in ``columns`` order; returns
    ``{external_id: (id, inserted)}`` of the rows inserted or changed (rows the stamp rule
    kept are not returned). ``inserted`` is known on PostgreSQL (``xmax = 0``), None on
    SQLite."""

    def __init__(self, dialect: Dialect, table: Table, columns: Sequence[str], *, merge_attributes: bool,
                 full_reload: bool, keep_when_null: Sequence[str] = ()) -> None:
        self.dialect_name = dialect.name
        self.table = table
        self.columns = list(columns)
        self.processors: list[tuple[int, Callable[[Any], Any]]] = []
        for index, name in enumerate(self.columns):
            processor = table.c[name].type._cached_bind_processor(dialect)
            if processor is not None:
                self.processors.append((index, processor))
        placeholder = "?" if dialect.name == "sqlite" else "%s"
        row_marks = "(" + ", ".join([placeholder] * len(self.columns)) + ")"
        limit = MAX_PARAMETERS.get(dialect.name, 30_000)
        rows_per_statement = max(1, min(MAX_ROWS_PER_STATEMENT, limit // len(self.columns)))
        name = table.name
        updates = []
        for column in self.columns:
            if column in KEY or column == "created_at":
                continue
            if column == "attributes" and merge_attributes:
                merged = (f"{name}.attributes || excluded.attributes" if dialect.name == "postgresql"
                          else f"json_patch({name}.attributes, excluded.attributes)")
                updates.append(f"attributes = {merged}")
            elif column == "attributes":
                continue  # attributes belong to tether unless the mapping writes some
            elif column in keep_when_null:
                # Set by a rule only when it decides: an undecided row keeps its value.
                updates.append(f"{column} = COALESCE(excluded.{column}, {name}.{column})")
            else:
                updates.append(f"{column} = excluded.{column}")
        newer = ">=" if full_reload else ">"
        tail = (f" ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET {', '.join(updates)} "
                f"WHERE {name}.source_modstamp IS NULL OR excluded.source_modstamp IS NULL "
                f"OR excluded.source_modstamp {newer} {name}.source_modstamp RETURNING id, external_id"
                + (", (xmax = 0)" if dialect.name == "postgresql" else ""))
        self.statements = MultiRowStatements(f"INSERT INTO {name} ({', '.join(self.columns)}) VALUES ", row_marks,
                                             tail, rows_per_statement)

    def convert(self, rows: Sequence[Sequence[Any]]) -> list[Sequence[Any]]:
        """Database values: each column's bind processor, for the columns that have one.

        Column by column rather than row by row: values repeat a lot within a page (dates,
        stages, flags, the page's own timestamp), so each distinct value converts once, and
        the per-value work left is one dict lookup inside a list comprehension.
        """
        if not self.processors or not rows:
            return list(rows)
        columns = list(zip(*rows))
        for index, processor in self.processors:
            columns[index] = _convert_column(columns[index], processor)
        return list(zip(*columns))

    def write(self, cursor: Any, rows: Sequence[Sequence[Any]]) -> dict[str, tuple[int, bool | None]]:
        written: dict[str, tuple[int, bool | None]] = {}
        converted = self.convert(rows)
        if self.dialect_name == "postgresql":
            # psycopg pipelines executemany of one prepared statement: faster on PostgreSQL
            # than a statement with thousands of parameters to parse and plan each time.
            cursor.executemany(self.statements.text(1), converted, returning=True)
            while True:
                for local_id, external_id, inserted in cursor.fetchall():
                    written[external_id] = (local_id, inserted)
                if not cursor.nextset():
                    break
            return written
        for text, params in self.statements.chunks(converted):
            cursor.execute(text, params)
            for local_id, external_id in cursor.fetchall():
                written[external_id] = (local_id, None)
        return written


def _convert_column(values: Sequence[Any], processor: Callable[[Any], Any]) -> list[Any]:
    try:
        distinct = set(values)
    except TypeError:  # dicts or lists (JSON): the same object converts once
        return _convert_objects(values, processor)
    done = {value: processor(value) for value in distinct if value is not None}
    done[None] = None
    return [done[value] for value in values]


def _convert_objects(values: Sequence[Any], processor: Callable[[Any], Any]) -> list[Any]:
    done: dict[Any, Any] = {}
    converted = []
    for value in values:
        if value is None:
            converted.append(None)
            continue
        key = value
        try:
            result = done.get(key, _MISSING)
        except TypeError:  # unhashable: by identity
            key = ("object", id(value))
            result = done.get(key, _MISSING)
        if result is _MISSING:
            result = done[key] = processor(value)
        converted.append(result)
    return converted
