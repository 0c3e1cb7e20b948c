"""The ``tether`` command line.

A user mistake prints one clear line and exits non-zero; it never shows a traceback.
Areas add their own command groups (see ``COMMAND_MODULES``) and plugins add theirs
through the ``tether_cli_commands`` hook.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from tether import __version__

from . import secrets
from .errors import ManifestError, TetherError
from .manifests import load_tenant_manifest
from .runtime import Runtime

console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # an error stays one line, whatever the width

# Modules exposing a ``register(cli)`` function that adds a command group.
COMMAND_MODULES: tuple[str, ...] = ("tether.core.domain_cli", "tether.core.sync.cli", "tether.core.sync.writeback_cli",
                                    "tether.core.renewals.cli",
                                    "tether.core.jobs.cli", "tether.testing.fake_salesforce.cli",
                                    "tether.devkit.cli")


class TetherGroup(click.Group):
    """Turns tether errors into one line on stderr and exit status 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ManifestError as exc:
            err_console.print(f"[bold red]error:[/] {exc.source}: manifest is invalid, nothing was changed:")
            for line in exc.lines():
                err_console.print(f"  {line}", highlight=False, markup=False)
            sys.exit(1)
        except TetherError as exc:
            err_console.print(f"[bold red]error:[/] {exc.one_line()}", highlight=False)
            sys.exit(1)


def runtime(ctx: click.Context) -> Runtime:
    return ctx.ensure_object(Runtime)


@click.group(cls=TetherGroup)
@click.version_option(__version__, prog_name="tether")
@click.option("--log-level", default=None, help="Log level (default from TETHER_LOG_LEVEL, else INFO).")
@click.pass_context
def cli(ctx: click.Context, log_level: str | None) -> None:
    """tether: customer-success data platform."""
    rt = ctx.ensure_object(Runtime)
    logging.basicConfig(level=(log_level or rt.settings.log_level).upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)


# -- init and database ---------------------------------------------------------------------


@cli.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create tether's home folder and database, and apply every migration."""
    rt = runtime(ctx)
    rt.settings.home.mkdir(parents=True, exist_ok=True)
    heads = rt.store.upgrade()
    console.print(f"tether home: {rt.settings.home}")
    console.print(f"database: {rt.store.safe_url} (schema {', '.join(heads)})")


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Apply pending migrations of the core and of installed plugins."""
    rt = runtime(ctx)
    heads = rt.store.upgrade()
    console.print(f"database {rt.store.safe_url} is at {', '.join(heads)}")


@db.command("current")
@click.pass_context
def db_current(ctx: click.Context) -> None:
    """Show the schema revision and whether migrations are pending."""
    rt = runtime(ctx)
    console.print(f"current: {', '.join(rt.store.current_heads()) or 'empty'}")
    console.print(f"expected: {', '.join(rt.store.expected_heads())}")
    rt.store.check_current()
    console.print("up to date")


@db.command("revision")
@click.option("-m", "--message", required=True, help="What the migration does.")
@click.option("--branch", required=True, help="Branch label of the area (core, sync, renewals, a plugin's name...).")
@click.option("--rev-id", required=True, help="Revision id, e.g. sync_0002.")
@click.option("--version-path", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Folder for the file (default: the core's versions folder).")
@click.option("--new-branch", is_flag=True, help="Start the branch (depends on the core's current head).")
@click.pass_context
def db_revision(ctx: click.Context, message: str, branch: str, rev_id: str, version_path: Path | None,
                new_branch: bool) -> None:
    """Autogenerate a migration from the models against an up-to-date database (for developers)."""
    from alembic import command
    from alembic.script import ScriptDirectory

    rt = runtime(ctx)
    rt.store.check_current()
    cfg = rt.store.alembic_config()
    path = version_path or rt.store.migration_locations[0]
    with rt.store.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        if new_branch:
            core_head = ScriptDirectory.from_config(cfg).get_revision("core@head").revision
            script = command.revision(cfg, message=message, autogenerate=True, rev_id=rev_id, branch_label=branch,
                                      version_path=str(path), head="base", depends_on=core_head)
        else:
            script = command.revision(cfg, message=message, autogenerate=True, rev_id=rev_id,
                                      version_path=str(path), head=f"{branch}@head")
    generated = Path(script.path)
    # Autogenerate renders JSONB's text type unqualified; qualify it so the file imports.
    generated.write_text(generated.read_text().replace("astext_type=Text()", "astext_type=sa.Text()"))
    console.print(f"wrote {script.path}: review it before committing")


# -- manifests and tenants -----------------------------------------------------------------


@cli.group()
def manifest() -> None:
    """Tenant manifests."""


@manifest.command("validate")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.pass_context
def manifest_validate(ctx: click.Context, path: Path) -> None:
    """Check a tenant manifest without applying it."""
    loaded = load_tenant_manifest(path, runtime(ctx).host)
    console.print(f"{path}: valid manifest for tenant {loaded.tenant_id!r} "
                  f"(plugins: {', '.join(loaded.enabled_plugins) or 'none'})")


@cli.group()
def tenants() -> None:
    """Create, update and inspect tenants."""


@tenants.command("apply")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.pass_context
def tenants_apply(ctx: click.Context, path: Path) -> None:
    """Create or update a tenant from its manifest (all or nothing)."""
    from .tenants import apply_manifest

    rt = runtime(ctx)
    rt.store.check_current()
    result = apply_manifest(rt.store, rt.host, load_tenant_manifest(path, rt.host))
    if not result.changes:
        console.print(f"tenant {result.tenant_id!r} is already up to date")
        return
    console.print(f"tenant {result.tenant_id!r} {'created' if result.created else 'updated'}:")
    for change in result.changes:
        console.print(f"  - {change}")


@tenants.command("list")
@click.pass_context
def tenants_list(ctx: click.Context) -> None:
    """List tenants."""
    from .tenants import installations, list_tenants

    rt = runtime(ctx)
    rt.store.check_current()
    table = Table("id", "name", "plugins enabled", "updated")
    for tenant in list_tenants(rt.store):
        enabled = [row.plugin_name for row in installations(rt.store, tenant.id) if row.enabled]
        table.add_row(tenant.id, tenant.name, ", ".join(enabled), f"{tenant.updated_at:%Y-%m-%d %H:%M}")
    console.print(table)


@tenants.command("show")
@click.argument("tenant_id")
@click.pass_context
def tenants_show(ctx: click.Context, tenant_id: str) -> None:
    """Show a tenant's settings and plugins."""
    from .tenants import get_tenant, installations

    rt = runtime(ctx)
    rt.store.check_current()
    tenant = get_tenant(rt.store, tenant_id)
    console.print(f"[bold]{tenant.id}[/] {tenant.name}")
    console.print(f"settings: {json.dumps(tenant.settings, sort_keys=True)}")
    console.print(f"schedules: {len(tenant.schedules)}, mappings: {len(tenant.mappings)}")
    _print_installations(rt, installations(rt.store, tenant_id))


def _print_installations(rt: Runtime, rows) -> None:
    table = Table("plugin", "version", "enabled", "config")
    for row in rows:
        manifest = rt.host.manifest(row.plugin_name)
        secret_keys = manifest.secret_keys if manifest else set(row.config)
        table.add_row(row.plugin_name, row.version, "yes" if row.enabled else "no",
                      json.dumps(secrets.masked(row.config, secret_keys), sort_keys=True))
    console.print(table)


# -- plugins -------------------------------------------------------------------------------


@cli.group()
def plugins() -> None:
    """Installed plugins and their use by tenants."""


@plugins.command("list")
@click.pass_context
def plugins_list(ctx: click.Context) -> None:
    """List installed plugins, and any that failed to load."""
    rt = runtime(ctx)
    table = Table("plugin", "version", "hooks", "origin")
    for plugin in sorted(rt.host.plugins(), key=lambda p: p.name):
        table.add_row(plugin.name, plugin.manifest.version, str(len(plugin.manifest.hooks)), plugin.origin)
    console.print(table)
    for failed in rt.host.failed_plugins():
        err_console.print(f"[yellow]not loaded:[/] {failed.name} ({failed.origin}): {failed.reason}", highlight=False)


@plugins.command("show")
@click.argument("name")
@click.pass_context
def plugins_show(ctx: click.Context, name: str) -> None:
    """Show a plugin's manifest."""
    plugin = runtime(ctx).host.require(name)
    console.print_json(json.dumps(plugin.manifest.as_dict()))


@plugins.command("enable")
@click.argument("tenant_id")
@click.argument("name")
@click.pass_context
def plugins_enable(ctx: click.Context, tenant_id: str, name: str) -> None:
    """Enable a plugin for a tenant."""
    from .tenants import set_plugin_enabled

    rt = runtime(ctx)
    changed = set_plugin_enabled(rt.store, rt.host, tenant_id, name, True)
    console.print(f"plugin {name!r} {'enabled' if changed else 'was already enabled'} for tenant {tenant_id!r}")


@plugins.command("disable")
@click.argument("tenant_id")
@click.argument("name")
@click.pass_context
def plugins_disable(ctx: click.Context, tenant_id: str, name: str) -> None:
    """Disable a plugin for a tenant (its config is kept)."""
    from .tenants import set_plugin_enabled

    rt = runtime(ctx)
    changed = set_plugin_enabled(rt.store, rt.host, tenant_id, name, False)
    console.print(f"plugin {name!r} {'disabled' if changed else 'was not enabled'} for tenant {tenant_id!r}")


@plugins.command("config")
@click.argument("tenant_id")
@click.argument("name")
@click.pass_context
def plugins_config(ctx: click.Context, tenant_id: str, name: str) -> None:
    """Show a tenant's config of a plugin, secrets masked (change it through the manifest)."""
    from .tenants import get_tenant, installations

    rt = runtime(ctx)
    get_tenant(rt.store, tenant_id)
    rows = [row for row in installations(rt.store, tenant_id) if row.plugin_name == name]
    if not rows:
        raise TetherError(f"plugin {name!r} is not installed for tenant {tenant_id!r}",
                          hint="add it to the tenant manifest and run `tether tenants apply`")
    _print_installations(rt, rows)


# -- users -------------------------------------------------------------------------------


@cli.group()
def users() -> None:
    """Users and API tokens (users themselves are declared in tenant manifests)."""


@users.command("token")
@click.argument("tenant_id")
@click.argument("username")
@click.option("--name", default=None, help="A label for the token.")
@click.pass_context
def users_token(ctx: click.Context, tenant_id: str, username: str, name: str | None) -> None:
    """Create an API token for a user; it is printed once and stored only as a hash."""
    from .api.tokens import issue_token
    from .tenants import get_tenant

    rt = runtime(ctx)
    get_tenant(rt.store, tenant_id)
    token = issue_token(rt.store, tenant_id, username, name=name)
    console.print(token, highlight=False, soft_wrap=True)
    err_console.print("store it now: tether keeps only its hash and cannot show it again")


# -- demo ------------------------------------------------------------------------------------


@cli.command()
@click.option("--home", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Where the demo keeps its database (default: ./.tether-demo; its database is recreated).")
@click.option("--serve/--no-serve", default=True, help="Serve the web pages at the end (until Ctrl-C).")
@click.option("--opportunities", type=click.IntRange(50, 1_000_000), default=2000, show_default=True,
              help="How many opportunities the fake org is seeded with.")
@click.option("--port", type=int, default=8000, show_default=True, help="Port for the web pages.")
@click.option("--seed", type=int, default=42, show_default=True, help="Seed of the fake org's data.")
@click.pass_context
def demo(ctx: click.Context, home: Path | None, serve: bool, opportunities: int, port: int, seed: int) -> None:
    """Run the demo: a fake Salesforce org, a demo tenant, a sync, the Renewal Center, the web pages."""
    from .demo import run_demo

    run_demo(home=home or Path.cwd() / ".tether-demo", console=console, serve=serve,
             opportunities=opportunities, port=port, seed=seed)


def _add_area_commands(group: click.Group) -> None:
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(group)


def build_cli(rt: Runtime | None = None) -> click.Group:
    """The root group with area and plugin commands attached."""
    _add_area_commands(cli)
    try:
        (rt or Runtime()).host.call_global("tether_cli_commands", cli=cli)
    except TetherError as exc:
        err_console.print(f"[yellow]warning:[/] plugin commands unavailable: {exc.one_line()}", highlight=False)
    return cli


def main() -> None:
    try:
        rt = Runtime()
    except TetherError as exc:
        err_console.print(f"[bold red]error:[/] {exc.one_line()}", highlight=False)
        sys.exit(1)
    build_cli(rt)(obj=rt)
