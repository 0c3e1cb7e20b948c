"""Endpoints about the tenant itself: who am I, installed plugins (secrets masked)."""

from __future__ import annotations

from marshmallow import Schema, fields

from .. import secrets
from ..tenants import installations
from .registry import ADMIN_ROLES, READ_ROLES, registry


class MeSchema(Schema):
    tenant = fields.String()
    username = fields.String()
    role = fields.String()


class InstallationSchema(Schema):
    plugin = fields.String()
    version = fields.String()
    enabled = fields.Boolean()
    config = fields.Dict()


@registry.route("/me", roles=READ_ROLES, tag="tenant", response=MeSchema)
def me(api):
    """Who the token belongs to."""
    return {"tenant": api.tenant.id, "username": api.principal.username, "role": api.role}


@registry.route("/plugins", roles=ADMIN_ROLES, tag="tenant", response=InstallationSchema, many=True)
def list_plugins(api):
    """The tenant's installed plugins and their config, secrets masked."""
    host = api.tenant.host
    rows = []
    for row in installations(api.tenant.store, api.tenant.id):
        manifest = host.manifest(row.plugin_name)
        keys = manifest.secret_keys if manifest else set(row.config)
        rows.append({"plugin": row.plugin_name, "version": row.version, "enabled": row.enabled,
                     "config": secrets.masked(row.config, keys)})
    return rows
