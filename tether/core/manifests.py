"""Plugin manifests and tenant manifests: loading and validation.

Validation collects **every** error with its path (``plugins[1].config.instance_url:
Not a valid URL.``) before anything is applied; a manifest with any error changes
nothing.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import yaml
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from . import secrets
from .errors import ManifestError

if TYPE_CHECKING:
    from .plugins import PluginHost

NAME_PATTERN = r"^[a-z][a-z0-9_\-]{0,62}$"
TENANT_ID_PATTERN = r"^[a-z0-9][a-z0-9\-]{0,62}$"
CONFIG_TYPES = ("string", "integer", "number", "boolean", "url", "email", "list", "mapping", "choice")
ROLES = ("admin", "user", "viewer_analytics")
DURATION = re.compile(r"^(\d+)([smhd])$")


# -- shared helpers ----------------------------------------------------------------------


def flatten_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested error dict → ``{"plugins[1].config.url": ["Not a valid URL."]}``."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            if isinstance(key, int):
                path = f"{prefix}[{key}]"
            elif key == "_schema":
                path = prefix or "(manifest)"
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            for sub_path, msgs in flatten_errors(value, path).items():
                flat.setdefault(sub_path, []).extend(msgs)
    elif isinstance(messages, list) and messages and all(isinstance(m, str) for m in messages):
        flat[prefix or "(manifest)"] = list(messages)
    elif isinstance(messages, list):
        for index, value in enumerate(messages):
            for sub_path, msgs in flatten_errors(value, f"{prefix}[{index}]").items():
                flat.setdefault(sub_path, []).extend(msgs)
    else:
        flat[prefix or "(manifest)"] = [str(messages)]
    return flat


def load_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError(str(path), {"(file)": [f"cannot read: {exc.strerror}"]}, hint="check the path") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}" if mark else "(yaml)"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ManifestError(str(path), {where: [f"invalid YAML: {problem}"]}, hint="fix the YAML syntax") from exc


class _Strict(Schema):
    class Meta:
        unknown = RAISE


def _specifier(value: str) -> None:
    try:
        SpecifierSet(value)
    except InvalidSpecifier as exc:
        raise ValidationError(f"{value!r} is not a version range such as '>=0.1,<1'") from exc


def _version(value: str) -> None:
    try:
        Version(value)
    except InvalidVersion as exc:
        raise ValidationError(f"{value!r} is not a version such as '1.2.0'") from exc


# -- plugin manifests --------------------------------------------------------------------


class ConfigFieldSchema(_Strict):
    type = fields.String(required=True, validate=validate.OneOf(CONFIG_TYPES))
    required = fields.Boolean(load_default=False)
    secret = fields.Boolean(load_default=False)
    default = fields.Raw(load_default=None, allow_none=True)
    description = fields.String(load_default="")
    choices = fields.List(fields.Raw(), load_default=list)

    @validates_schema
    def _choices_need_choice(self, data, **kwargs):
        if data["type"] == "choice" and not data["choices"]:
            raise ValidationError("a 'choice' field needs 'choices'", "choices")


class ObjectsSchema(_Strict):
    reads = fields.List(fields.String(), load_default=list)
    writes = fields.List(fields.String(), load_default=list)


class PluginManifestSchema(_Strict):
    name = fields.String(required=True, validate=validate.Regexp(NAME_PATTERN, error="must be lower-case letters, digits, '-' or '_'"))
    version = fields.String(required=True, validate=_version)
    description = fields.String(required=True, validate=validate.Length(min=1, max=500))
    requires_tether = fields.String(load_default=">=0", validate=_specifier)
    hooks = fields.List(fields.String(), load_default=list)
    config = fields.Dict(keys=fields.String(validate=validate.Regexp(r"^[a-z][a-z0-9_]*$")), values=fields.Nested(ConfigFieldSchema), load_default=dict)
    requires = fields.List(fields.String(), load_default=list)
    objects = fields.Nested(ObjectsSchema, load_default=lambda: {"reads": [], "writes": []})
    docs_url = fields.Url(load_default=None, allow_none=True)
    migrations = fields.String(load_default=None, allow_none=True)


@dataclasses.dataclass(frozen=True)
class ConfigField:
    name: str
    type: str
    required: bool = False
    secret: bool = False
    default: Any = None
    description: str = ""
    choices: tuple[Any, ...] = ()


@dataclasses.dataclass(frozen=True)
class PluginManifest:
    name: str
    version: str
    description: str
    requires_tether: str = ">=0"
    hooks: tuple[str, ...] = ()
    config: tuple[ConfigField, ...] = ()
    requires: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    docs_url: str | None = None
    migrations_dir: Path | None = None
    source: str = "(inline)"

    @property
    def secret_keys(self) -> set[str]:
        return {f.name for f in self.config if f.secret}

    def supports_tether(self, tether_version: str) -> bool:
        return SpecifierSet(self.requires_tether).contains(Version(tether_version), prereleases=True)

    def config_schema(self) -> Schema:
        """A marshmallow schema for this plugin's tenant config."""
        return Schema.from_dict({f.name: _config_field(f) for f in self.config}, name=f"{self.name}Config")(unknown=RAISE)

    def load_config(self, raw: Mapping[str, Any], errors: dict[str, Any]) -> dict[str, Any]:
        """Validate a tenant's config of this plugin; fill ``errors`` (by key) on failure.

        Any value may be a ``$env``/``$file`` reference (checked when resolved); secret
        fields must be.
        """
        known = {f.name for f in self.config}
        references = {k: v for k, v in raw.items() if secrets.is_reference(v)}
        for key in references:
            if key not in known:
                errors.setdefault(key, []).append("Unknown field.")
        plain = {k: v for k, v in raw.items() if k not in references}
        try:
            loaded = self.config_schema().load(plain, partial=tuple(references))
        except ValidationError as exc:
            for key, msgs in exc.messages.items():
                errors.setdefault(key, []).extend(msgs if isinstance(msgs, list) else [msgs])
            return {}
        return {**loaded, **{k: dict(v) for k, v in references.items() if k in known}}

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "version": self.version, "description": self.description,
            "requires_tether": self.requires_tether, "hooks": list(self.hooks),
            "config": {f.name: {"type": f.type, "required": f.required, "secret": f.secret,
                                "default": f.default, "description": f.description} for f in self.config},
            "requires": list(self.requires), "objects": {"reads": list(self.reads), "writes": list(self.writes)},
            "docs_url": self.docs_url,
        }


def parse_plugin_manifest(data: Any, *, source: str, base_dir: Path | None = None) -> PluginManifest:
    if not isinstance(data, Mapping):
        raise ManifestError(source, {"(manifest)": ["must be a mapping of keys to values"]})
    try:
        loaded = PluginManifestSchema().load(data)
    except ValidationError as exc:
        raise ManifestError(source, flatten_errors(exc.messages)) from exc
    migrations_dir = None
    if loaded["migrations"] and base_dir is not None:
        migrations_dir = (base_dir / loaded["migrations"]).resolve()
    return PluginManifest(
        name=loaded["name"],
        version=loaded["version"],
        description=loaded["description"],
        requires_tether=loaded["requires_tether"],
        hooks=tuple(loaded["hooks"]),
        config=tuple(
            ConfigField(name=key, type=spec["type"], required=spec["required"], secret=spec["secret"],
                        default=spec["default"], description=spec["description"], choices=tuple(spec["choices"]))
            for key, spec in loaded["config"].items()
        ),
        requires=tuple(loaded["requires"]),
        reads=tuple(loaded["objects"]["reads"]),
        writes=tuple(loaded["objects"]["writes"]),
        docs_url=loaded["docs_url"],
        migrations_dir=migrations_dir,
        source=source,
    )


def load_plugin_manifest(path: Path) -> PluginManifest:
    return parse_plugin_manifest(load_yaml(path), source=str(path), base_dir=path.parent)


class SecretReference(fields.Field):
    """A ``{"$env": NAME}`` / ``{"$file": path}`` reference; literal secrets are refused."""

    def _deserialize(self, value, attr, data, **kwargs):
        if secrets.is_reference(value):
            return dict(value)
        raise ValidationError(
            "secrets must be referenced, not written in the manifest: use {$env: NAME} or {$file: path}"
        )


def _config_field(spec: ConfigField) -> fields.Field:
    options: dict[str, Any] = {"required": spec.required, "allow_none": not spec.required}
    if not spec.required and spec.default is not None:
        options["load_default"] = spec.default
    if spec.secret:
        return SecretReference(**options)
    if spec.type == "string":
        return fields.String(**options)
    if spec.type == "integer":
        return fields.Integer(strict=True, **options)
    if spec.type == "number":
        return fields.Float(**options)
    if spec.type == "boolean":
        return fields.Boolean(**options)
    if spec.type == "url":
        return fields.Url(require_tld=False, **options)
    if spec.type == "email":
        return fields.Email(**options)
    if spec.type == "list":
        return fields.List(fields.Raw(), **options)
    if spec.type == "mapping":
        return fields.Dict(keys=fields.String(), values=fields.Raw(), **options)
    return fields.Raw(validate=validate.OneOf(spec.choices), **options)


# -- tenant manifests --------------------------------------------------------------------


class TenantHeaderSchema(_Strict):
    id = fields.String(required=True, validate=validate.Regexp(TENANT_ID_PATTERN, error="must be lower-case letters, digits and '-' (at most 63)"))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))


class TenantSettingsSchema(_Strict):
    currency = fields.String(load_default="USD", validate=validate.Regexp(r"^[A-Z]{3}$", error="must be an ISO 4217 code such as USD"))
    amount_basis = fields.String(load_default="ARR", validate=validate.OneOf(["ARR", "MRR"]))
    fiscal_year_start_month = fields.Integer(load_default=1, validate=validate.Range(1, 12))
    timezone = fields.String(load_default="UTC")


class PluginEntrySchema(_Strict):
    name = fields.String(required=True)
    version = fields.String(load_default=None, allow_none=True, validate=_specifier)
    enabled = fields.Boolean(load_default=True)
    config = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True), load_default=dict)


class FieldMappingSchema(_Strict):
    source = fields.String(required=True)
    target = fields.String(required=True)
    type = fields.String(load_default="string", validate=validate.OneOf(
        ["string", "text", "picklist", "boolean", "integer", "float", "money", "percent", "date", "datetime", "reference", "id", "json"]))
    direction = fields.String(load_default="both", validate=validate.OneOf(["both", "inbound", "outbound"]))


class ObjectMappingSchema(_Strict):
    connector = fields.String(required=True)
    object = fields.String(required=True)
    # Core entities or ones plugins own (``tether_entity_appliers``); checked against the
    # tenant's enabled plugins when the manifest is applied.
    entity = fields.String(required=True, validate=validate.Regexp(
        r"^[a-z][a-z0-9_]{0,62}$", error="must be an entity name such as opportunity, company or activity"))
    external_id_field = fields.String(load_default=None, allow_none=True)
    fields_ = fields.List(fields.Nested(FieldMappingSchema), data_key="fields", load_default=list)


class AttributeFieldSchema(_Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=80))
    type = fields.String(load_default="string", validate=validate.OneOf(["string", "number", "money", "date", "boolean", "picklist"]))
    required = fields.Boolean(load_default=False)
    choices = fields.List(fields.String(), load_default=list)
    rollup = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(["sum", "avg", "min", "max"]))


class RelationshipTypeEntrySchema(_Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=40))
    description = fields.String(load_default="", validate=validate.Length(max=1000))
    fields_ = fields.List(fields.Nested(AttributeFieldSchema), data_key="fields", load_default=list)


class UserEntrySchema(_Strict):
    username = fields.String(required=True, validate=validate.Length(min=1, max=200))
    role = fields.String(load_default="user", validate=validate.OneOf(ROLES))
    display_name = fields.String(load_default=None, allow_none=True)


def _duration(value: str) -> None:
    if not DURATION.match(value):
        raise ValidationError(f"{value!r} is not a duration such as 30s, 5m, 2h or 1d")


class ScheduleSchema(_Strict):
    job = fields.String(required=True)
    object = fields.String(load_default=None, allow_none=True)
    every = fields.String(load_default=None, allow_none=True, validate=_duration)
    cron = fields.String(load_default=None, allow_none=True)
    enabled = fields.Boolean(load_default=True)

    @validates_schema
    def _one_timing(self, data, **kwargs):
        if bool(data.get("every")) == bool(data.get("cron")):
            raise ValidationError("give exactly one of 'every' or 'cron'")
        if data.get("cron"):
            from apscheduler.triggers.cron import CronTrigger

            try:
                CronTrigger.from_crontab(data["cron"])
            except ValueError as exc:
                raise ValidationError(f"{data['cron']!r} is not a 5-field cron expression: {exc}", "cron") from exc


class TenantManifestSchema(_Strict):
    tenant = fields.Nested(TenantHeaderSchema, required=True)
    settings = fields.Nested(TenantSettingsSchema, load_default=lambda: TenantSettingsSchema().load({}))
    plugins = fields.List(fields.Nested(PluginEntrySchema), load_default=list)
    mappings = fields.List(fields.Nested(ObjectMappingSchema), load_default=list)
    relationship_types = fields.List(fields.Nested(RelationshipTypeEntrySchema), load_default=list)
    users = fields.List(fields.Nested(UserEntrySchema), load_default=list)
    schedules = fields.List(fields.Nested(ScheduleSchema), load_default=list)


@dataclasses.dataclass(frozen=True)
class PluginEntry:
    name: str
    enabled: bool
    config: dict[str, Any]
    version: str


@dataclasses.dataclass(frozen=True)
class TenantManifest:
    tenant_id: str
    name: str
    settings: dict[str, Any]
    plugins: tuple[PluginEntry, ...]
    mappings: list[dict[str, Any]]
    relationship_types: list[dict[str, Any]]
    users: list[dict[str, Any]]
    schedules: list[dict[str, Any]]
    source: str

    @property
    def enabled_plugins(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.plugins if p.enabled)

    def plugin_configs(self) -> dict[str, dict[str, Any]]:
        return {p.name: p.config for p in self.plugins if p.enabled}


def load_tenant_manifest(path: Path, host: "PluginHost") -> TenantManifest:
    return validate_tenant_manifest(load_yaml(path), host, source=str(path), base_dir=path.parent)


def validate_tenant_manifest(data: Any, host: "PluginHost", *, source: str, base_dir: Path | None = None) -> TenantManifest:
    """Validate structure, plugins, versions, configs and requirements; raise every error at once."""
    if not isinstance(data, Mapping):
        raise ManifestError(source, {"(manifest)": ["must be a mapping with at least a 'tenant' section"]})
    try:
        loaded = TenantManifestSchema().load(data)
    except ValidationError as exc:
        errors = flatten_errors(exc.messages)
        # Report plugin-level problems too, so one run shows everything.
        raw_plugins = data.get("plugins") if isinstance(data.get("plugins"), list) else []
        _check_plugins(raw_plugins, host, base_dir, errors, structurally_valid=False)
        raise ManifestError(source, errors) from exc

    errors: dict[str, list[str]] = {}
    entries = _check_plugins(loaded["plugins"], host, base_dir, errors, structurally_valid=True)
    seen_types: set[str] = set()
    for index, rel_type in enumerate(loaded["relationship_types"]):
        if rel_type["name"].lower() in seen_types:
            errors.setdefault(f"relationship_types[{index}].name", []).append(f"duplicate relationship type {rel_type['name']!r}")
        seen_types.add(rel_type["name"].lower())
    enabled = {e.name for e in entries if e.enabled}
    for index, mapping in enumerate(loaded["mappings"]):
        if mapping["connector"] not in enabled:
            errors.setdefault(f"mappings[{index}].connector", []).append(
                f"connector {mapping['connector']!r} is not provided by a plugin this manifest enables")
    if errors:
        raise ManifestError(source, errors)
    return TenantManifest(
        tenant_id=loaded["tenant"]["id"],
        name=loaded["tenant"]["name"],
        settings=dict(loaded["settings"]),
        plugins=tuple(entries),
        mappings=[_mapping_dict(m) for m in loaded["mappings"]],
        relationship_types=[{"name": t["name"], "description": t["description"], "fields": t["fields_"]} for t in loaded["relationship_types"]],
        users=list(loaded["users"]),
        schedules=list(loaded["schedules"]),
        source=source,
    )


def _mapping_dict(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "connector": mapping["connector"], "object": mapping["object"], "entity": mapping["entity"],
        "external_id_field": mapping["external_id_field"], "fields": mapping["fields_"],
    }


def _check_plugins(raw_plugins: list, host: "PluginHost", base_dir: Path | None,
                   errors: dict[str, list[str]], *, structurally_valid: bool) -> list[PluginEntry]:
    from tether import __version__

    entries: list[PluginEntry] = []
    names_seen: dict[str, int] = {}
    for index, entry in enumerate(raw_plugins):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            continue
        path = f"plugins[{index}]"
        name = entry["name"]
        if name in names_seen:
            errors.setdefault(f"{path}.name", []).append(f"plugin {name!r} is listed twice (first at plugins[{names_seen[name]}])")
            continue
        names_seen[name] = index
        manifest = host.manifest(name)
        if manifest is None:
            reason = host.load_failure(name)
            installed = ", ".join(sorted(host.plugin_names())) or "none"
            msg = f"plugin {name!r} failed to load: {reason}" if reason else f"unknown plugin {name!r} (installed: {installed})"
            errors.setdefault(f"{path}.name", []).append(msg)
            continue
        wanted = entry.get("version")
        if isinstance(wanted, str):
            try:
                if not SpecifierSet(wanted).contains(Version(manifest.version), prereleases=True):
                    errors.setdefault(f"{path}.version", []).append(
                        f"plugin {name!r} is version {manifest.version}, the manifest asks for {wanted}")
            except InvalidSpecifier:
                pass  # reported by the schema
        if not manifest.supports_tether(__version__):
            errors.setdefault(f"{path}.name", []).append(
                f"plugin {name!r} {manifest.version} requires tether {manifest.requires_tether}, this is {__version__}")
        raw_config = entry.get("config") or {}
        config: dict[str, Any] = {}
        if isinstance(raw_config, Mapping):
            config_errors: dict[str, list[str]] = {}
            config = manifest.load_config(raw_config, config_errors)
            for sub_path, msgs in flatten_errors(config_errors, f"{path}.config").items():
                errors.setdefault(sub_path, []).extend(msgs)
            config = {k: secrets.absolutise(v, base_dir) if secrets.is_reference(v) else v for k, v in config.items()}
        entries.append(PluginEntry(name=name, enabled=bool(entry.get("enabled", True)), config=config, version=manifest.version))
    enabled = {e.name for e in entries if e.enabled}
    for entry in entries:
        if not entry.enabled:
            continue
        manifest = host.manifest(entry.name)
        for required in manifest.requires if manifest else ():
            if required not in enabled:
                errors.setdefault(f"plugins[{names_seen[entry.name]}]", []).append(
                    f"plugin {entry.name!r} requires plugin {required!r}, which this manifest does not enable")
    return entries
