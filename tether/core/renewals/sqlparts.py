"""Small SQL constructs that read the same on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Iterable, Sequence

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
    """Insert plain rows; ``json_columns`` are encoded here, aware times stored naive UTC."""
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    marker = "%s" if postgres else "?"
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([marker] * len(columns))})"
    encode = [i for i, name in enumerate(columns) if name in json_columns]

    converted: dict[dt.datetime, Any] = {}   # rows of one batch mostly share their timestamps

    def stored(value: dt.datetime) -> Any:
        found = converted.get(value)
        if found is None:
            naive = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
            found = converted[value] = naive if postgres else naive.isoformat(" ")
        return found

    dumps = json.JSONEncoder(separators=(",", ":")).encode

    def prepared():
        for row in rows:
            row = list(row)
            for i in encode:
                row[i] = dumps(row[i])
            for i, value in enumerate(row):
                if isinstance(value, dt.datetime):
                    row[i] = stored(value)
            yield row

    cursor = connection.connection.cursor()
    try:
        if postgres:   # COPY in text format, written in blocks: one stream, no per-value adaptation
            with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
                block: list[str] = []
                for row in prepared():
                    block.append("\t".join(_copy_text(value) for value in row))
                    if len(block) >= 5000:
                        copy.write("\n".join(block) + "\n")
                        block = []
                if block:
                    copy.write("\n".join(block) + "\n")
        else:
            cursor.executemany(sql, list(prepared()))
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
