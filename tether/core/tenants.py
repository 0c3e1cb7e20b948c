"""Tenants: applying manifests (all or nothing, idempotent), listing, and loading contexts."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import func, select

from .errors import ManifestError, TenantNotFound
from .manifests import TenantManifest, flatten_errors
from .plugins import PluginHost, TenantContext
from .store import PluginInstallation, Relationship, RelationshipType, Store, Tenant, User


CORE_ENTITIES = frozenset({"company", "relationship", "opportunity", "user"})


@dataclasses.dataclass
class ApplyResult:
    tenant_id: str
    created: bool
    changes: list[str]

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def apply_manifest(store: Store, host: PluginHost, manifest: TenantManifest) -> ApplyResult:
    """Create or update a tenant from a validated manifest in one transaction.

    Plugins get to check their configs first (``tether_validate_config``); any error
    refuses the whole manifest. Applying the same manifest again writes nothing.
    """
    context = host.tenant_context(
        manifest.tenant_id, plugin_configs=manifest.plugin_configs(), name=manifest.name,
        settings=manifest.settings, store=store, mappings=manifest.mappings, schedules=manifest.schedules,
    )
    _validate_with_plugins(context, manifest)
    contributed = [spec for specs in context.hooks.tether_relationship_types() or [] for spec in specs or []]

    changes: list[str] = []
    with store.tenant_transaction(manifest.tenant_id) as session:
        tenant = session.get(Tenant, manifest.tenant_id)
        created = tenant is None
        if created:
            tenant = Tenant(id=manifest.tenant_id, name=manifest.name, settings=manifest.settings,
                            mappings=manifest.mappings, schedules=manifest.schedules)
            session.add(tenant)
            changes.append(f"created tenant {manifest.tenant_id!r}")
        else:
            for attr in ("name", "settings", "mappings", "schedules"):
                new = getattr(manifest, attr)
                if getattr(tenant, attr) != new:
                    setattr(tenant, attr, new)
                    changes.append(f"updated {attr}")
        session.flush()
        changes += _apply_plugins(session, manifest)
        changes += _apply_relationship_types(session, manifest, contributed)
        changes += _apply_users(session, manifest)
    return ApplyResult(manifest.tenant_id, created, changes)


def _validate_with_plugins(context: TenantContext, manifest: TenantManifest) -> None:
    errors: dict[str, list[str]] = {}
    for index, entry in enumerate(manifest.plugins):
        if not entry.enabled:
            continue
        for message in _flatten(context.hooks.tether_validate_config(plugin=entry.name, config=entry.config)):
            path, _, text = message.partition(": ")
            key = f"plugins[{index}].config" + (f".{path}" if text else "")
            errors.setdefault(key, []).append(text or message)
    known = CORE_ENTITIES | {spec.entity for specs in context.hooks.tether_entity_appliers() or [] for spec in specs or []}
    for index, mapping in enumerate(manifest.mappings):
        if mapping["entity"] not in known:
            errors.setdefault(f"mappings[{index}].entity", []).append(
                f"no enabled plugin applies entity {mapping['entity']!r} (known: {', '.join(sorted(known))})")
    if errors:
        raise ManifestError(manifest.source, errors)


def _flatten(results: list[list[str]] | None) -> list[str]:
    return [message for messages in results or [] for message in messages or []]


def _apply_plugins(session, manifest: TenantManifest) -> list[str]:
    changes = []
    existing = {row.plugin_name: row for row in session.scalars(select(PluginInstallation))}
    listed = set()
    for entry in manifest.plugins:
        listed.add(entry.name)
        row = existing.get(entry.name)
        if row is None:
            session.add(PluginInstallation(plugin_name=entry.name, version=entry.version, enabled=entry.enabled, config=entry.config))
            changes.append(f"installed plugin {entry.name!r}" + ("" if entry.enabled else " (disabled)"))
            continue
        if row.enabled != entry.enabled:
            row.enabled = entry.enabled
            changes.append(f"{'enabled' if entry.enabled else 'disabled'} plugin {entry.name!r}")
        if row.config != entry.config:
            row.config = entry.config
            changes.append(f"reconfigured plugin {entry.name!r}")
        if row.version != entry.version:
            row.version = entry.version
            changes.append(f"plugin {entry.name!r} now at version {entry.version}")
    for name, row in existing.items():
        if name not in listed and row.enabled:
            row.enabled = False
            changes.append(f"disabled plugin {name!r} (no longer in the manifest)")
    return changes


def _apply_relationship_types(session, manifest: TenantManifest, contributed: list[Any]) -> list[str]:
    changes = []
    existing = {row.name.lower(): row for row in session.scalars(select(RelationshipType))}
    wanted: dict[str, tuple[str, dict[str, Any]]] = {}
    for spec in contributed:
        wanted[spec.name.lower()] = (spec.plugin or "plugin", {"name": spec.name, "description": spec.description,
                                              "fields": [dataclasses.asdict(f) | {"choices": list(f.choices)} for f in spec.fields]})
    for admin_type in manifest.relationship_types:  # the manifest wins over plugins on a name clash
        wanted[admin_type["name"].lower()] = ("manifest", admin_type)
    for key, (source, spec) in wanted.items():
        row = existing.get(key)
        if row is None:
            session.add(RelationshipType(name=spec["name"], description=spec["description"], fields=spec["fields"], source=source))
            changes.append(f"added relationship type {spec['name']!r}")
        elif (row.description, row.fields, row.source) != (spec["description"], spec["fields"], source):
            row.description, row.fields, row.source = spec["description"], spec["fields"], source
            changes.append(f"updated relationship type {spec['name']!r}")
    errors: dict[str, list[str]] = {}
    for key, row in existing.items():
        if key in wanted or row.source == "admin":
            continue  # types admins created through the API are theirs to remove, not the manifest's
        in_use = session.scalar(select(func.count()).select_from(Relationship).where(Relationship.type_id == row.id))
        if in_use:
            errors.setdefault("relationship_types", []).append(
                f"relationship type {row.name!r} is no longer declared but {in_use} relationships use it; "
                "move or delete them first, or keep the type")
        else:
            session.delete(row)
            changes.append(f"removed relationship type {row.name!r}")
    if errors:
        raise ManifestError(manifest.source, errors)
    return changes


def _apply_users(session, manifest: TenantManifest) -> list[str]:
    changes = []
    existing = {row.username: row for row in session.scalars(select(User))}
    for entry in manifest.users:
        row = existing.get(entry["username"])
        if row is None:
            session.add(User(username=entry["username"], role=entry["role"], display_name=entry["display_name"]))
            changes.append(f"added user {entry['username']!r} ({entry['role']})")
        elif (row.role, row.display_name) != (entry["role"], entry["display_name"]):
            row.role, row.display_name = entry["role"], entry["display_name"]
            changes.append(f"updated user {entry['username']!r}")
    return changes


def list_tenants(store: Store) -> list[Tenant]:
    with store.admin_session() as session:
        return list(session.scalars(select(Tenant).order_by(Tenant.id)))


def get_tenant(store: Store, tenant_id: str) -> Tenant:
    with store.admin_session() as session:
        tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise TenantNotFound(tenant_id)
    return tenant


def installations(store: Store, tenant_id: str) -> list[PluginInstallation]:
    with store.tenant_session(tenant_id) as session:
        return list(session.scalars(select(PluginInstallation).order_by(PluginInstallation.plugin_name)))


def load_context(store: Store, host: PluginHost, tenant_id: str) -> TenantContext:
    """The tenant's context from the database: its enabled plugins and their configs."""
    tenant = get_tenant(store, tenant_id)
    configs = {row.plugin_name: row.config for row in installations(store, tenant_id) if row.enabled}
    return host.tenant_context(tenant.id, plugin_configs=configs, name=tenant.name, settings=tenant.settings,
                               store=store, mappings=tenant.mappings, schedules=tenant.schedules)


def set_plugin_enabled(store: Store, host: PluginHost, tenant_id: str, plugin: str, enabled: bool) -> bool:
    """Enable or disable an installed plugin for a tenant; True if anything changed."""
    get_tenant(store, tenant_id)
    host.require(plugin)
    with store.tenant_transaction(tenant_id) as session:
        row = session.scalar(select(PluginInstallation).where(PluginInstallation.plugin_name == plugin))
        if row is None:
            if not enabled:
                return False
            manifest = host.require(plugin).manifest
            config_errors: dict[str, list[str]] = {}
            config = manifest.load_config({}, config_errors)
            if config_errors:
                raise ManifestError(f"tenant {tenant_id}", flatten_errors(config_errors, f"plugins.{plugin}.config"),
                                    hint="this plugin needs configuration: add it to the tenant manifest and apply it")
            session.add(PluginInstallation(plugin_name=plugin, version=manifest.version, enabled=True, config=config))
            return True
        if row.enabled == enabled:
            return False
        if enabled:
            missing = [req for req in host.require(plugin).manifest.requires
                       if not session.scalar(select(PluginInstallation.enabled).where(PluginInstallation.plugin_name == req))]
            if missing:
                raise ManifestError(f"tenant {tenant_id}", {f"plugins.{plugin}": [f"requires plugin(s) {', '.join(missing)}, not enabled"]})
        row.enabled = enabled
        return True
