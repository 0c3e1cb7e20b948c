"""Contract checks on the plugin, the catalog and reads: what the sync engine relies on
when it pulls pages (see docs/sync-model.md).

The engine reads pages in cursor order, applies each page and stores the page's cursor in
the same transaction; after a crash or a transient error it reads again from the last
stored cursor. So: every page cursor must be safe to resume from (records may repeat,
never go missing), a cursor never moves back further than the connector's lookback,
records carry their primary key and the fields asked for, and values fit the catalog's
types, because the engine converts them by those types.
"""

from __future__ import annotations

import typing
from typing import Any

from tether.core.connectors import Catalog, Connector, FieldType, ObjectSchema
from tether.core.sync.coerce import CoercionError, coerce
from tether.core.sync.cursors import MAX_CURSOR_LENGTH

from .registry import NotApplicable, check
from .subject import ContractViolation, ReadResult, Subject

FIELD_TYPES = frozenset(typing.get_args(FieldType))
CURSOR_TYPES = frozenset({"datetime", "date"})
# The engine stores primary keys in external_id columns of this length.
MAX_KEY_LENGTH = 64


# -- helpers ---------------------------------------------------------------------------------


def cursor_value(schema: ObjectSchema, record: dict[str, Any]) -> Any:
    field = schema.field(schema.cursor_field or "")
    assert field is not None
    try:
        return coerce(field.name, field.type, record.get(field.name))
    except CoercionError as exc:
        raise ContractViolation(f"record {record.get(schema.primary_key)!r}: cursor field {exc}") from None


def check_page_shape(subject: Subject, result: ReadResult) -> None:
    """Pages, records and cursors as the engine needs them."""
    schema = subject.schema()
    pk = schema.primary_key
    types = {f.name: f.type for f in schema.fields}
    for number, page in enumerate(result.pages, start=1):
        where = f"page {number} of {result.request.object_name}"
        if not isinstance(page.records, list):
            raise ContractViolation(f"{where}: records is a {type(page.records).__name__}, not a list")
        if len(page.records) > result.request.page_size:
            raise ContractViolation(f"{where} holds {len(page.records)} records; the request asked for pages of "
                                    f"{result.request.page_size} at most")
        if page.cursor is not None and (not isinstance(page.cursor, str) or len(page.cursor) > MAX_CURSOR_LENGTH):
            raise ContractViolation(f"{where}: cursor {page.cursor!r} is not a string of at most "
                                    f"{MAX_CURSOR_LENGTH} characters (the engine stores it in a column that size)")
        if any(not isinstance(i, str) or not i for i in page.deleted_ids):
            raise ContractViolation(f"{where}: deleted_ids must be non-empty primary-key strings, got {page.deleted_ids!r}")
        for record in page.records:
            if not isinstance(record, dict):
                raise ContractViolation(f"{where}: a record is a {type(record).__name__}, not a dict")
            key = record.get(pk)
            if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
                raise ContractViolation(f"{where}: primary key {pk!r} is {key!r}; it must be a non-empty string of at "
                                        f"most {MAX_KEY_LENGTH} characters (the engine dedupes and stores by it)")
            missing = [name for name in result.request.fields if name not in record]
            if missing:
                raise ContractViolation(f"{where}: record {key!r} lacks requested field(s) {', '.join(missing)}; "
                                        f"the engine would store them as empty")
            for name in result.request.fields:
                type_name = types.get(name)
                if type_name is None:
                    continue
                try:
                    coerce(name, type_name, record[name])
                except CoercionError as exc:
                    raise ContractViolation(f"{where}: record {key!r}: {exc} (the catalog says {type_name})") from None
            if schema.cursor_field and cursor_value(schema, record) is None:
                raise ContractViolation(f"{where}: record {key!r} has no value in cursor field {schema.cursor_field!r}")


def _values(schema: ObjectSchema, record: dict[str, Any]) -> dict[str, Any]:
    """A record's values converted by catalog type, to compare two reads."""
    out = {}
    for name, value in record.items():
        field = schema.field(name)
        try:
            out[name] = coerce(name, field.type, value) if field is not None else value
        except CoercionError:
            out[name] = value
    return out


def _describe_ids(ids: set[str], limit: int = 5) -> str:
    shown = sorted(ids)[:limit]
    more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
    return ", ".join(repr(i) for i in shown) + more


# -- the plugin and the catalog -----------------------------------------------------------------


@check("the plugin loads, its manifest is valid and names the hooks and objects it has")
def manifest_is_valid(subject: Subject) -> None:
    manifest = subject.manifest
    if "tether_connectors" not in manifest.hooks:
        raise ContractViolation(f"manifest of {manifest.name!r} does not list tether_connectors among its hooks")
    subject.tenant  # noqa: B018 - the config schema must accept the harness's config
    for field in manifest.config:
        if field.secret and field.default is not None:
            raise ContractViolation(f"manifest config field {field.name!r} is secret but has a default value")
    name = subject.harness.object_name.lower()
    if name not in {r.lower() for r in manifest.reads}:
        raise ContractViolation(f"manifest objects.reads ({', '.join(manifest.reads) or 'empty'}) does not list "
                                f"{subject.harness.object_name!r}, which the connector reads")
    if subject.schema().writable and name not in {w.lower() for w in manifest.writes}:
        raise ContractViolation(f"the catalog says {subject.harness.object_name!r} is writable but manifest "
                                f"objects.writes ({', '.join(manifest.writes) or 'empty'}) does not list it")


@check("tether_connectors offers the connector, and its factory opens a complete Connector")
def connector_is_offered(subject: Subject) -> None:
    spec = subject.spec()
    if spec.plugin != subject.harness.plugin:
        raise ContractViolation(f"ConnectorSpec {spec.name!r} names plugin {spec.plugin!r}, not {subject.harness.plugin!r}")
    connector = subject.open()
    if not isinstance(connector, Connector):
        missing = [m for m in ("name", "discover", "count", "read", "write", "api_usage", "close")
                   if not hasattr(connector, m)]
        raise ContractViolation(f"the factory returned a {type(connector).__name__} lacking {', '.join(missing)}")
    if connector.name != spec.name:
        raise ContractViolation(f"the connector calls itself {connector.name!r} but is offered as {spec.name!r}")
    usage = connector.api_usage()
    if usage is not None and not (isinstance(usage, tuple) and len(usage) == 2 and all(isinstance(v, int) for v in usage)):
        raise ContractViolation(f"api_usage() returned {usage!r}; it must be None or (used, limit)")
    catalog = connector.discover()
    unknown = [o for o in spec.objects if isinstance(catalog, Catalog) and catalog.get(o) is None]
    if unknown:
        raise ContractViolation(f"ConnectorSpec.objects names {', '.join(unknown)}, which discover() does not list")


@check("discover() describes each object with unique typed fields, a primary key and a datetime cursor field")
def discovery(subject: Subject) -> None:
    connector = subject.open()
    catalog = connector.discover()
    if not isinstance(catalog, Catalog) or not all(isinstance(o, ObjectSchema) for o in catalog.objects):
        raise ContractViolation(f"discover() must return a Catalog of ObjectSchema, got {catalog!r:.200}")
    seen: set[str] = set()
    for obj in catalog.objects:
        if obj.name.lower() in seen:
            raise ContractViolation(f"the catalog lists object {obj.name!r} twice")
        seen.add(obj.name.lower())
        names = [f.name.lower() for f in obj.fields]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ContractViolation(f"{obj.name}: field(s) {', '.join(twice)} listed twice")
        for field in obj.fields:
            if field.type not in FIELD_TYPES:
                raise ContractViolation(f"{obj.name}.{field.name}: type {field.type!r} is not one of "
                                        f"{', '.join(sorted(FIELD_TYPES))}")
        if obj.field(obj.primary_key) is None:
            raise ContractViolation(f"{obj.name}: primary key {obj.primary_key!r} is not one of its fields")
        if obj.cursor_field is not None:
            cursor = obj.field(obj.cursor_field)
            if cursor is None:
                raise ContractViolation(f"{obj.name}: cursor field {obj.cursor_field!r} is not one of its fields")
            if cursor.type not in CURSOR_TYPES:
                raise ContractViolation(f"{obj.name}: cursor field {cursor.name!r} is a {cursor.type}; the engine "
                                        f"compares cursor values as times, so it must be datetime or date")
    if catalog.get(subject.harness.object_name) is None:
        raise ContractViolation(f"discover() has no object {subject.harness.object_name!r}")
    if connector.discover() != catalog or subject.open().discover() != catalog:
        raise ContractViolation("discover() describes the same source differently on a second call")


# -- reads -------------------------------------------------------------------------------------


@check("a full read returns every record once or more, in pages of the size asked, with the fields asked")
def full_read(subject: Subject) -> None:
    ids = subject.add(2 * subject.harness.page_size + 1)
    result = subject.read_fresh(None, include_deleted=False)
    check_page_shape(subject, result)
    missing = set(ids) - result.ids(subject.schema().primary_key)
    if missing:
        raise ContractViolation(f"a full read missed record(s) {_describe_ids(missing)}")
    if subject.schema().cursor_field and result.final_cursor is None:
        raise ContractViolation("a full read ended without any page cursor: the next run could not be incremental")


@check("records come in cursor order: cursor-field values never decrease within a read")
def cursor_order(subject: Subject) -> None:
    schema = subject.schema()
    if not schema.cursor_field:
        raise NotApplicable(f"{schema.name} has no cursor field (full reads only)")
    ids = subject.add(2 * subject.harness.page_size + 1)
    subject.change(ids[:1])  # the first record is now the newest
    result = subject.read_fresh(None)
    previous = None
    for record in result.records:
        value = cursor_value(schema, record)
        if previous is not None and value < previous:
            raise ContractViolation(f"record {record[schema.primary_key]!r} ({schema.cursor_field} {value}) comes after "
                                    f"one at {previous}: records must come in cursor order")
        previous = value


@check("count() is None or the number of records the same read returns")
def count_matches_read(subject: Subject) -> None:
    subject.add(2 * subject.harness.page_size + 1)
    connector = subject.open()
    request = subject.request(None)
    counted = connector.count(request)
    if counted is None:
        return
    if not isinstance(counted, int) or isinstance(counted, bool) or counted < 0:
        raise ContractViolation(f"count() returned {counted!r}; it must be None or a whole number")
    read = len(subject.read(connector, request).records)
    if counted != read:
        raise ContractViolation(f"count() said {counted} records but the read returned {read}")


@check("incremental reads: no change is skipped, cursors never move back past the lookback, changes move forward")
def incremental_read(subject: Subject) -> None:
    schema = subject.schema()
    if not schema.cursor_field:
        raise NotApplicable(f"{schema.name} has no cursor field (full reads only)")
    pk = schema.primary_key
    lookback = subject.harness.lookback
    ids = subject.add(2 * subject.harness.page_size + 1)
    first = subject.read_fresh(None, include_deleted=False)
    before = {key: cursor_value(schema, record) for key, record in first.latest(pk).items()}
    if not before:
        raise ContractViolation("the first read returned no records")
    high = max(before.values())
    changed = ids[:2]
    subject.change(changed)
    added = subject.add(2)
    second = subject.read_fresh(first.final_cursor)
    check_page_shape(subject, second)
    missing = (set(changed) | set(added)) - second.ids(pk)
    if missing:
        raise ContractViolation(f"reading from the stored cursor skipped changed or new record(s) {_describe_ids(missing)}")
    latest = second.latest(pk)
    for key, record in latest.items():
        value = cursor_value(schema, record)
        if key not in changed and key not in added and value < high - lookback:
            raise ContractViolation(f"reading from the stored cursor went back to record {key!r} at {value}, before "
                                    f"the first read's newest value {high} less the lookback {lookback}")
    for key in changed:
        if key in latest and key in before and cursor_value(schema, latest[key]) <= before[key]:
            raise ContractViolation(f"record {key!r} changed but its {schema.cursor_field} stayed at {before[key]}: "
                                    f"the engine ignores a record that is not newer than the copy it has")
    values = [cursor_value(schema, r) for r in second.records]
    high = max([high, *values])
    third = subject.read_fresh(second.final_cursor)
    for record in third.records:
        value = cursor_value(schema, record)
        if value < high - lookback:
            raise ContractViolation(f"with nothing changed, reading from the latest cursor returned record "
                                    f"{record[pk]!r} at {value}, before {high} less the lookback {lookback}")


@check("a cursor after every record yields nothing")
def future_cursor_yields_nothing(subject: Subject) -> None:
    subject.add(2)
    future = subject.harness.future_cursor
    result = subject.read_fresh(future)
    found = result.ids(subject.schema().primary_key)
    if found:
        raise ContractViolation(f"reading from the future cursor {future!r} returned {_describe_ids(found)}")
    again = subject.read_fresh(result.final_cursor)
    if again.ids(subject.schema().primary_key):
        raise ContractViolation(f"after a read from the future cursor {future!r} the stored cursor "
                                f"{result.final_cursor!r} moved back: reading from it returned records")


@check("two full reads of an unchanged source return identical records")
def two_full_reads_identical(subject: Subject) -> None:
    subject.add(2 * subject.harness.page_size + 1)
    schema = subject.schema()
    pk = schema.primary_key
    first = subject.read_fresh(None)
    second = subject.read_fresh(None)
    a = {k: _values(schema, r) for k, r in first.latest(pk).items()}
    b = {k: _values(schema, r) for k, r in second.latest(pk).items()}
    if a.keys() != b.keys():
        raise ContractViolation(f"two full reads returned different records: only in the first "
                                f"{_describe_ids(set(a) - set(b)) or 'none'}, only in the second "
                                f"{_describe_ids(set(b) - set(a)) or 'none'}")
    for key in a:
        if a[key] != b[key]:
            diff = sorted(name for name in a[key].keys() | b[key].keys() if a[key].get(name) != b[key].get(name))
            raise ContractViolation(f"two full reads returned record {key!r} with different {', '.join(diff)}")


@check("resuming from any page's cursor never skips a record (at-least-once)")
def resume_from_every_page(subject: Subject) -> None:
    subject.add(3 * subject.harness.page_size + 1)
    pk = subject.schema().primary_key
    full = subject.read_fresh(None)
    every = full.ids(pk)
    seen: set[str] = set()
    for number, page in enumerate(full.pages[:-1], start=1):
        seen |= {r[pk] for r in page.records} | set(page.deleted_ids)
        if page.cursor is None:
            continue
        resumed = subject.read_fresh(page.cursor)
        missing = every - seen - resumed.ids(pk)
        if missing:
            raise ContractViolation(f"resuming from the cursor of page {number} ({page.cursor!r}) skipped "
                                    f"{_describe_ids(missing)}")


@check("replaying a read from the same cursor returns the same records")
def replay_same_page(subject: Subject) -> None:
    subject.add(2 * subject.harness.page_size + 1)
    schema = subject.schema()
    pk = schema.primary_key
    start = subject.read_fresh(None)
    cursors = [None] + [p.cursor for p in start.pages[:1] if p.cursor is not None]
    for cursor in cursors:
        first = subject.read_fresh(cursor)
        second = subject.read_fresh(cursor)
        a = {k: _values(schema, r) for k, r in first.latest(pk).items()}
        b = {k: _values(schema, r) for k, r in second.latest(pk).items()}
        if a != b:
            raise ContractViolation(f"reading twice from cursor {cursor!r} returned different records "
                                    f"({len(a)} then {len(b)}): a replayed page must bring the same data")


__all__ = ["check_page_shape", "cursor_value"]
