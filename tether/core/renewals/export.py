"""CSV export of a drill-down, streamed: rows go out as the database hands them over.

The generator owns its session for the life of the response; memory stays flat whatever
the row count (a server-side cursor on PostgreSQL, SQLite's own stepping cursor).
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Iterator

from .config import RenewalConfig
from .drilldown import Drill, rows

if TYPE_CHECKING:
    from ..plugins import TenantContext

FLUSH_ROWS = 1000


def csv_chunks(tenant: "TenantContext", drill: Drill, config: RenewalConfig) -> Iterator[str]:
    """The header line, then the rows, in chunks of about ``FLUSH_ROWS`` lines."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(drill.header())
    with tenant.session() as session:
        pending = 0
        for values in rows(session, drill, tenant.id, config):
            writer.writerow(values)
            pending += 1
            if pending >= FLUSH_ROWS:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
                pending = 0
    tail = buffer.getvalue()
    if tail:
        yield tail


def filename(tenant_id: str, drill: Drill) -> str:
    group = f"-{drill.group}" if drill.dimension is not None else ""
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in f"{tenant_id}-{drill.measure.key}-"
                   f"{drill.period.label}{group}")
    return f"{safe}.csv"
