"""What the contract checks work on: a connector opened for a tenant, over a source the
connector author's harness controls, and helpers to read it the way the engine does.

A :class:`Subject` is built by :class:`~tether.testing.contract.ConnectorContract` for each
test (or by hand, to check a connector outside pytest classes). It loads the plugin lazily,
so a broken manifest fails the checks that need it with the reason, one line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from typing import TYPE_CHECKING, Any, Callable, ContextManager, Iterator, Literal, Sequence

from tether.core.connectors import Catalog, Connector, ConnectorSpec, ObjectSchema, Page, ReadRequest
from tether.core.errors import PluginError, TetherError
from tether.core.plugins import PluginHost, TenantContext

if TYPE_CHECKING:
    from tether.core.manifests import PluginManifest

FaultKind = Literal["transient", "permanent"]
TENANT_ID = "contract"


class ContractViolation(AssertionError):
    """A connector broke the contract; the message says which rule, where, and what was seen."""


class NotProvided(Exception):
    """The harness does not offer an optional capability (the check that needs it is skipped)."""


class ConnectorHarness:
    """What a connector author provides so the contract can drive the source.

    :class:`~tether.testing.contract.ConnectorContract` subclasses this; the ``source``
    pytest fixture gives a fresh source per test. Required: :meth:`plugin_config`,
    :meth:`add_records`, :meth:`change_records` and :meth:`fault`. Optional:
    :meth:`advance` (sources with a clock), :meth:`write_values` and
    :meth:`invalid_values` (writable objects), :meth:`source_calls` (sources that count
    requests).
    """

    #: The plugin's name (its manifest ``name``).
    plugin: str = ""
    #: The connector's name in the :class:`~tether.core.connectors.ConnectorSpec` it offers.
    connector: str = ""
    #: The object the checks read (and write, when the catalog says it is writable).
    object_name: str = ""
    #: Fields to request besides the primary key and cursor field (None: every catalog field).
    fields: tuple[str, ...] | None = None
    #: Page size the checks ask for; keep it small so a few records make several pages.
    page_size: int = 3
    #: How far behind its cursor the connector re-reads on purpose (a lookback window).
    lookback: Any = dt.timedelta(0)
    #: Seconds the checks let pass (through :meth:`advance`) after changing the source, so
    #: the changes are settled for connectors that read only settled data.
    settle_seconds: float = 0
    #: A cursor after every record the source holds.
    future_cursor: str = "2999-12-31T23:59:59.000Z"
    #: A plugin object to register by hand (with its manifest) instead of an installed one.
    plugin_object: Any = None

    def plugin_config(self, source: Any) -> dict[str, Any]:
        """The tenant's config of the plugin, pointing at ``source`` (validated by the manifest)."""
        raise NotImplementedError(f"{type(self).__name__} must implement plugin_config(source)")

    def add_records(self, source: Any, count: int) -> list[str]:
        """Add ``count`` new records of :attr:`object_name`; return their primary keys."""
        raise NotImplementedError(f"{type(self).__name__} must implement add_records(source, count)")

    def change_records(self, source: Any, ids: Sequence[str]) -> None:
        """Change these records at the source, as a user would (their cursor value moves on)."""
        raise NotImplementedError(f"{type(self).__name__} must implement change_records(source, ids)")

    def fault(self, source: Any, kind: FaultKind) -> ContextManager[Any]:
        """While the context is open, the source fails the connector's calls with a fault
        of ``kind``: ``"transient"`` (a timeout, a 503, a lock) or ``"permanent"`` (a
        refused request, a malformed answer)."""
        raise NotImplementedError(f"{type(self).__name__} must implement fault(source, kind)")

    def advance(self, source: Any, seconds: float) -> None:
        """Let ``seconds`` pass at the source (sources without a clock ignore it)."""

    def write_values(self, index: int) -> dict[str, Any]:
        """Field values of the ``index``-th record a write check creates (writable objects)."""
        raise NotProvided("write_values")

    def invalid_values(self) -> dict[str, Any]:
        """Values the source refuses for one record (a failed validation), if it can."""
        raise NotProvided("invalid_values")

    def source_calls(self, source: Any) -> int | None:
        """Requests the source has served so far, when it counts them."""
        return None


@dataclasses.dataclass
class ReadResult:
    pages: list[Page]
    request: ReadRequest

    @property
    def records(self) -> list[dict[str, Any]]:
        return [record for page in self.pages for record in page.records]

    @property
    def final_cursor(self) -> str | None:
        """The cursor the engine stores after the read: the last page cursor that is not None."""
        cursor = self.request.cursor
        for page in self.pages:
            if page.cursor is not None:
                cursor = page.cursor
        return cursor

    @property
    def api_calls(self) -> int:
        return sum(page.api_calls for page in self.pages)

    def latest(self, primary_key: str) -> dict[str, dict[str, Any]]:
        """One record per key, the last one read (how the engine dedupes)."""
        return {record[primary_key]: record for record in self.records}

    def ids(self, primary_key: str) -> set[str]:
        ids = {record[primary_key] for record in self.records}
        for page in self.pages:
            ids.update(page.deleted_ids)
        return ids


@dataclasses.dataclass
class Subject:
    """One connector under test: the harness, its source, and the plugin that offers it."""

    harness: ConnectorHarness
    source: Any
    host_factory: Callable[[], PluginHost]
    _host: PluginHost | None = None
    _tenant: TenantContext | None = None
    _opened: list[Connector] = dataclasses.field(default_factory=list)
    _schema: ObjectSchema | None = None

    # -- the plugin ---------------------------------------------------------------------

    @property
    def host(self) -> PluginHost:
        if self._host is None:
            try:
                self._host = self.host_factory()
            except TetherError as exc:
                raise ContractViolation(f"plugin {self.harness.plugin!r} cannot be loaded: {exc.one_line()}") from None
            try:
                self._host.require(self.harness.plugin)
            except PluginError as exc:
                raise ContractViolation(f"plugin {self.harness.plugin!r} is not available: {exc.one_line()}") from None
        return self._host

    @property
    def manifest(self) -> "PluginManifest":
        manifest = self.host.manifest(self.harness.plugin)
        assert manifest is not None
        return manifest

    @property
    def tenant(self) -> TenantContext:
        if self._tenant is None:
            errors: dict[str, list[str]] = {}
            config = self.manifest.load_config(self.harness.plugin_config(self.source), errors)
            if errors:
                lines = "; ".join(f"plugins.{self.harness.plugin}.config.{k}: {', '.join(v)}" for k, v in errors.items())
                raise ContractViolation(f"the manifest's config schema refuses the harness's plugin_config: {lines}")
            self._tenant = self.host.tenant_context(TENANT_ID, plugin_configs={self.harness.plugin: config})
        return self._tenant

    def spec(self) -> ConnectorSpec:
        offered = [s for batch in self.tenant.hooks.tether_connectors() or [] for s in batch or []]
        named = [s for s in offered if getattr(s, "name", None) == self.harness.connector]
        if not named:
            names = ", ".join(repr(getattr(s, "name", s)) for s in offered) or "none"
            raise ContractViolation(f"plugin {self.harness.plugin!r} offers no connector named "
                                    f"{self.harness.connector!r} through tether_connectors (offered: {names})")
        return named[0]

    # -- connectors -----------------------------------------------------------------------

    def open(self) -> Connector:
        """A new connector for the tenant, through the plugin's factory (closed at the end)."""
        connector = self.spec().factory(self.tenant)
        self._opened.append(connector)
        return connector

    def close_all(self) -> None:
        while self._opened:
            connector = self._opened.pop()
            with contextlib.suppress(Exception):
                connector.close()

    def schema(self, connector: Connector | None = None) -> ObjectSchema:
        if self._schema is None:
            catalog = (connector or self.open()).discover()
            if not isinstance(catalog, Catalog):
                raise ContractViolation(f"discover() returned {type(catalog).__name__}, not a Catalog")
            schema = catalog.get(self.harness.object_name)
            if schema is None:
                names = ", ".join(o.name for o in catalog.objects) or "none"
                raise ContractViolation(f"discover() has no object {self.harness.object_name!r} (objects: {names})")
            self._schema = schema
        return self._schema

    def request(self, cursor: str | None = None, *, include_deleted: bool = True,
                page_size: int | None = None) -> ReadRequest:
        schema = self.schema()
        wanted = [schema.primary_key]
        if schema.cursor_field:
            wanted.append(schema.cursor_field)
        names = self.harness.fields if self.harness.fields is not None else tuple(f.name for f in schema.fields)
        wanted += [schema.field(name).name if schema.field(name) else name for name in names]
        return ReadRequest(object_name=schema.name, fields=tuple(dict.fromkeys(wanted)), cursor=cursor,
                           include_deleted=include_deleted, page_size=page_size or self.harness.page_size)

    def read(self, connector: Connector, request: ReadRequest, *, max_pages: int = 10_000) -> ReadResult:
        """Every page of one read; refuses a read that never ends."""
        pages: list[Page] = []
        for page in connector.read(request):
            if not isinstance(page, Page):
                raise ContractViolation(f"read() yielded {type(page).__name__}, not a Page")
            pages.append(page)
            if len(pages) > max_pages:
                raise ContractViolation(f"read() of {request.object_name} yielded more than {max_pages} pages "
                                        f"for a source of a few records: it does not end")
        return ReadResult(pages, request)

    def read_fresh(self, cursor: str | None = None, **kwargs: Any) -> ReadResult:
        """A read on a newly opened connector, as one engine run does."""
        connector = self.open()
        try:
            return self.read(connector, self.request(cursor, **kwargs))
        finally:
            connector.close()

    # -- the source ---------------------------------------------------------------------

    def add(self, count: int) -> list[str]:
        ids = list(self.harness.add_records(self.source, count))
        if len(ids) != count:
            raise ContractViolation(f"harness add_records returned {len(ids)} ids for {count} records")
        self.settle()
        return ids

    def change(self, ids: Sequence[str]) -> None:
        self.harness.advance(self.source, 1)
        self.harness.change_records(self.source, list(ids))
        self.settle()

    def settle(self) -> None:
        self.harness.advance(self.source, max(self.harness.settle_seconds, 0) + 1)

    @contextlib.contextmanager
    def fault(self, kind: FaultKind) -> Iterator[None]:
        with self.harness.fault(self.source, kind):
            yield


__all__ = ["ConnectorHarness", "ContractViolation", "FaultKind", "NotProvided", "ReadResult", "Subject"]
