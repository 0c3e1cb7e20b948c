"""``tether demo``: everything tether does, end to end, on one machine with no Salesforce.

It grows as areas land: a fake Salesforce org seeded with a realistic book of business,
the demo tenant applied from ``manifests/demo.yaml``, a sync, health scores, the
Renewal Center, and the web pages served while the fake org keeps sending changes.
"""

from __future__ import annotations

import os
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .errors import ConfigurationError
from .manifests import load_tenant_manifest
from .runtime import Runtime
from .settings import Settings
from .tenants import apply_manifest, installations

DEMO_TENANT = "demo"


def demo_manifest_path() -> Path:
    """The demo tenant's manifest, from the source checkout tether runs from."""
    candidate = Path(__file__).resolve().parents[2] / "manifests" / "demo.yaml"
    if not candidate.is_file():
        raise ConfigurationError(
            f"the demo manifest is not at {candidate}",
            hint="run the demo from a source checkout of tether (make demo)",
        )
    return candidate


def run_demo(*, home: Path, console: Console, serve: bool = True) -> Runtime:
    home.mkdir(parents=True, exist_ok=True)
    settings = Settings.from_env({**os.environ, "TETHER_HOME": str(home),
                                  "TETHER_DATABASE_URL": f"sqlite:///{home / 'tether.sqlite3'}"})
    runtime = Runtime(settings)
    console.rule("[bold]tether demo")
    console.print(f"home: {home}")
    heads = runtime.store.upgrade()
    console.print(f"database: {runtime.store.safe_url} (schema {', '.join(heads)})")

    os.environ.setdefault("TETHER_DEMO_SF_INSTANCE_URL", "https://demo.my.salesforce.com")
    os.environ.setdefault("TETHER_DEMO_SF_PASSWORD", "demo-password")
    os.environ.setdefault("TETHER_DEMO_SF_TOKEN", "demo-token")

    manifest = load_tenant_manifest(demo_manifest_path(), runtime.host)
    result = apply_manifest(runtime.store, runtime.host, manifest)
    console.print(f"tenant {result.tenant_id!r}: " + ("; ".join(result.changes) if result.changes else "already up to date"))
    _print_installed(runtime, console)
    return runtime


def _print_installed(runtime: Runtime, console: Console) -> None:
    table = Table("plugin", "version", "enabled", "hooks", title=f"plugins of tenant {DEMO_TENANT!r}")
    for row in installations(runtime.store, DEMO_TENANT):
        manifest = runtime.host.manifest(row.plugin_name)
        table.add_row(row.plugin_name, row.version, "yes" if row.enabled else "no",
                      ", ".join(manifest.hooks) if manifest and manifest.hooks else "-")
    console.print(table)
