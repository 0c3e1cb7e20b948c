"""Per (tenant, connector, object) read positions, written with the rows they cover."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..store.models import SyncCursor
from ..store.types import utcnow

# SyncCursor.value is a String(100): connectors keep their cursors short.
MAX_CURSOR_LENGTH = 100


@dataclasses.dataclass(frozen=True)
class CursorState:
    value: str | None
    state: dict[str, Any]
    full_load_completed_at: dt.datetime | None

    @property
    def initial_load_done(self) -> bool:
        return self.full_load_completed_at is not None


def load_cursor(session: Session, connector: str, object_name: str) -> CursorState:
    row = session.scalar(select(SyncCursor).where(SyncCursor.connector == connector,
                                                  SyncCursor.object_name == object_name))
    if row is None:
        return CursorState(None, {}, None)
    return CursorState(row.value, dict(row.state or {}), row.full_load_completed_at)


def save_cursor(session: Session, connector: str, object_name: str, *, value: str | None,
                state: dict[str, Any] | None = None, full_load_completed: bool | None = None) -> None:
    """Upsert the cursor in ``session``'s transaction (the caller commits it with the page).

    ``full_load_completed``: True stamps the completion time, False clears it (a full
    reload in progress), None leaves it.
    """
    if value is not None and len(value) > MAX_CURSOR_LENGTH:
        raise ValueError(f"cursor for {connector} {object_name} is {len(value)} characters; the limit is {MAX_CURSOR_LENGTH}")
    row = session.scalar(select(SyncCursor).where(SyncCursor.connector == connector,
                                                  SyncCursor.object_name == object_name))
    if row is None:
        row = SyncCursor(connector=connector, object_name=object_name, state={})
        session.add(row)
    row.value = value
    if state is not None:
        row.state = state
    if full_load_completed is True:
        row.full_load_completed_at = utcnow()
    elif full_load_completed is False:
        row.full_load_completed_at = None
    row.updated_at = utcnow()
