"""CSV in and out of the Bulk APIs.

Query results are rendered column-wise in chunks: each selected field's values for a
chunk of rows are formatted in one pass, then rows are joined with ``str.join`` — no
per-record dicts — which is what lets the fake stream a million records in seconds.
Salesforce quotes every value (``"Id","Name"``) and writes null as ``""``.
"""

from __future__ import annotations

import csv
import io
from typing import Any, Iterator, Sequence

from .values import column_renderer

DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
CHUNK_ROWS = 20_000


def render_rows(compiled: Any, rows: Sequence[int], *, delimiter: str = ",", line_ending: str = "\n",
                header: bool = True, chunk_rows: int = CHUNK_ROWS) -> Iterator[bytes]:
    """UTF-8 CSV chunks for the selected paths of ``compiled`` over ``rows``."""
    paths = compiled.paths
    quote_join = f'"{delimiter}"'
    row_join = f'"{line_ending}"'
    renderers = [column_renderer(path.field.type) for path in paths]
    if header:
        yield ('"' + quote_join.join(path.label for path in paths) + '"' + line_ending).encode()
    for start in range(0, len(rows), chunk_rows):
        chunk = rows[start:start + chunk_rows]
        columns = [render(compiled.values(path, chunk)) for path, render in zip(paths, renderers)]
        if len(columns) == 1:
            lines = columns[0]
        else:
            lines = list(map(quote_join.join, zip(*columns)))
        yield ('"' + row_join.join(lines) + '"' + line_ending).encode()


def render_table(header: Sequence[str], rows: Sequence[Sequence[str]], *, delimiter: str = ",",
                 line_ending: str = "\n") -> bytes:
    """Small CSV (ingest results) with every value quoted."""
    def line(values: Sequence[str]) -> str:
        return delimiter.join('"' + (v or "").replace('"', '""') + '"' for v in values)
    return "".join(line(values) + line_ending for values in [header, *rows]).encode()


def parse_records(data: bytes, *, delimiter: str = ",") -> tuple[list[str], list[list[str]]]:
    """(header, rows) of uploaded CSV; a leading BOM is ignored, blank lines skipped."""
    text = data.decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = [row for row in reader if row and any(cell != "" for cell in row)]
    if not rows:
        return [], []
    return rows[0], rows[1:]


def row_values(header: Sequence[str], row: Sequence[str]) -> dict[str, Any]:
    """One CSV record as API input: empty cells are left out (Bulk ignores them), ``#N/A`` means null."""
    values: dict[str, Any] = {}
    for name, cell in zip(header, row):
        if cell == "":
            continue
        values[name] = None if cell == "#N/A" else cell
    return values
