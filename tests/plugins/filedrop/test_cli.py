"""``tether filedrop files`` and ``tether filedrop import``, as an operator runs them."""

from __future__ import annotations

from click.testing import CliRunner

from tether.core.cli import build_cli

from .drop import usage


def states(output: str) -> dict[str, str]:
    """``{file: state}`` from the rich table ``tether filedrop files`` prints."""
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in output.splitlines() if ".csv" in line]
    return {row[1]: row[-1] for row in rows}


def run(runtime, *args: str):
    return CliRunner().invoke(build_cli(runtime), list(args), obj=runtime, env={"COLUMNS": "200"})


def test_files_shows_each_state_and_import_reads_the_settled_ones(drop, make_tenant, tether_runtime, tether_clock):
    make_tenant("acme", plugins={"filedrop": {"location": drop.url, "settle_seconds": 30}})
    drop.csv("usage", [usage("acct-1", "logins", "2024-06-01", 3)], name="settled.csv")
    tether_clock.advance(60)
    drop.csv("usage", [usage("acct-1", "logins", "2024-06-02", 4)], name="copying.csv")

    listed = run(tether_runtime, "filedrop", "files", "acme")
    assert listed.exit_code == 0, listed.output
    assert states(listed.output) == {"settled.csv": "to read", "copying.csv": "settling"}

    imported = run(tether_runtime, "filedrop", "import", "acme", "--object", "usage")
    assert imported.exit_code == 0, imported.output
    assert "usage: success, 1 rows read, 1 stored" in imported.output
    after = run(tether_runtime, "filedrop", "files", "acme")
    assert states(after.output) == {"settled.csv": "read to row 1", "copying.csv": "settling"}


def test_a_tenant_without_the_plugin_is_told_how_to_enable_it(make_tenant, tether_runtime):
    make_tenant("globex")
    result = run(tether_runtime, "filedrop", "import", "globex")
    assert result.exit_code == 1
    assert "the filedrop plugin is not enabled for tenant 'globex'" in result.output
