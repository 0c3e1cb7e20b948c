"""Small SQL constructs that read the same on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import json
import threading
from typing import Any, Iterable, Iterator, Sequence

from sqlalchemy import BigInteger, Integer
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement, type_coerce


class least_or_null(FunctionElement):
    """The smaller of two values, or NULL when either is NULL.

    SQLite's two-argument ``min`` already behaves so; PostgreSQL's ``LEAST`` ignores NULLs,
    so there it is spelled out.
    """

    inherit_cache = True
    type = BigInteger()


@compiles(least_or_null)
def _least_default(element, compiler, **kw):
    a, b = list(element.clauses)
    a_sql, b_sql = compiler.process(a, **kw), compiler.process(b, **kw)
    return f"CASE WHEN {a_sql} IS NULL OR {b_sql} IS NULL THEN NULL ELSE LEAST({a_sql}, {b_sql}) END"


@compiles(least_or_null, "sqlite")
def _least_sqlite(element, compiler, **kw):
    a, b = list(element.clauses)
    return f"min({compiler.process(a, **kw)}, {compiler.process(b, **kw)})"


class month_of(FunctionElement):
    """A date column's month as ``year * 12 + month - 1`` (see ``periods.month_index``)."""

    inherit_cache = True
    type = Integer()


@compiles(month_of)
def _month_default(element, compiler, **kw):
    (column,) = list(element.clauses)
    sql = compiler.process(column, **kw)
    return f"(CAST(EXTRACT(YEAR FROM {sql}) AS INTEGER) * 12 + CAST(EXTRACT(MONTH FROM {sql}) AS INTEGER) - 1)"


@compiles(month_of, "sqlite")
def _month_sqlite(element, compiler, **kw):
    (column,) = list(element.clauses)
    sql = compiler.process(column, **kw)
    # Dates are ISO text in SQLite; substr is several times faster than strftime.
    return f"(CAST(substr({sql}, 1, 4) AS INTEGER) * 12 + CAST(substr({sql}, 6, 2) AS INTEGER) - 1)"


class day_number(FunctionElement):
    """A date column as days since 1970-01-01 (an integer, no date parsing in bulk reads)."""

    inherit_cache = True
    type = Integer()


@compiles(day_number)
def _day_default(element, compiler, **kw):
    (column,) = list(element.clauses)
    return f"({compiler.process(column, **kw)} - DATE '1970-01-01')"


@compiles(day_number, "sqlite")
def _day_sqlite(element, compiler, **kw):
    (column,) = list(element.clauses)
    return f"CAST(julianday({compiler.process(column, **kw)}) - 2440587.5 AS INTEGER)"


def cents(column) -> ColumnElement:
    """A Money column as its stored integer cents (skips Decimal conversion in bulk sums)."""
    return type_coerce(column, BigInteger())


# -- bulk paths ---------------------------------------------------------------------------
# For a hundred thousand rows, building SQLAlchemy rows and processing bound values cost
# more than the database work; these two run a compiled statement on the DBAPI cursor.


_paused = 0
_paused_lock = threading.Lock()


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector over a bulk section.

    Reading a few hundred thousand rows creates as many tuples, and every full collection
    the allocations trigger walks the whole heap again: a quarter of a scoring run's CPU.
    The rows hold no reference cycles, so nothing is lost by collecting once afterwards.
    Nested and concurrent sections share one pause; the last to leave resumes collection."""
    global _paused
    with _paused_lock:
        resume = _paused == 0 and gc.isenabled()
        if resume or _paused:
            _paused += 1
        gc.disable()
    try:
        yield
    finally:
        with _paused_lock:
            if _paused:
                _paused -= 1
                if _paused == 0:
                    gc.enable()


def fetch_tuples(connection, statement) -> list[tuple]:
    """All rows of a Core ``statement`` as the driver's plain tuples: bind values are
    processed by SQLAlchemy, result rows are not wrapped (bulk reads of many rows)."""
    result = connection.execute(statement)
    cursor = getattr(result, "cursor", None)
    try:
        if cursor is not None:
            return cursor.fetchall()
        return [tuple(row) for row in result]
    finally:
        result.close()


def raw_fetchall(session, statement) -> list[tuple]:
    """All rows of a Core ``statement`` as plain tuples (no type processing)."""
    connection = session.connection()
    compiled = statement.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    cursor = connection.connection.cursor()
    try:
        if compiled.positiontup is not None:
            cursor.execute(str(compiled), [compiled.params[name] for name in compiled.positiontup])
        else:
            cursor.execute(str(compiled), compiled.params)
        return cursor.fetchall()
    finally:
        cursor.close()


def raw_insert(session, table, columns: Sequence[str], rows: Iterable[Sequence[Any]], *, json_columns=()) -> None:
    """Insert plain rows; ``json_columns`` are encoded here, aware times stored naive UTC.

    Values are converted column by column (a column is looked at only if it holds times or
    JSON), so rows that need nothing reach the driver untouched."""
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    marker = "%s" if postgres else "?"
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([marker] * len(columns))})"
    values = [list(column) for column in zip(*rows)]
    if not values:
        return
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    converted: dict[dt.datetime, Any] = {}   # rows of one batch mostly share their timestamps

    def stored(value: Any) -> Any:
        if not isinstance(value, dt.datetime):
            return value
        found = converted.get(value)
        if found is None:
            naive = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
            found = converted[value] = naive if postgres else naive.isoformat(" ")
        return found

    for position, name in enumerate(columns):
        if name in json_columns:
            values[position] = list(map(dumps, values[position]))
        elif any(issubclass(kind, dt.datetime) for kind in set(map(type, values[position]))):
            values[position] = list(map(stored, values[position]))
    cursor = connection.connection.cursor()
    try:
        if postgres:   # COPY in text format, written in blocks: one stream, no per-value adaptation
            with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
                block: list[str] = []
                for row in zip(*values):
                    block.append("\t".join(_copy_text(value) for value in row))
                    if len(block) >= 5000:
                        copy.write("\n".join(block) + "\n")
                        block = []
                if block:
                    copy.write("\n".join(block) + "\n")
        else:
            cursor.executemany(sql, zip(*values))
    finally:
        cursor.close()


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: Any) -> str:
    """A value in PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dt.datetime):
        return value.isoformat(" ")
    return str(value).translate(_COPY_ESCAPES)
