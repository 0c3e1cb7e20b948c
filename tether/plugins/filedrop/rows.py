"""Turning file rows into usage values and product events, and storing a page of them.

Every row is checked before anything is written: a value that is not a number, a date
that is not a date, a missing account, each names the file, the row and the column,
and the page stops there (nothing of it is stored, the cursor stays before it).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable, Sequence

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tether.core.errors import PermanentConnectorError
from tether.core.store.models import Company
from tether.core.store.types import utcnow
from tether.core.sync.coerce import to_date, to_datetime, to_float

from .config import FileDropSettings
from .models import ProductEvent, UsageValue

USAGE_COLUMNS = ("account", "metric", "date", "value")
EVENT_COLUMNS = ("account", "occurred_at", "type", "subject", "notes", "user")
DEFAULT_EVENT_TYPE = "Product event"
CHUNK = 500


class BadRow(PermanentConnectorError):
    """A row that does not fit; ``index`` is its place in the page (the rows before it are fine)."""

    index: int = 0


def _bad(record: dict[str, Any], column: str, problem: str) -> BadRow:
    return BadRow(
        f"filedrop: {record.get('_file')} row {record.get('_row')}: {column} {problem}", code="BAD_VALUE",
        hint="fix the row and drop the corrected file again; rows before it are stored, nothing after it is read")


def _at(index: int, error: BadRow) -> BadRow:
    error.index = index
    return error


def _text(record: dict[str, Any], column: str, limit: int, *, required: bool = True) -> str | None:
    value = record.get(column)
    text = "" if value is None else str(value).strip()
    if not text:
        if required:
            raise _bad(record, column, "is empty")
        return None
    if len(text) > limit:
        raise _bad(record, column, f"is {len(text)} characters long; at most {limit} fit")
    return text


def usage_rows(records: Iterable[dict[str, Any]], tenant_id: str) -> list[dict[str, Any]]:
    rows = []
    now = utcnow()
    for index, record in enumerate(records):
        try:
            rows.append(_usage_row(record, tenant_id, now))
        except BadRow as error:
            raise _at(index, error) from None
    return rows


def _usage_row(record: dict[str, Any], tenant_id: str, now: Any) -> dict[str, Any]:
    try:
        period = to_date(record.get("date"))
    except ValueError:
        raise _bad(record, "date", f"{record.get('date')!r} is not a date such as 2024-06-03") from None
    if period is None:
        raise _bad(record, "date", "is empty")
    try:
        value = to_float(record.get("value"))
    except (TypeError, ValueError):
        raise _bad(record, "value", f"{record.get('value')!r} is not a number") from None
    if value is None:
        raise _bad(record, "value", "is empty")
    return {"tenant_id": tenant_id, "record_key": record["_id"], "account": _text(record, "account", 200),
            "metric": _text(record, "metric", 120), "period": period, "value": value,
            "source_file": str(record["_file"])[:255], "arrived": to_datetime(record["_arrived"]),
            "company_id": None, "created_at": now, "updated_at": now}


def event_rows(records: Iterable[dict[str, Any]], tenant_id: str) -> list[dict[str, Any]]:
    rows = []
    now = utcnow()
    for index, record in enumerate(records):
        try:
            rows.append(_event_row(record, tenant_id, now))
        except BadRow as error:
            raise _at(index, error) from None
    return rows


def _event_row(record: dict[str, Any], tenant_id: str, now: Any) -> dict[str, Any]:
    try:
        occurred = to_datetime(record.get("occurred_at"))
    except ValueError:
        raise _bad(record, "occurred_at", f"{record.get('occurred_at')!r} is not a time such as "
                                          f"2024-06-03T09:30:00Z") from None
    if occurred is None:
        raise _bad(record, "occurred_at", "is empty")
    kind = _text(record, "type", 60, required=False) or DEFAULT_EVENT_TYPE
    return {"tenant_id": tenant_id, "record_key": record["_id"], "account": _text(record, "account", 200),
            "occurred_at": occurred, "type": kind, "subject": _text(record, "subject", 255, required=False) or kind,
            "notes": str(record.get("notes") or ""), "author": _text(record, "user", 200, required=False),
            "source_file": str(record["_file"])[:255], "arrived": to_datetime(record["_arrived"]),
            "company_id": None, "created_at": now, "updated_at": now}


def company_ids(session: Session, settings: FileDropSettings, accounts: Iterable[str]) -> dict[str, int]:
    """``{account: company id}`` for accounts that name a live company (one query per chunk)."""
    wanted = sorted(set(accounts))
    column = Company.name if settings.company_match == "name" else Company.external_id
    found: dict[str, int] = {}
    for start in range(0, len(wanted), CHUNK):
        stmt = select(column, Company.id).where(column.in_(wanted[start:start + CHUNK]), Company.is_deleted.is_(False))
        if settings.company_source and settings.company_match == "external_id":
            stmt = stmt.where(Company.external_source == settings.company_source)
        for account, company_id in session.execute(stmt.order_by(Company.id)):
            found.setdefault(account, company_id)  # several matches: the oldest company
    return found


def store_page(session: Session, settings: FileDropSettings, model: type, rows: Sequence[dict[str, Any]]) -> int:
    """Upsert a page of rows by record key; an older arrival changes nothing. Returns rows written."""
    if not rows:
        return 0
    links = company_ids(session, settings, (r["account"] for r in rows))
    newest: dict[str, dict[str, Any]] = {}
    for row in rows:  # a key twice in one page: the last row read wins
        row["company_id"] = links.get(row["account"])
        newest[row["record_key"]] = row
    unique = list(newest.values())
    # One statement per dialect and table, compiled once (SQLAlchemy caches it) and run as
    # an executemany, which the drivers batch: no per-page SQL compilation.
    session.connection().execute(_upsert(model, session.get_bind().dialect.name), unique)
    return len(unique)


_UPSERTS: dict[tuple[str, str], Any] = {}


def _upsert(model: type, dialect: str) -> Any:
    """``INSERT … ON CONFLICT (tenant_id, record_key) DO UPDATE … WHERE`` the stored row did not arrive later."""
    key = (model.__tablename__, dialect)
    statement = _UPSERTS.get(key)
    if statement is None:
        table = model.__table__
        insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
        changing = {c.name: insert.excluded[c.name] for c in table.columns
                    if c.name not in ("id", "tenant_id", "record_key", "created_at")}
        statement = _UPSERTS[key] = insert.on_conflict_do_update(
            index_elements=["tenant_id", "record_key"], set_=changing, where=table.c.arrived <= insert.excluded.arrived)
    return statement


def link_companies(session: Session, settings: FileDropSettings, tenant_id: str, company_ids_: Sequence[int]) -> int:
    """Give waiting rows (no company yet) the companies that just appeared: one executemany
    per table and chunk. Returns the rows linked."""
    column = Company.name if settings.company_match == "name" else Company.external_id
    linked = 0
    connection = session.connection()
    for start in range(0, len(company_ids_), CHUNK):
        stmt = select(column, Company.id).where(Company.id.in_(list(company_ids_[start:start + CHUNK])),
                                                Company.is_deleted.is_(False), column.is_not(None))
        if settings.company_source and settings.company_match == "external_id":
            stmt = stmt.where(Company.external_source == settings.company_source)
        pairs = [{"b_account": account, "b_company": company_id} for account, company_id in session.execute(stmt)]
        if not pairs:
            continue
        for model in (UsageValue, ProductEvent):
            table = model.__table__
            result = connection.execute(
                update(table).where(table.c.tenant_id == tenant_id, table.c.account == bindparam("b_account"),
                                    table.c.company_id.is_(None))
                .values(company_id=bindparam("b_company"), updated_at=utcnow()), pairs)
            linked += max(result.rowcount or 0, 0)
    return linked


def days_ago(today: dt.date, days: int) -> dt.date:
    return today - dt.timedelta(days=days - 1)
