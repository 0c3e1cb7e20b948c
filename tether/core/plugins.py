"""The plugin host: loads plugins, and gives each tenant hooks that reach only its plugins.

One :class:`PluginHost` knows every installed plugin. A tenant's hook calls go through
pluggy's ``subset_hook_caller`` limited to the plugins it enabled; the subset callers are
cached per set of enabled plugins, so a thousand tenants with the same plugins share
one set of callers.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import logging
from pathlib import Path
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any, Iterable, Mapping

import pluggy

from . import hookspecs, secrets
from .errors import PluginError, PluginHookError, PluginLoadError, PluginNotFound
from .manifests import PluginManifest, load_plugin_manifest, parse_plugin_manifest

if TYPE_CHECKING:
    from .store import Store

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "tether.plugins"
HOOK_NAMES = tuple(sorted(name for name in dir(hookspecs) if name.startswith("tether_")))


@dataclasses.dataclass(frozen=True)
class LoadedPlugin:
    name: str
    obj: Any
    manifest: PluginManifest
    origin: str  # "entry point <dist> <version>" or "registered"


@dataclasses.dataclass(frozen=True)
class FailedPlugin:
    name: str
    origin: str
    reason: str


class PluginHost:
    """Every plugin this process knows, and per-tenant hook callers over them."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self._plugins: dict[str, LoadedPlugin] = {}
        self._failed: dict[str, FailedPlugin] = {}
        self._subset_cache: dict[frozenset[str], dict[str, Any]] = {}
        # Which plugin a hook implementation's code belongs to, to name it when it raises.
        self._plugin_of_code: dict[Any, str] = {}

    # -- loading -----------------------------------------------------------------------

    @classmethod
    def from_entry_points(cls, group: str = ENTRY_POINT_GROUP) -> "PluginHost":
        host = cls()
        host.load_entry_points(group)
        return host

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> None:
        """Load every ``tether.plugins`` entry point; a broken one is logged and skipped."""
        seen: set[str] = set()
        for entry_point in sorted(importlib.metadata.entry_points(group=group), key=lambda ep: ep.name):
            if entry_point.name in seen or entry_point.name in self._plugins:
                continue  # the same distribution visible twice on sys.path
            seen.add(entry_point.name)
            dist = getattr(entry_point, "dist", None)
            origin = f"entry point {entry_point.value}" + (f" ({dist.name} {dist.version})" if dist else "")
            try:
                obj = entry_point.load()
                self.register(obj, origin=origin)
            except Exception as exc:  # a broken plugin must never stop tether from starting
                reason = exc.one_line() if isinstance(exc, PluginError) else f"{type(exc).__name__}: {exc}"
                self._failed[entry_point.name] = FailedPlugin(entry_point.name, origin, reason)
                log.error("plugin %r could not be loaded and is skipped: %s", entry_point.name, reason)

    def register(self, obj: Any, *, manifest: PluginManifest | Mapping[str, Any] | None = None,
                 origin: str = "registered") -> LoadedPlugin:
        """Register a plugin object (module or instance) with its manifest.

        Without ``manifest`` the plugin's ``manifest.yaml`` is read from its package
        folder (or from a ``TETHER_MANIFEST`` attribute holding a path or a mapping).
        """
        manifest = _manifest_for(obj, manifest)
        from tether import __version__

        if not manifest.supports_tether(__version__):
            raise PluginLoadError(
                f"plugin {manifest.name!r} {manifest.version} requires tether {manifest.requires_tether}, this is {__version__}",
                hint=f"install a version of {manifest.name!r} made for tether {__version__}",
            )
        if manifest.name in self._plugins:
            raise PluginLoadError(f"a plugin named {manifest.name!r} is already registered ({self._plugins[manifest.name].origin})")
        unknown = [hook for hook in manifest.hooks if hook not in HOOK_NAMES]
        if unknown:
            raise PluginLoadError(f"plugin {manifest.name!r} manifest lists unknown hooks: {', '.join(unknown)}")
        try:
            self.pm.register(obj, name=manifest.name)
        except pluggy.PluginValidationError as exc:
            raise PluginLoadError(f"plugin {manifest.name!r} does not match the hook contract: {exc}") from exc
        implemented = sorted(caller.name for caller in self.pm.get_hookcallers(obj) or [])
        if sorted(manifest.hooks) != implemented:
            self.pm.unregister(obj)
            raise PluginLoadError(
                f"plugin {manifest.name!r}: manifest hooks {sorted(manifest.hooks)} differ from implemented hooks {implemented}",
                hint="list exactly the hooks the plugin implements in its manifest.yaml",
            )
        for caller in self.pm.get_hookcallers(obj) or []:
            for impl in caller.get_hookimpls():
                if impl.plugin is obj:
                    self._plugin_of_code[impl.function.__code__] = manifest.name
        loaded = LoadedPlugin(manifest.name, obj, manifest, origin)
        self._plugins[manifest.name] = loaded
        self._failed.pop(manifest.name, None)
        self._subset_cache.clear()
        return loaded

    # -- what is here ------------------------------------------------------------------

    def plugin_names(self) -> list[str]:
        return list(self._plugins)

    def plugins(self) -> list[LoadedPlugin]:
        return list(self._plugins.values())

    def failed_plugins(self) -> list[FailedPlugin]:
        return list(self._failed.values())

    def load_failure(self, name: str) -> str | None:
        failed = self._failed.get(name)
        return failed.reason if failed else None

    def manifest(self, name: str) -> PluginManifest | None:
        loaded = self._plugins.get(name)
        return loaded.manifest if loaded else None

    def require(self, name: str) -> LoadedPlugin:
        try:
            return self._plugins[name]
        except KeyError:
            reason = self.load_failure(name)
            raise PluginNotFound(
                f"plugin {name!r} failed to load: {reason}" if reason else f"unknown plugin {name!r}",
                hint=f"installed plugins: {', '.join(sorted(self._plugins)) or 'none'}",
            ) from None

    def migration_locations(self) -> list[Path]:
        return [p.manifest.migrations_dir for p in self._plugins.values()
                if p.manifest.migrations_dir is not None and p.manifest.migrations_dir.is_dir()]

    # -- calling -----------------------------------------------------------------------

    def subset_callers(self, enabled: Iterable[str]) -> dict[str, Any]:
        """``{hook_name: caller}`` reaching only ``enabled`` plugins (cached per set)."""
        key = frozenset(enabled)
        callers = self._subset_cache.get(key)
        if callers is None:
            removed = [p.obj for name, p in self._plugins.items() if name not in key]
            callers = {name: self.pm.subset_hook_caller(name, removed) for name in HOOK_NAMES}
            self._subset_cache[key] = callers
        return callers

    def call_global(self, hook_name: str, **kwargs: Any) -> Any:
        """Call a process-wide hook on every plugin, naming the plugin if one raises."""
        caller = getattr(self.pm.hook, hook_name)
        try:
            return caller(**kwargs)
        except PluginHookError:
            raise
        except Exception as exc:
            raise self.attribute(exc, hook_name, None) from exc

    def attribute(self, exc: BaseException, hook_name: str, tenant_id: str | None) -> PluginHookError:
        """Wrap ``exc`` in a :class:`PluginHookError` naming the plugin whose code raised."""
        return PluginHookError(plugin=self._plugin_in_traceback(exc.__traceback__) or "unknown",
                               hook=hook_name, tenant=tenant_id, cause=exc)

    def _plugin_in_traceback(self, tb: TracebackType | None) -> str | None:
        while tb is not None:
            plugin = self._plugin_of_code.get(tb.tb_frame.f_code)
            if plugin is not None:
                return plugin
            tb = tb.tb_next
        return None

    def tenant_context(self, tenant_id: str, *, plugin_configs: Mapping[str, Mapping[str, Any]],
                       name: str | None = None, settings: Mapping[str, Any] | None = None,
                       store: "Store | None" = None, mappings: list | None = None,
                       schedules: list | None = None) -> "TenantContext":
        """A tenant's view: its enabled plugins' hooks and configs."""
        unknown = [p for p in plugin_configs if p not in self._plugins]
        if unknown:
            raise PluginNotFound(
                f"tenant {tenant_id!r} enables plugins that are not installed: {', '.join(sorted(unknown))}",
                hint="install them, or remove them from the tenant manifest and apply it again",
            )
        return TenantContext(
            id=tenant_id, name=name or tenant_id, settings=dict(settings or {}),
            plugin_configs={k: dict(v) for k, v in plugin_configs.items()},
            host=self, store=store, mappings=list(mappings or []), schedules=list(schedules or []),
        )


class _TenantHookCaller:
    """One hook of one tenant: the shared subset caller with ``tenant`` filled in."""

    __slots__ = ("_caller", "_context", "_name")

    def __init__(self, caller: Any, context: "TenantContext", name: str) -> None:
        self._caller = caller
        self._context = context
        self._name = name

    def __call__(self, **kwargs: Any) -> Any:
        try:
            return self._caller(tenant=self._context, **kwargs)
        except PluginHookError:
            raise
        except Exception as exc:
            raise self._context.host.attribute(exc, self._name, self._context.id) from exc

    def get_hookimpls(self) -> list:
        return self._caller.get_hookimpls()


class TenantHooks:
    """``tenant.hooks.tether_connectors()``: hook calls that reach only the tenant's plugins."""

    def __init__(self, context: "TenantContext", callers: Mapping[str, Any]) -> None:
        self._context = context
        self._callers = callers

    def __getattr__(self, name: str) -> _TenantHookCaller:
        try:
            caller = self._callers[name]
        except KeyError:
            raise AttributeError(f"no hook named {name!r}") from None
        bound = _TenantHookCaller(caller, self._context, name)
        setattr(self, name, bound)  # later lookups skip __getattr__
        return bound

    def implementers(self, name: str) -> list[str]:
        """Names of the tenant's plugins implementing hook ``name``."""
        return [impl.plugin_name for impl in self._callers[name].get_hookimpls()]


@dataclasses.dataclass
class TenantContext:
    """What a hook knows of the tenant it serves."""

    id: str
    name: str
    settings: dict[str, Any]
    plugin_configs: dict[str, dict[str, Any]]
    host: PluginHost
    store: "Store | None" = None
    mappings: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    schedules: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        self.hooks = TenantHooks(self, self.host.subset_callers(self.plugin_configs))

    @property
    def enabled_plugins(self) -> list[str]:
        return list(self.plugin_configs)

    def is_enabled(self, plugin: str) -> bool:
        return plugin in self.plugin_configs

    def config_for(self, plugin: str) -> dict[str, Any]:
        """The plugin's config with secrets still as references (safe to show)."""
        try:
            return self.plugin_configs[plugin]
        except KeyError:
            raise PluginNotFound(f"plugin {plugin!r} is not enabled for tenant {self.id!r}") from None

    def resolved_config(self, plugin: str, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The plugin's config with secret references replaced by their values."""
        return secrets.resolve_all(self.config_for(plugin), where=f"tenant {self.id}: plugins.{plugin}.config", environ=environ)

    def session(self):
        if self.store is None:
            raise PluginError(f"tenant {self.id!r} context has no store attached")
        return self.store.tenant_session(self.id)

    def transaction(self):
        if self.store is None:
            raise PluginError(f"tenant {self.id!r} context has no store attached")
        return self.store.tenant_transaction(self.id)

    def __repr__(self) -> str:  # never print configs: they may hold secret references
        return f"<TenantContext {self.id!r} plugins={sorted(self.plugin_configs)}>"


def _manifest_for(obj: Any, manifest: PluginManifest | Mapping[str, Any] | None) -> PluginManifest:
    if isinstance(manifest, PluginManifest):
        return manifest
    if isinstance(manifest, Mapping):
        return parse_plugin_manifest(manifest, source=f"{_describe(obj)} (inline manifest)")
    declared = getattr(obj, "TETHER_MANIFEST", None)
    if isinstance(declared, Mapping):
        return parse_plugin_manifest(declared, source=f"{_describe(obj)}.TETHER_MANIFEST")
    if isinstance(declared, (str, Path)):
        return load_plugin_manifest(Path(declared))
    module = obj if isinstance(obj, ModuleType) else importlib.import_module(type(obj).__module__)
    module_file = getattr(module, "__file__", None)
    if module_file:
        candidate = Path(module_file).with_name("manifest.yaml")
        if candidate.is_file():
            return load_plugin_manifest(candidate)
    raise PluginLoadError(
        f"{_describe(obj)} has no manifest.yaml beside its module and no TETHER_MANIFEST",
        hint="ship a manifest.yaml in the plugin's package folder",
    )


def _describe(obj: Any) -> str:
    return obj.__name__ if isinstance(obj, ModuleType) else type(obj).__qualname__

