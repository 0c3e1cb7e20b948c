"""Playbooks: named task templates a CTA gets when it opens.

A playbook lists tasks, each with an owner (the CTA's owner, the CSM, or a username)
and a due date in days from when the CTA opens. A rule names the playbook its CTAs get;
a playbook marked ``default`` for a CTA type is applied to new CTAs of that type that
name none. Playbooks come from the plugin config (read-only through the API) and from
the API; names are unique across both.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable, Mapping, Sequence

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select
from sqlalchemy.orm import Session

from tether.core.errors import DomainError, InvalidFields, NotFound
from tether.core.manifests import flatten_errors
from tether.core.plugins import TenantContext

from .config import PLUGIN, CockpitSettings
from .models import PlaybookDefinition

# Who a template task goes to; anything else is taken as a username.
OWNER_ROLES = ("cta_owner", "csm", "company_csm")
MAX_TASKS = 50


class TaskTemplateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=255))
    description = fields.String(load_default="", validate=validate.Length(max=5000))
    owner = fields.String(load_default="cta_owner", validate=validate.Length(min=1, max=200))
    due_in_days = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(0, 3650))


class PlaybookSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=80))
    description = fields.String(load_default="", validate=validate.Length(max=1000))
    type = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=40))
    default = fields.Boolean(load_default=False)
    tasks = fields.List(fields.Nested(TaskTemplateSchema), required=True,
                        validate=validate.Length(min=1, max=MAX_TASKS, error=f"a playbook has 1 to {MAX_TASKS} tasks"))

    @validates_schema
    def _default_needs_type(self, data, **kwargs):
        if data.get("default") and not data.get("type"):
            raise ValidationError("a default playbook names the CTA type it is the default for", "type")


def load_playbook(data: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return PlaybookSchema().load(dict(data))
    except ValidationError as exc:
        raise InvalidFields("the playbook is not valid", flatten_errors(exc.messages)) from None


def check_playbooks(playbooks: Sequence[Mapping[str, Any]], settings: CockpitSettings) -> dict[str, list[str]]:
    """Problems across loaded playbooks: unknown types, names used twice, two defaults for a type."""
    errors: dict[str, list[str]] = {}
    seen: set[str] = set()
    defaults: dict[str, str] = {}
    for index, book in enumerate(playbooks):
        where = f"[{index}]"
        if book["name"].lower() in seen:
            errors.setdefault(f"{where}.name", []).append(f"a playbook named {book['name']!r} already exists")
        seen.add(book["name"].lower())
        if book.get("type") and book["type"] not in settings.types:
            errors.setdefault(f"{where}.type", []).append(
                f"{book['type']!r} is not a CTA type ({', '.join(settings.types)})")
        if book.get("default") and book.get("type"):
            other = defaults.get(book["type"])
            if other is not None:
                errors.setdefault(f"{where}.default", []).append(
                    f"{other!r} is already the default playbook for {book['type']!r} CTAs")
            defaults[book["type"]] = book["name"]
    return errors


def manifest_playbooks(tenant: TenantContext) -> list[dict[str, Any]]:
    return [PlaybookSchema().load(p) | {"source": "manifest"} for p in tenant.config_for(PLUGIN).get("playbooks") or []]


def effective_playbooks(tenant: TenantContext, session: Session) -> dict[str, dict[str, Any]]:
    """Every playbook of the tenant by name: the manifest's, then the API's."""
    found = {p["name"]: p for p in manifest_playbooks(tenant)}
    for row in session.scalars(select(PlaybookDefinition).order_by(PlaybookDefinition.name)):
        found.setdefault(row.name, dict(row.definition) | {"name": row.name, "source": "api"})
    return found


def default_for_type(playbooks: Mapping[str, Mapping[str, Any]], cta_type: str) -> str | None:
    for name, book in playbooks.items():
        if book.get("default") and book.get("type") == cta_type:
            return name
    return None


def task_rows(playbook: Mapping[str, Any], *, owner: str | None, company_csm: str | None,
              relationship_csm: str | None, cta_due: dt.date | None, today: dt.date,
              start_position: int = 0) -> list[dict[str, Any]]:
    """The tasks a playbook gives one CTA (column values of ``cockpit_tasks``, without ids)."""
    rows = []
    for position, template in enumerate(playbook["tasks"], start=start_position):
        who = template.get("owner") or "cta_owner"
        if who == "cta_owner":
            who = owner
        elif who == "csm":
            who = relationship_csm or company_csm or owner
        elif who == "company_csm":
            who = company_csm or owner
        days = template.get("due_in_days")
        rows.append({"name": template["name"], "description": template.get("description") or "", "owner": who,
                     "due_date": today + dt.timedelta(days=days) if days is not None else cta_due,
                     "position": position, "status": "open"})
    return rows


# -- the API's playbooks ------------------------------------------------------------------


def _check_new(tenant: TenantContext, session: Session, settings: CockpitSettings, data: Mapping[str, Any],
               replacing: str | None = None) -> None:
    books = effective_playbooks(tenant, session)
    if replacing is not None:
        books.pop(replacing, None)
    elif data["name"] in books or data["name"].lower() in {n.lower() for n in books}:
        raise DomainError(f"a playbook named {data['name']!r} already exists", field="name")
    errors = check_playbooks(list(books.values()) + [data], settings)
    mine = {path.split(".", 1)[1]: msgs for path, msgs in errors.items() if path.startswith(f"[{len(books)}].")}
    if mine:
        raise InvalidFields("the playbook is not valid", mine)


def create_playbook(tenant: TenantContext, session: Session, settings: CockpitSettings,
                    data: Mapping[str, Any]) -> dict[str, Any]:
    book = load_playbook(data)
    _check_new(tenant, session, settings, book)
    session.add(PlaybookDefinition(name=book["name"], definition=book))
    session.flush()
    return book | {"source": "api"}


def replace_playbook(tenant: TenantContext, session: Session, settings: CockpitSettings, name: str,
                     data: Mapping[str, Any]) -> dict[str, Any]:
    row = _api_row(tenant, session, name)
    book = load_playbook({**data, "name": name})
    _check_new(tenant, session, settings, book, replacing=name)
    row.definition = book
    session.flush()
    return book | {"source": "api"}


def delete_playbook(tenant: TenantContext, session: Session, name: str, used_by: Iterable[str]) -> None:
    row = _api_row(tenant, session, name)
    users = sorted(used_by)
    if users:
        raise DomainError(f"playbook {name!r} is used by rule{'s' if len(users) > 1 else ''} {', '.join(users)}",
                          field="name", hint="change those rules first")
    session.delete(row)
    session.flush()


def _api_row(tenant: TenantContext, session: Session, name: str) -> PlaybookDefinition:
    row = session.scalar(select(PlaybookDefinition).where(PlaybookDefinition.name == name))
    if row is None:
        if any(p["name"] == name for p in manifest_playbooks(tenant)):
            raise DomainError(f"playbook {name!r} is defined in the tenant manifest", field="name",
                              hint="change it in the manifest (plugins: cockpit: config: playbooks) and apply it")
        raise NotFound(f"no playbook {name!r}", hint="list them with GET /cockpit/playbooks")
    return row
