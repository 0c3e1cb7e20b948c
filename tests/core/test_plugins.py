"""The plugin host: entry points (including broken ones), per-tenant hooks, attribution."""

import logging
import sys
import textwrap

import pytest

from tether.core.contracts import ChangeSet
from tether.core.errors import PluginHookError, PluginLoadError
from tether.core.plugins import PluginHost

from .sample_plugins import Exploder, Greeter, manifest


def write_distribution(root, dist_name, entry_points: dict[str, str], modules: dict[str, str]):
    """A real installed distribution on sys.path: dist-info with entry_points.txt, and modules."""
    info = root / f"{dist_name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: 1.0\n")
    lines = "\n".join(f"{name} = {target}" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[tether.plugins]\n{lines}\n")
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))


@pytest.fixture
def plugin_dist(tmp_path, monkeypatch):
    write_distribution(
        tmp_path, "tether_sample_plugins",
        {"good": "good_plugin", "broken": "broken_plugin", "mismatch": "mismatch_plugin"},
        {
            "good_plugin": '''
                from tether.core.hookspecs import hookimpl
                TETHER_MANIFEST = {"name": "good", "version": "2.0.0", "description": "works",
                                   "hooks": ["tether_relationship_types"]}
                @hookimpl
                def tether_relationship_types(tenant):
                    return []
            ''',
            "broken_plugin": "import module_that_does_not_exist\n",
            "mismatch_plugin": '''
                TETHER_MANIFEST = {"name": "mismatch", "version": "1.0.0", "description": "lies",
                                   "hooks": ["tether_relationship_types"]}
            ''',
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    for module in ("good_plugin", "broken_plugin", "mismatch_plugin"):
        sys.modules.pop(module, None)


def test_entry_points_load_and_broken_ones_are_logged_and_skipped(plugin_dist, caplog):
    caplog.set_level(logging.ERROR, logger="tether.core.plugins")
    host = PluginHost.from_entry_points()

    assert "good" in host.plugin_names()
    assert {"salesforce", "scorecards", "timeline"} <= set(host.plugin_names())  # built-ins, same group
    failed = {f.name: f.reason for f in host.failed_plugins()}
    assert "No module named 'module_that_does_not_exist'" in failed["broken"]
    assert "differ from implemented hooks" in failed["mismatch"]
    assert "broken" not in host.plugin_names() and "mismatch" not in host.plugin_names()
    logged = caplog.text
    assert "'broken' could not be loaded and is skipped" in logged
    assert "'mismatch' could not be loaded" in logged


def test_a_plugin_needing_a_newer_tether_is_refused_with_both_versions():
    host = PluginHost()
    with pytest.raises(PluginLoadError, match=r"requires tether >=99, this is 0\."):
        host.register(Greeter("future"), manifest=manifest("future", ["tether_relationship_types", "tether_records_changed"], requires_tether=">=99"))


def test_unknown_hook_in_manifest_is_refused():
    host = PluginHost()
    with pytest.raises(PluginLoadError, match="unknown hooks: tether_nope"):
        host.register(object(), manifest=manifest("odd", ["tether_nope"]))


def test_tenant_hooks_reach_only_enabled_plugins():
    host = PluginHost()
    one, two, three = Greeter("one"), Greeter("two"), Greeter("three")
    for plugin in (one, two, three):
        host.register(plugin)
    acme = host.tenant_context("acme", plugin_configs={"one": {}, "two": {}})
    globex = host.tenant_context("globex", plugin_configs={"two": {}, "three": {}})

    acme_types = {spec.name for specs in acme.hooks.tether_relationship_types() for spec in specs}
    globex_types = {spec.name for specs in globex.hooks.tether_relationship_types() for spec in specs}
    globex.hooks.tether_records_changed(changes=ChangeSet(entity="company", created=[1]))

    assert acme_types == {"one-type", "two-type"}
    assert globex_types == {"two-type", "three-type"}
    assert one.calls == ["acme"]
    assert two.calls == ["acme", "globex", ("globex", "company")]
    assert three.calls == ["globex", ("globex", "company")]


def test_tenants_with_the_same_plugins_share_hook_callers():
    host = PluginHost()
    for name in ("one", "two", "three"):
        host.register(Greeter(name))
    first = host.tenant_context("a", plugin_configs={"one": {}, "two": {}})
    second = host.tenant_context("b", plugin_configs={"two": {}, "one": {}})
    assert host.subset_callers(first.plugin_configs) is host.subset_callers(second.plugin_configs)


def test_a_raising_plugin_fails_only_its_tenant_and_is_named():
    host = PluginHost()
    host.register(Greeter("one"))
    host.register(Greeter("two"))
    host.register(Exploder())
    victim = host.tenant_context("victim", plugin_configs={"two": {}, "exploder": {}})
    bystander = host.tenant_context("bystander", plugin_configs={"one": {}, "two": {}})

    with pytest.raises(PluginHookError) as caught:
        victim.hooks.tether_relationship_types()

    error = caught.value
    assert (error.plugin, error.hook, error.tenant) == ("exploder", "tether_relationship_types", "victim")
    assert "plugin 'exploder' failed in hook tether_relationship_types for tenant 'victim'" in str(error)
    assert "cannot build types for victim" in str(error)
    assert isinstance(error.cause, RuntimeError)
    # The other tenant's calls still work, including through the shared plugin "two".
    assert len(bystander.hooks.tether_relationship_types()) == 2


def test_tenant_context_never_shows_configs_in_its_repr():
    host = PluginHost()
    host.register(Greeter("one"))
    context = host.tenant_context("acme", plugin_configs={"one": {"token": "s3cret"}})
    assert "s3cret" not in repr(context)
