"""The file drop connector: the engine's :class:`~tether.core.connectors.Connector` over a
folder of CSV and Parquet files.

Each sub-folder is an object. Its records are the files' rows plus four fields of the
connector's own: ``_id`` (the primary key: the object's key columns joined by ``|``, or
``<file>:<row>`` when it has none), ``_file``, ``_row`` (from 1) and ``_arrived`` (when
the file landed; the cursor field). Files are read in arrival order, rows in file order,
so a re-delivered file (a correction) arrives later and its rows replace the older ones
by primary key. Files still being written are left for the next run: a file is read once
it has been in the folder for ``settle_seconds``.

Read-only: a write is refused per operation as permanent.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

from tether.core.connectors import Catalog, FieldSchema, ObjectSchema, Page, ReadRequest, WriteOperation, WriteResult
from tether.core.errors import PermanentConnectorError
from tether.core.store import types as store_types

from . import formats
from .config import PLUGIN, FileDropSettings
from .cursor import Position, iso_of, micros_of, parse_cursor
from .storage import DropFile, LocalDrop, tiebreak_of

if TYPE_CHECKING:
    from tether.core.plugins import TenantContext

PRIMARY_KEY = "_id"
CURSOR_FIELD = "_arrived"
SYSTEM_FIELDS = (FieldSchema(PRIMARY_KEY, "id", createable=False, updateable=False),
                 FieldSchema("_file", createable=False, updateable=False),
                 FieldSchema("_row", "integer", createable=False, updateable=False),
                 FieldSchema(CURSOR_FIELD, "datetime", createable=False, updateable=False))
SYSTEM_NAMES = frozenset(f.name for f in SYSTEM_FIELDS)
MAX_KEY = 64


def cursor_of(record: Mapping[str, Any]) -> str:
    """The cursor just after ``record`` (a record this connector read), to stop inside a page."""
    from tether.core.sync.coerce import to_datetime

    return Position(micros_of(to_datetime(record[CURSOR_FIELD])), tiebreak_of(record["_file"]), int(record["_row"])).encode()


class FileDropConnector:
    name = PLUGIN

    def __init__(self, settings: FileDropSettings) -> None:
        self.settings = settings
        self.drop = LocalDrop(settings.location)
        self.options = formats.FormatOptions(delimiter=settings.delimiter, encoding=settings.encoding)
        self._catalog: Catalog | None = None

    @classmethod
    def for_tenant(cls, tenant: "TenantContext") -> "FileDropConnector":
        return cls(FileDropSettings.from_config(tenant.resolved_config(PLUGIN),
                                                where=f"tenant {tenant.id}: plugins.{PLUGIN}.config"))

    # -- files ----------------------------------------------------------------------------------

    def settled_files(self, object_name: str) -> list[DropFile]:
        """The object's files that have been in the folder for ``settle_seconds``, in arrival order."""
        horizon = micros_of(store_types.utcnow()) - self.settings.settle_seconds * 1_000_000
        return [f for f in self.drop.files(object_name) if f.arrived_us <= horizon]

    def keys_of(self, object_name: str) -> tuple[str, ...]:
        return tuple(self.settings.keys.get(object_name, ()))

    # -- catalog --------------------------------------------------------------------------------

    def discover(self) -> Catalog:
        """Every sub-folder as an object; its fields are the union of its files' columns."""
        if self._catalog is None:
            self._catalog = Catalog(tuple(self._object_schema(name) for name in self.drop.objects()))
        return self._catalog

    def _object_schema(self, object_name: str) -> ObjectSchema:
        found: dict[str, str] = {}
        for file in self.settled_files(object_name):
            for column in formats.columns(file, self.options):
                if column.name in SYSTEM_NAMES:
                    continue
                known = found.get(column.name)
                # One column typed differently in two files is read as text.
                found[column.name] = column.type if known in (None, column.type) else "string"
        fields = SYSTEM_FIELDS + tuple(FieldSchema(name, type_name, createable=False, updateable=False)  # type: ignore[arg-type]
                                       for name, type_name in found.items())
        return ObjectSchema(name=object_name, fields=fields, primary_key=PRIMARY_KEY, cursor_field=CURSOR_FIELD,
                            supports_deletes=False, writable=False)

    # -- reading --------------------------------------------------------------------------------

    def _pending(self, request: ReadRequest) -> Iterator[tuple[DropFile, int]]:
        position = parse_cursor(request.cursor)
        for file in self.settled_files(request.object_name):
            start = 1 if position is None else position.start_row(file.key)
            if start is not None:
                yield file, start

    def count(self, request: ReadRequest) -> int | None:
        """Rows still to read, when every pending file is Parquet (its metadata counts them)."""
        total = 0
        for file, start in self._pending(request):
            rows = formats.row_count(file)
            if rows is None:
                return None
            total += max(rows - (start - 1), 0)
        return total

    def read(self, request: ReadRequest) -> Iterator[Page]:
        keys = self.keys_of(request.object_name)
        wanted = [name for name in request.fields if name not in SYSTEM_NAMES]
        columns = list(dict.fromkeys([*wanted, *keys]))
        page: list[dict[str, Any]] = []
        cursor: str | None = None
        for file, start in self._pending(request):
            arrived = iso_of(file.arrived_us)
            for batch in formats.rows(file, self.options, start=start, batch_size=request.page_size, wanted=columns):
                for number, values in batch:
                    record = {name: values.get(name) for name in wanted}
                    record[PRIMARY_KEY] = self._key(file, number, values, keys)
                    record["_file"] = file.name
                    record["_row"] = number
                    record[CURSOR_FIELD] = arrived
                    page.append(record)
                    if len(page) >= request.page_size:
                        yield Page(records=page, cursor=Position(file.arrived_us, file.tiebreak, number).encode())
                        page = []
                cursor = Position(file.arrived_us, file.tiebreak, batch[-1][0]).encode()
        if page:
            yield Page(records=page, cursor=cursor)

    def _key(self, file: DropFile, number: int, values: Mapping[str, Any], keys: Sequence[str]) -> str:
        if not keys:
            key = f"{file.name}:{number}"
        else:
            parts = []
            for column in keys:
                value = values.get(column)
                if value is None or value == "":
                    raise PermanentConnectorError(
                        f"filedrop: {file.path.parent.name}/{file.name} row {number}: key column {column!r} "
                        f"is {'missing from the file' if column not in values else 'empty'}",
                        code="NO_KEY", hint=f"every row of {file.path.parent.name}/ needs {', '.join(keys)} "
                                            f"(plugins.filedrop.config.keys)")
                parts.append(value.isoformat() if hasattr(value, "isoformat") else str(value))
            key = "|".join(parts)
        if len(key) > MAX_KEY:
            key = "sha1:" + hashlib.sha1(key.encode("utf-8")).hexdigest()
        return key

    # -- the rest ---------------------------------------------------------------------------------

    def write(self, operations: Sequence[WriteOperation]) -> list[WriteResult]:
        return [WriteResult(local_id=op.local_id, success=False, external_id=op.external_id, error_kind="permanent",
                            error_code="READ_ONLY", error_message="file drop objects are read-only")
                for op in operations]

    def api_usage(self) -> None:
        return None

    def close(self) -> None:
        self._catalog = None
