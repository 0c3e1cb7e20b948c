"""Contract checks on writes, error mapping and batch shape.

The pusher sends batches of :class:`~tether.core.connectors.WriteOperation` and matches
one :class:`~tether.core.connectors.WriteResult` per operation back by position and
``local_id``; it retries ``transient`` failures and parks ``permanent`` ones. The engine
retries a read that raised :class:`~tether.core.errors.TransientConnectorError` from the
last stored cursor on the same connector, and fails the run on anything else. Hot paths
are batch-shaped: the number of hook calls and API calls of a read or a write must not
grow with the number of records in a page.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

from tether.core.connectors import Connector, WriteOperation, WriteResult
from tether.core.errors import ConnectorError, PermanentConnectorError, TransientConnectorError
from tether.core.sync.coerce import CoercionError, coerce

from .checks_read import _describe_ids
from .registry import NotApplicable, check
from .subject import ContractViolation, FaultKind, NotProvided, Subject

EXPECTED = {"transient": TransientConnectorError, "permanent": PermanentConnectorError}
# Pages this large hold every record of the batch-shape checks in one page.
ONE_PAGE = 2000


def _writable(subject: Subject) -> None:
    if not subject.schema().writable:
        raise NotApplicable(f"{subject.schema().name} is read-only")


def _values_for(subject: Subject, index: int) -> dict[str, Any]:
    try:
        return dict(subject.harness.write_values(index))
    except NotProvided:
        raise ContractViolation(f"{subject.schema().name} is writable: the harness must implement write_values(index)") \
            from None


def _write(connector: Connector, operations: list[WriteOperation]) -> list[WriteResult]:
    results = connector.write(operations)
    if not isinstance(results, list) or len(results) != len(operations):
        count = len(results) if isinstance(results, list) else type(results).__name__
        raise ContractViolation(f"write() of {len(operations)} operations returned {count} results; "
                                f"it must return one per operation, in order")
    for number, (op, result) in enumerate(zip(operations, results), start=1):
        if not isinstance(result, WriteResult):
            raise ContractViolation(f"write() result {number} is a {type(result).__name__}, not a WriteResult")
        if result.local_id != op.local_id:
            raise ContractViolation(f"write() result {number} carries local_id {result.local_id!r} for the operation "
                                    f"with local_id {op.local_id!r}: results must come in the operations' order")
        if not result.success and result.error_kind not in ("transient", "permanent"):
            raise ContractViolation(f"write() result {number} failed without error_kind transient or permanent")
    return results


def _succeeded(results: list[WriteResult], what: str) -> None:
    failed = [r for r in results if not r.success]
    if failed:
        first = failed[0]
        raise ContractViolation(f"{what}: {len(failed)} of {len(results)} failed, e.g. {first.error_code}: "
                                f"{first.error_message}")
    for result in results:
        if not isinstance(result.external_id, str) or not result.external_id:
            raise ContractViolation(f"{what}: a successful result has no external_id (got {result.external_id!r})")


def _same(subject: Subject, written: dict[str, Any], record: dict[str, Any], key: str) -> None:
    schema = subject.schema()
    for name, value in written.items():
        field = schema.field(name)
        if field is None:
            raise ContractViolation(f"write_values uses field {name!r}, which the catalog of {schema.name} lacks")
        try:
            expected, got = coerce(name, field.type, value), coerce(name, field.type, record.get(field.name))
        except CoercionError as exc:
            raise ContractViolation(f"record {key!r} read back after a write: {exc}") from None
        if expected != got:
            raise ContractViolation(f"record {key!r}: wrote {name}={expected!r} but read back {got!r}")


# -- writes ------------------------------------------------------------------------------------


@check("writes return one result per operation in order, and what was written reads back")
def write_read_back(subject: Subject) -> None:
    schema = subject.schema()
    connector = subject.open()
    if not schema.writable:
        operation = WriteOperation(schema.name, "upsert", {}, local_id=1)
        try:
            results = connector.write([operation])
        except PermanentConnectorError:
            return
        results = _write(connector, [operation])
        if results[0].success or results[0].error_kind != "permanent":
            raise ContractViolation(f"{schema.name} is read-only but a write to it was not refused as permanent")
        return
    pk = schema.primary_key
    created = [_values_for(subject, i) for i in range(3)]
    operations = [WriteOperation(schema.name, "upsert", values, local_id=100 + i) for i, values in enumerate(created)]
    results = _write(connector, operations)
    _succeeded(results, "creating records")
    if not all(r.created for r in results):
        raise ContractViolation("write() results of new records must say created=True")
    subject.settle()
    records = subject.read_fresh(None).latest(pk)
    for values, result in zip(created, results):
        if result.external_id not in records:
            raise ContractViolation(f"record {result.external_id!r} was written but a full read does not return it")
        _same(subject, values, records[result.external_id], result.external_id)

    changed = _values_for(subject, 10)
    update = WriteOperation(schema.name, "upsert", changed, local_id=100, external_id=results[0].external_id)
    [updated] = _write(connector, [update])
    _succeeded([updated], "updating a record")
    if updated.created or updated.external_id != results[0].external_id:
        raise ContractViolation(f"an update of {results[0].external_id!r} reported created={updated.created} "
                                f"and external_id {updated.external_id!r}")
    subject.settle()
    records = subject.read_fresh(None).latest(pk)
    _same(subject, changed, records[results[0].external_id], results[0].external_id)

    gone = results[2].external_id
    [deleted] = _write(connector, [WriteOperation(schema.name, "delete", {}, local_id=102, external_id=gone)])
    _succeeded([deleted], "deleting a record")
    subject.settle()
    after = subject.read_fresh(None, include_deleted=True)
    if schema.supports_deletes:
        reported = {i for page in after.pages for i in page.deleted_ids}
        if gone not in reported:
            raise ContractViolation(f"record {gone!r} was deleted but a read with include_deleted does not report "
                                    f"it in deleted_ids")
    elif gone in subject.read_fresh(None, include_deleted=False).latest(pk):
        raise ContractViolation(f"record {gone!r} was deleted but a read still returns it")

    try:
        invalid = dict(subject.harness.invalid_values())
    except NotProvided:
        return
    batch = [WriteOperation(schema.name, "upsert", _values_for(subject, 20 + i) if i != 1 else invalid, local_id=200 + i)
             for i in range(3)]
    mixed = _write(connector, batch)
    if mixed[1].success or mixed[1].error_kind != "permanent" or not mixed[1].error_message:
        raise ContractViolation("a record the source refuses must fail alone with error_kind='permanent' and the "
                                f"source's message; got success={mixed[1].success}, kind={mixed[1].error_kind!r}")
    _succeeded([mixed[0], mixed[2]], "the valid records of a batch with one invalid record")


@check("replaying the same batch of updates changes nothing more (no duplicates)")
def write_replay_idempotent(subject: Subject) -> None:
    _writable(subject)
    schema = subject.schema()
    pk = schema.primary_key
    connector = subject.open()
    results = _write(connector, [WriteOperation(schema.name, "upsert", _values_for(subject, i), local_id=300 + i)
                                 for i in range(2)])
    _succeeded(results, "creating records")
    subject.settle()
    before = set(subject.read_fresh(None, include_deleted=False).latest(pk))
    batch = [WriteOperation(schema.name, "upsert", _values_for(subject, 30 + i), local_id=300 + i,
                            external_id=result.external_id) for i, result in enumerate(results)]
    for attempt in ("first", "replayed"):
        replies = _write(connector, batch)
        _succeeded(replies, f"the {attempt} batch of updates")
        if any(r.created for r in replies):
            raise ContractViolation(f"the {attempt} batch of updates created records instead of updating them")
    subject.settle()
    records = subject.read_fresh(None, include_deleted=False).latest(pk)
    if set(records) != before:
        raise ContractViolation(f"replaying a batch of updates changed the set of records: new "
                                f"{_describe_ids(set(records) - before) or 'none'}, gone "
                                f"{_describe_ids(before - set(records)) or 'none'}")
    for op in batch:
        if op.external_id not in records:
            raise ContractViolation(f"record {op.external_id!r} was updated but a full read does not return it")
        _same(subject, op.values, records[op.external_id], op.external_id)


# -- errors ------------------------------------------------------------------------------------


def _raised(kind: FaultKind, call: Callable[[], Any], what: str) -> ConnectorError:
    expected = EXPECTED[kind]
    try:
        call()
    except expected as exc:
        if not exc.one_line().strip():
            raise ContractViolation(f"{what} under a {kind} fault raised {type(exc).__name__} with no message") from None
        return exc
    except ConnectorError as exc:
        raise ContractViolation(f"{what} under a {kind} fault raised {type(exc).__name__} ({exc.one_line()}); "
                                f"it must be {expected.__name__}") from None
    except Exception as exc:
        raise ContractViolation(f"{what} under a {kind} fault let {type(exc).__module__}.{type(exc).__name__} "
                                f"escape ({exc}); connectors raise {expected.__name__} so the engine knows whether "
                                f"to retry") from None
    raise ContractViolation(f"{what} under a {kind} fault raised nothing: the connector swallowed the error "
                            f"(or the harness's fault() did not reach it)")


@check("a transient fault raises TransientConnectorError, and the same connector resumes once it passes")
def transient_errors(subject: Subject) -> None:
    pk = subject.schema().primary_key
    subject.add(2 * subject.harness.page_size + 1)
    connector = subject.open()
    request = subject.request(None)
    pages = connector.read(request)
    first = next(iter(pages))
    with contextlib.suppress(Exception):
        pages.close()  # type: ignore[attr-defined]
    with subject.fault("transient"):
        _raised("transient", lambda: list(connector.read(request)), "read()")
    everything = subject.read_fresh(None).ids(pk)
    resumed = subject.read(connector, subject.request(first.cursor))
    missing = everything - {r[pk] for r in first.records} - set(first.deleted_ids) - resumed.ids(pk)
    if missing:
        raise ContractViolation(f"after a transient fault the same connector, resuming from the first page's cursor, "
                                f"missed {_describe_ids(missing)}")


@check("a permanent fault raises PermanentConnectorError with the source's message")
def permanent_errors(subject: Subject) -> None:
    subject.add(2)
    connector = subject.open()
    request = subject.request(None)
    with subject.fault("permanent"):
        _raised("permanent", lambda: list(connector.read(request)), "read()")


# -- batch shape -------------------------------------------------------------------------------


@contextlib.contextmanager
def _counting(subject: Subject) -> Iterator[dict[str, Any]]:
    counts: dict[str, Any] = {"hooks": {}, "calls": subject.harness.source_calls(subject.source)}

    def before(hook_name: str, hook_impls: Any, kwargs: Any) -> None:
        counts["hooks"][hook_name] = counts["hooks"].get(hook_name, 0) + 1

    def after(outcome: Any, hook_name: str, hook_impls: Any, kwargs: Any) -> None:
        pass

    undo = subject.host.pm.add_hookcall_monitoring(before, after)
    try:
        yield counts
    finally:
        undo()
        start = counts["calls"]
        now = subject.harness.source_calls(subject.source)
        counts["calls"] = None if start is None or now is None else now - start


def _api_calls(connector: Connector, before: Any) -> int | None:
    made = getattr(connector, "api_calls_made", None)
    return made - before if isinstance(made, int) and isinstance(before, int) else None


def _compare(what: str, small: int, large: int, low: dict[str, Any], high: dict[str, Any]) -> None:
    grew = sorted(n for n in high["hooks"] if high["hooks"][n] > low["hooks"].get(n, 0))
    if grew:
        raise ContractViolation(f"{what}: hook calls went from {low['hooks']} to {high['hooks']} when the batch grew "
                                f"from {small} to {large} records: {', '.join(grew)} is called per record")
    for key, label in (("calls", "source requests"), ("api", "API calls")):
        if low.get(key) is not None and high.get(key) is not None and high[key] > low[key]:
            raise ContractViolation(f"{what}: {label} went from {low[key]} to {high[key]} when the batch grew from "
                                    f"{small} to {large} records in one page: the connector calls its source per record")


def _measure_read(subject: Subject) -> dict[str, Any]:
    with _counting(subject) as counts:
        connector = subject.open()
        made = getattr(connector, "api_calls_made", None)
        request = subject.request(None, page_size=ONE_PAGE)
        connector.discover()
        connector.count(request)
        result = subject.read(connector, request)
        api = _api_calls(connector, made)
        connector.close()
    counts["api"] = api if api is not None else result.api_calls
    counts["pages"] = len(result.pages)
    return counts


@check("reads are batch-shaped: hook and API calls do not grow with the records in a page")
def batch_shaped_reads(subject: Subject) -> None:
    small, large = 2, 20
    subject.schema()  # discovered once up front, so both measures do the same work
    subject.add(small)
    low = _measure_read(subject)
    subject.add(large - small)
    high = _measure_read(subject)
    if low["pages"] != high["pages"]:
        return  # the source pages by its own size; calls per page are then expected to grow
    _compare("a read", small, large, low, high)


@check("writes are batch-shaped: hook and API calls do not grow with the operations in a batch")
def batch_shaped_writes(subject: Subject) -> None:
    _writable(subject)
    schema = subject.schema()  # discovered once up front, so both measures do the same work

    def measure(count: int, offset: int) -> dict[str, Any]:
        operations = [WriteOperation(schema.name, "upsert", _values_for(subject, offset + i), local_id=offset + i)
                      for i in range(count)]
        with _counting(subject) as counts:
            connector = subject.open()
            made = getattr(connector, "api_calls_made", None)
            _succeeded(_write(connector, operations), f"a batch of {count} new records")
            counts["api"] = _api_calls(connector, made)
            connector.close()
        return counts

    _compare("a write", 2, 20, measure(2, 400), measure(20, 500))
