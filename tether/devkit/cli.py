"""``tether plugin new NAME``: scaffold a connector or domain plugin package."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from .scaffold import KINDS, create_plugin

console = Console()


@click.group("plugin")
def plugin() -> None:
    """Write your own plugin: scaffold a package with tests (see docs/write-a-connector.md)."""


@plugin.command("new")
@click.argument("name")
@click.option("--kind", type=click.Choice(KINDS), default="connector", show_default=True,
              help="A connector (reads and writes an external system) or a domain plugin (measures, types...).")
@click.option("--directory", type=click.Path(path_type=Path, file_okay=False), default=Path("."), show_default=True,
              help="Where to create the package folder.")
def new(name: str, kind: str, directory: Path) -> None:
    """Create a ready plugin package: setup.cfg with its entry point, manifest.yaml, the
    plugin module, a README and tests that pass as generated."""
    from tether.core.plugins import PluginHost

    installed = tuple(PluginHost.from_entry_points().plugin_names())
    target = create_plugin(name, kind, directory, installed=installed)
    console.print(f"created {kind} plugin package [bold]{target}[/]", highlight=False)
    console.print("next:", highlight=False)
    console.print(f"  cd {target}", highlight=False, markup=False)
    console.print("  pip install -e '.[test]'", highlight=False, markup=False)
    console.print("  pytest", highlight=False, markup=False)


def register(cli: click.Group) -> None:
    cli.add_command(plugin)
