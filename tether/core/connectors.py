"""The connector contract: what a connector reads and writes, in pages.

The sync engine knows only these types. A connector (Salesforce, a file drop, anything)
turns its system's API into :class:`Page` objects in cursor order and applies batches of
:class:`WriteOperation`; everything else (cursors, transactions, mapping, retries, echo
suppression) is the engine's.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterator, Literal, Protocol, Sequence, runtime_checkable

FieldType = Literal[
    "string", "text", "picklist", "boolean", "integer", "float", "money", "percent",
    "date", "datetime", "reference", "id", "json",
]


@dataclasses.dataclass(frozen=True)
class FieldSchema:
    name: str
    type: FieldType = "string"
    label: str | None = None
    nullable: bool = True
    createable: bool = True
    updateable: bool = True
    external_id: bool = False
    picklist_values: tuple[str, ...] = ()
    reference_to: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class ObjectSchema:
    """One object a connector can read (and maybe write)."""

    name: str
    fields: tuple[FieldSchema, ...]
    primary_key: str = "Id"
    # The field incremental reads order and filter by (None: full reads only).
    cursor_field: str | None = None
    supports_deletes: bool = False
    writable: bool = False

    def field(self, name: str) -> FieldSchema | None:
        for candidate in self.fields:
            if candidate.name.lower() == name.lower():
                return candidate
        return None


@dataclasses.dataclass(frozen=True)
class Catalog:
    objects: tuple[ObjectSchema, ...]

    def get(self, name: str) -> ObjectSchema | None:
        for obj in self.objects:
            if obj.name.lower() == name.lower():
                return obj
        return None


@dataclasses.dataclass(frozen=True)
class ReadRequest:
    """What the engine asks for: one object, from a cursor, with these fields."""

    object_name: str
    fields: tuple[str, ...]
    # None for a full read; otherwise the opaque cursor the connector returned before.
    cursor: str | None = None
    include_deleted: bool = True
    # Pages of about this many records; the connector may return fewer.
    page_size: int = 2000


@dataclasses.dataclass
class Page:
    """Records in cursor order, and the cursor to store once they are applied.

    ``cursor`` must be safe to resume from: re-reading from it may repeat records of this
    page (the engine dedupes by primary key) but must never skip one.
    """

    records: list[dict[str, Any]]
    cursor: str | None
    # Primary keys of records deleted at the source, when the connector reports them apart.
    deleted_ids: list[str] = dataclasses.field(default_factory=list)
    api_calls: int = 0


@dataclasses.dataclass(frozen=True)
class WriteOperation:
    """One record to create/update (``upsert``) or delete at the source."""

    object_name: str
    operation: Literal["upsert", "delete"]
    values: dict[str, Any]
    # The local row this came from; results are matched back by it.
    local_id: int | None = None
    external_id: str | None = None
    # For a record not yet at the source (no ``external_id``): the source field to upsert
    # by, whose value is in ``values``, so a retried create finds the record it made.
    external_id_field: str | None = None


@dataclasses.dataclass(frozen=True)
class WriteResult:
    local_id: int | None
    success: bool
    external_id: str | None = None
    created: bool = False
    # "transient" errors are retried with backoff; "permanent" park the record as failed.
    error_kind: Literal["transient", "permanent"] | None = None
    error_code: str | None = None
    error_message: str | None = None
    # Values the source holds after the write (stamps, derived fields), for echo suppression.
    values: dict[str, Any] = dataclasses.field(default_factory=dict)


@runtime_checkable
class Connector(Protocol):
    """A live connection to one tenant's external system.

    Every method is batch-shaped: a sync of a million records makes a few thousand calls.
    Errors are raised as :class:`tether.core.errors.TransientConnectorError` (retry),
    :class:`~tether.core.errors.PermanentConnectorError` (stop, show the message) or
    :class:`~tether.core.errors.QuotaExceeded` (stop, status "throttled").

    Optional: ``fetch(object_name, ids, fields) -> list[dict]``, the current state of
    records by primary key (deleted ones flagged ``IsDeleted``, purged ones absent), in
    as few calls as the source allows. Webhook processing uses it for notifications that
    do not carry every mapped field; without it those wait for the next poll.
    """

    name: str

    def discover(self) -> Catalog:
        """The objects and fields available, as the source describes them."""
        ...

    def count(self, request: ReadRequest) -> int | None:
        """How many records ``read`` would return, or None when counting is not cheap."""
        ...

    def read(self, request: ReadRequest) -> Iterator[Page]:
        """Pages of records in cursor order from ``request.cursor`` (exclusive of nothing:
        at-least-once), deleted records included when ``include_deleted``."""
        ...

    def write(self, operations: Sequence[WriteOperation]) -> list[WriteResult]:
        """Apply a batch of writes; one result per operation, in the same order."""
        ...

    def api_usage(self) -> tuple[int, int] | None:
        """(used, limit) of the source's API quota as last seen, when it has one."""
        ...

    def close(self) -> None:
        ...


@dataclasses.dataclass(frozen=True)
class ConnectorSpec:
    """A connector a plugin offers; ``factory(tenant)`` opens one for a tenant."""

    name: str
    plugin: str
    factory: Callable[[Any], Connector]
    objects: tuple[str, ...] = ()
    description: str = ""
