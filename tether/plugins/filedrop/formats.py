"""Reading CSV and Parquet files: their columns, their row count, and their rows in batches.

Rows are numbered from 1 (the first data row) in file order; a read can start at any row
without holding the file in memory: CSV streams through :mod:`csv`, Parquet skips whole
row groups by their metadata and reads the rest in record batches through pyarrow.
Anything malformed (a ragged CSV line, a duplicate column, bytes that are not the
configured encoding, a corrupt Parquet footer) is a permanent error naming the file and
the line.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
from typing import Any, Iterator, Sequence

from tether.core.errors import ConnectorError, PermanentConnectorError

from .storage import DropFile, classify_os_error

UTC = dt.timezone.utc
# csv refuses fields past 128 KiB by default; product exports carry long JSON cells.
csv.field_size_limit(16 * 1024 * 1024)


@dataclasses.dataclass(frozen=True)
class FormatOptions:
    delimiter: str = ","
    encoding: str = "utf-8"


@dataclasses.dataclass(frozen=True)
class Column:
    name: str
    type: str  # a tether FieldType


Batch = list[tuple[int, dict[str, Any]]]


def _malformed(file: DropFile, where: str, problem: str) -> PermanentConnectorError:
    return PermanentConnectorError(
        f"filedrop: {file.path.parent.name}/{file.name} {where}: {problem}", code="MALFORMED_FILE",
        hint="fix or replace the file (a replaced file is read again from its first row); "
             "nothing after it is read until then")


# -- CSV -------------------------------------------------------------------------------------


def _csv_encoding(options: FormatOptions) -> str:
    return "utf-8-sig" if options.encoding.lower().replace("_", "-") in ("utf-8", "utf8") else options.encoding


def _csv_header(file: DropFile, reader: Any) -> list[str]:
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise _malformed(file, "line 1", str(exc)) from None
    if not header:
        return []
    names = [name.strip() for name in header]
    if any(not name for name in names):
        raise _malformed(file, "line 1", f"column {names.index('') + 1} has no name")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise _malformed(file, "line 1", f"column(s) {', '.join(twice)} appear twice")
    return names


def _open_text(file: DropFile, options: FormatOptions):
    try:
        return open(file.path, newline="", encoding=_csv_encoding(options))
    except OSError as exc:
        raise classify_os_error(exc, f"opening {file.path.parent.name}/{file.name}") from None


def _csv_columns(file: DropFile, options: FormatOptions) -> list[Column]:
    with _open_text(file, options) as handle:
        try:
            return [Column(name, "string") for name in _csv_header(file, csv.reader(handle, delimiter=options.delimiter))]
        except UnicodeDecodeError as exc:
            raise _malformed(file, "line 1", f"not {options.encoding} text ({exc.reason})") from None


def _csv_rows(file: DropFile, options: FormatOptions, start: int, batch_size: int,
              wanted: Sequence[str] | None) -> Iterator[Batch]:
    handle = _open_text(file, options)
    with handle:
        reader = csv.reader(handle, delimiter=options.delimiter)
        number = 0
        try:
            header = _csv_header(file, reader)
            positions = [(name, index) for index, name in enumerate(header) if wanted is None or name in wanted]
            width = len(header)
            batch: Batch = []
            for values in reader:
                if not values:
                    continue  # a blank line
                number += 1
                if number < start:
                    continue
                if len(values) != width:
                    raise _malformed(file, f"line {reader.line_num}",
                                     f"{len(values)} fields where the header has {width}")
                batch.append((number, {name: values[index] for name, index in positions}))
                if len(batch) >= batch_size:
                    yield batch
                    batch = []
            if batch:
                yield batch
        except csv.Error as exc:
            raise _malformed(file, f"line {reader.line_num}", str(exc)) from None
        except UnicodeDecodeError as exc:
            raise _malformed(file, f"after data row {number}", f"not {options.encoding} text ({exc.reason})") from None
        except ConnectorError:
            raise
        except OSError as exc:
            raise classify_os_error(exc, f"reading {file.path.parent.name}/{file.name}") from None


# -- Parquet ---------------------------------------------------------------------------------


def _pyarrow():
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise PermanentConnectorError("filedrop: Parquet files need pyarrow, which is not installed",
                                      code="NO_PYARROW", hint="pip install 'tether[parquet]'") from None
    return pyarrow


def _field_type(arrow_type: Any) -> str:
    import pyarrow.types as t

    if t.is_boolean(arrow_type):
        return "boolean"
    if t.is_integer(arrow_type):
        return "integer"
    if t.is_floating(arrow_type) or t.is_decimal(arrow_type):
        return "float"
    if t.is_timestamp(arrow_type):
        return "datetime"
    if t.is_date(arrow_type):
        return "date"
    if t.is_string(arrow_type) or t.is_large_string(arrow_type) or t.is_dictionary(arrow_type):
        return "string"
    return "json"


def _parquet_file(file: DropFile):
    pa = _pyarrow()
    try:
        return pa.parquet.ParquetFile(file.path)
    except OSError as exc:
        if isinstance(exc, pa.ArrowException) and exc.errno is None:
            raise _malformed(file, "footer", str(exc)) from None
        raise classify_os_error(exc, f"opening {file.path.parent.name}/{file.name}") from None
    except pa.ArrowException as exc:
        raise _malformed(file, "footer", str(exc)) from None


def _parquet_columns(file: DropFile) -> list[Column]:
    schema = _parquet_file(file).schema_arrow
    return [Column(field.name, _field_type(field.type)) for field in schema]


def _python(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # Parquet timestamps without a zone are taken as UTC
    return value


def _parquet_rows(file: DropFile, start: int, batch_size: int, wanted: Sequence[str] | None) -> Iterator[Batch]:
    pa = _pyarrow()
    parquet = _parquet_file(file)
    names = [f.name for f in parquet.schema_arrow]
    columns = [n for n in names if wanted is None or n in wanted]
    first = 1
    groups = []
    for index in range(parquet.metadata.num_row_groups):
        rows = parquet.metadata.row_group(index).num_rows
        if first + rows > start:
            groups.append(index)
        else:
            first += rows  # a whole row group before the start: skipped by its metadata
    if not groups:
        return
    number = first - 1
    # Only timestamps without a zone need a change per value (they are taken as UTC).
    naive = [f.name for f in parquet.schema_arrow
             if f.name in columns and pa.types.is_timestamp(f.type) and f.type.tz is None]
    try:
        for record_batch in parquet.iter_batches(batch_size=batch_size, row_groups=groups, columns=columns):
            rows = record_batch.to_pylist()
            if naive:
                for row in rows:
                    for name in naive:
                        row[name] = _python(row[name])
            skip = max(start - number - 1, 0)
            batch: Batch = [(number + 1 + index, row) for index, row in enumerate(rows) if index >= skip]
            number += len(rows)
            if batch:
                yield batch
    except OSError as exc:
        if isinstance(exc, pa.ArrowException) and exc.errno is None:
            raise _malformed(file, f"after data row {number}", str(exc)) from None
        raise classify_os_error(exc, f"reading {file.path.parent.name}/{file.name}") from None
    except pa.ArrowException as exc:
        raise _malformed(file, f"after data row {number}", str(exc)) from None


# -- either ----------------------------------------------------------------------------------


def columns(file: DropFile, options: FormatOptions) -> list[Column]:
    return _parquet_columns(file) if file.format == "parquet" else _csv_columns(file, options)


def rows(file: DropFile, options: FormatOptions, *, start: int = 1, batch_size: int = 2000,
         wanted: Sequence[str] | None = None) -> Iterator[Batch]:
    """Batches of ``(row number, {column: value})`` from row ``start`` on (only ``wanted`` columns)."""
    if file.format == "parquet":
        return _parquet_rows(file, start, batch_size, wanted)
    return _csv_rows(file, options, start, batch_size, wanted)


def row_count(file: DropFile) -> int | None:
    """Rows in the file when its metadata says so (Parquet); None for CSV (it would mean reading it)."""
    if file.format != "parquet":
        return None
    return _parquet_file(file).metadata.num_rows
