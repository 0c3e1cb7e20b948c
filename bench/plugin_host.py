"""Plugin host at scale: memory of per-tenant hook callers, and per-call overhead.

1,000 tenants each enable 10 of 20 installed plugins (mostly distinct sets, the worst
case for caller sharing). Prints the memory the tenant contexts and their hook callers
take, and the cost of a tenant hook call relative to a plain ``pm.hook`` call on a
plugin manager holding exactly the same 10 plugins.

    python bench/plugin_host.py [--tenants 1000] [--plugins 20] [--per-tenant 10]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import timeit
import tracemalloc

import pluggy

from tether.core import hookspecs
from tether.core.contracts import ChangeSet
from tether.core.hookspecs import hookimpl
from tether.core.plugins import PluginHost

TARGETS = {"callers_memory_mb": 50.0, "ratio_tenant_call_overhead": 1.5}


def make_plugin(index: int):
    class BenchPlugin:
        TETHER_MANIFEST = {"name": f"bench-{index:02d}", "version": "1.0.0", "description": "bench",
                           "hooks": ["tether_records_changed", "tether_relationship_types", "tether_health_measures"]}

        @hookimpl
        def tether_records_changed(self, tenant, changes):
            return None

        @hookimpl
        def tether_relationship_types(self, tenant):
            return []

        @hookimpl
        def tether_health_measures(self, tenant):
            return []

    return BenchPlugin()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--plugins", type=int, default=20)
    parser.add_argument("--per-tenant", type=int, default=10)
    args = parser.parse_args()
    rng = random.Random(7)

    host = PluginHost()
    plugins = [make_plugin(i) for i in range(args.plugins)]
    for plugin in plugins:
        host.register(plugin)
    names = host.plugin_names()

    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    contexts = []
    for index in range(args.tenants):
        enabled = rng.sample(names, args.per_tenant)
        context = host.tenant_context(f"t{index}", plugin_configs={name: {} for name in enabled})
        # Touch every hook once so the per-tenant bound callers exist, as in a busy server.
        for hook in ("tether_records_changed", "tether_relationship_types", "tether_health_measures"):
            getattr(context.hooks, hook)
        contexts.append(context)
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    memory_mb = sum(stat.size_diff for stat in after.compare_to(before, "filename")) / 1024 / 1024
    distinct_sets = len(host._subset_cache)

    # Per-call overhead: tenant call vs plain pm.hook with the same plugins registered.
    context = contexts[0]
    enabled_objects = [p for p in plugins if host.pm.get_name(p) in context.plugin_configs]
    baseline_pm = pluggy.PluginManager(hookspecs.PROJECT)
    baseline_pm.add_hookspecs(hookspecs)
    for plugin in enabled_objects:
        baseline_pm.register(plugin)
    changes = ChangeSet(entity="company", created=[1])
    plain = baseline_pm.hook.tether_records_changed
    tenant_call = context.hooks.tether_records_changed
    number = 50_000
    plain_s = min(timeit.repeat(lambda: plain(tenant=context, changes=changes), number=number, repeat=5)) / number
    tenant_s = min(timeit.repeat(lambda: tenant_call(changes=changes), number=number, repeat=5)) / number
    ratio = tenant_s / plain_s

    figures = {
        "callers_memory_mb": round(memory_mb, 2),
        "distinct_plugin_sets": distinct_sets,
        "plain_call_us": round(plain_s * 1e6, 3),
        "tenant_call_us": round(tenant_s * 1e6, 3),
        "ratio_tenant_call_overhead": round(ratio, 3),
    }
    print(f"tenants: {args.tenants}, plugins installed: {args.plugins}, enabled per tenant: {args.per_tenant}")
    print(f"memory of tenant contexts + hook callers: {figures['callers_memory_mb']} MB "
          f"({distinct_sets} distinct plugin sets)   target < {TARGETS['callers_memory_mb']} MB")
    print(f"plain pm.hook call: {figures['plain_call_us']} µs; tenant hook call: {figures['tenant_call_us']} µs")
    print(f"tenant call / plain call: {figures['ratio_tenant_call_overhead']}×   target ≤ {TARGETS['ratio_tenant_call_overhead']}×")
    print(json.dumps({"bench": "plugin_host", "figures": figures, "targets": TARGETS}))


if __name__ == "__main__":
    main()
