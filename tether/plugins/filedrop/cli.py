"""``tether filedrop …``: look at a tenant's drop folder and import it now."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from tether.core.errors import TetherError
from tether.core.runtime import Runtime
from tether.core.sync.cursors import load_cursor

from .config import PLUGIN
from .connector import FileDropConnector
from .cursor import iso_of, parse_cursor

console = Console()


def _tenant(ctx: click.Context, tenant_id: str):
    rt = ctx.ensure_object(Runtime)
    rt.store.check_current()
    tenant = rt.context(tenant_id)
    if not tenant.is_enabled(PLUGIN):
        raise TetherError(f"the filedrop plugin is not enabled for tenant {tenant_id!r}",
                          hint="add it to the tenant manifest's plugins and apply it")
    return tenant


@click.group("filedrop")
def filedrop() -> None:
    """Usage files dropped in a folder (file drop plugin)."""


@filedrop.command("files")
@click.argument("tenant_id")
@click.pass_context
def files(ctx: click.Context, tenant_id: str) -> None:
    """List each object's files: read, to read, read up to a row, or still settling."""
    tenant = _tenant(ctx, tenant_id)
    connector = FileDropConnector.for_tenant(tenant)
    table = Table("object", "file", "arrived (UTC)", "bytes", "state")
    for object_name in connector.drop.objects():
        with tenant.session() as session:
            position = parse_cursor(load_cursor(session, PLUGIN, object_name).value)
        settled = {f.key for f in connector.settled_files(object_name)}
        for file in connector.drop.files(object_name):
            start = None if position is None else position.start_row(file.key)
            if file.key not in settled:
                state = "settling"
            elif position is None or start == 1:
                state = "to read"
            elif start is None:
                state = "read"
            else:
                state = f"read to row {start - 1}"  # the last file read: more rows may follow
            table.add_row(object_name, file.name, iso_of(file.arrived_us)[:19], f"{file.size:,}", state)
    console.print(table)


@filedrop.command("import")
@click.argument("tenant_id")
@click.option("--object", "objects", multiple=True, help="Only this object (usage or events; repeatable).")
@click.pass_context
def import_now(ctx: click.Context, tenant_id: str, objects: tuple[str, ...]) -> None:
    """Import new usage and event files now (the filedrop_import job does it on schedule)."""
    from .importer import import_drop

    tenant = _tenant(ctx, tenant_id)
    results = import_drop(tenant, objects=objects or None)
    for result in results:
        line = f"{result.object_name}: {result.status}, {result.rows_read} rows read, {result.rows_stored} stored"
        console.print(line + (f" ({result.error})" if result.error else ""), highlight=False)
    if any(r.status == "failed" for r in results):
        raise SystemExit(1)
