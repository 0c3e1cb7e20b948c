"""The Cockpit's REST endpoints (contributed through ``tether_api_routes``).

Everyone reads (the list, a CTA with its tasks, comments and linked opportunities, the
playbooks, rules and conditions); admins and users work CTAs and their tasks;
Viewer+Analytics users only read. Admins manage playbooks and rules, run the rules now,
and delete CTAs.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any, Callable

from flask import Response

from tether.core.api.domain_schemas import encode_cursor, field_errors
from tether.core.contracts import ApiRoute
from tether.core.errors import InvalidFields

from . import listing, playbooks, rules, service
from .config import PLUGIN, settings_of
from .rule_runs import run_rules
from .schemas import (ApplyPlaybookSchema, CloseSchema, CockpitRuleOutSchema, CockpitRunReportSchema,
                      CommentInputSchema, CommentOutSchema, ConditionOutSchema, CtaDetailSchema, CtaInputSchema,
                      CtaListQuerySchema, CtaPageSchema, CtaPatchSchema, LinkedOpportunitySchema, OpportunityLinksSchema,
                      PlaybookOutSchema, PlaybookReplaceSchema, PlaybookSchema, ReopenSchema, RuleReplaceSchema,
                      RuleSchema, RunRulesSchema, SettingsOutSchema, TaskInputSchema, TaskOutSchema, TaskPatchSchema)

ALL = ("admin", "user", "viewer_analytics")
WRITE = ("admin", "user")
ADMIN = ("admin",)
CTA = "/cockpit/ctas/<int:cta_id>"


def _with(body=None, query=None, response=None, many=False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Attach the schemas the API reads from a plugin view."""

    def decorate(view):
        view.body_schema, view.query_schema, view.response_schema, view.many = body, query, response, many
        return view

    return decorate


def _detail(api, cta_id: int) -> dict[str, Any]:
    return listing.cta_detail(api.tenant, settings_of(api.tenant), cta_id)


# -- CTAs -----------------------------------------------------------------------------------------


@_with(query=CtaListQuerySchema, response=CtaPageSchema)
@field_errors
def list_ctas(api):
    """The Cockpit list: your CTAs (or anyone's) with filters, the chosen company and relationship fields, sorted and paged."""
    settings = settings_of(api.tenant)
    statuses = api.query["status"]
    special = {"open", "closed", "all"}
    if len(statuses) > 1 and special & set(statuses) or any(s not in settings.statuses and s not in special
                                                           for s in statuses):
        raise InvalidFields("the request query is invalid", {"status": [
            f"open, closed, all, or statuses from {', '.join(settings.statuses)}"]})
    return _page_response(listing.list_ctas(api.tenant, settings, api.query, username=api.principal.username))


def _json_ready(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _page_response(page: dict[str, Any]) -> Response:
    """The page as ``CtaPageSchema`` dumps it, written straight to JSON: a page holds up to
    1,000 CTAs, and the schema's per-field dump costs more than the query behind it."""
    body = {"items": page["items"], "fields": page["fields"],
            "next_cursor": encode_cursor(page["next_cursor"]) if page.get("next_cursor") else None}
    return Response(json.dumps(body, default=_json_ready, separators=(",", ":")), mimetype="application/json")


@_with(body=CtaInputSchema, response=CtaDetailSchema)
@field_errors
def create_cta(api):
    """Open a CTA on a company or relationship (its type's default playbook applies unless another or 'none' is named)."""
    settings = settings_of(api.tenant)
    with api.transaction() as session:
        cta = service.create_cta(api.tenant, session, settings, api.body, created_by=api.principal.username)
        cta_id = cta.id
    return _detail(api, cta_id), 201


@_with(response=CtaDetailSchema)
def get_cta(api, cta_id: int):
    """One CTA with its tasks, comments and linked opportunities."""
    return _detail(api, cta_id)


@_with(body=CtaPatchSchema, response=CtaDetailSchema)
@field_errors
def update_cta(api, cta_id: int):
    """Change a CTA; a closed status closes it (and logs the closing on the timeline), an open one reopens it."""
    with api.transaction() as session:
        service.update_cta(api.tenant, session, settings_of(api.tenant), cta_id, api.body, by=api.principal.username)
    return _detail(api, cta_id)


def delete_cta(api, cta_id: int):
    """Delete a CTA with its tasks and comments."""
    with api.transaction() as session:
        service.delete_cta(api.tenant, session, cta_id)
    return None, 204


@_with(body=CloseSchema, response=CtaDetailSchema)
def close_cta(api, cta_id: int):
    """Close a CTA (closed success, closed lost or a custom closed status), logging it on the timeline."""
    with api.transaction() as session:
        service.close_cta(api.tenant, session, settings_of(api.tenant), cta_id, status=api.body["status"],
                          note=api.body.get("note"), by=api.principal.username)
    return _detail(api, cta_id)


@_with(body=ReopenSchema, response=CtaDetailSchema)
def reopen_cta(api, cta_id: int):
    """Reopen a closed CTA (refused while another CTA is open for the same rule occurrence)."""
    with api.transaction() as session:
        cta = service.get_cta(session, cta_id)
        service.reopen_cta(session, settings_of(api.tenant), cta, status=api.body["status"])
    return _detail(api, cta_id)


@_with(response=LinkedOpportunitySchema, many=True)
def linked_opportunities(api, cta_id: int):
    """The opportunities linked to a CTA (read-only here)."""
    return _detail(api, cta_id)["opportunities"]


@_with(body=OpportunityLinksSchema, response=CtaDetailSchema)
@field_errors
def link_opportunities(api, cta_id: int):
    """Set the opportunities linked to a CTA (they must be its company's)."""
    with api.transaction() as session:
        service.set_opportunities(session, service.get_cta(session, cta_id), api.body["opportunity_ids"])
    return _detail(api, cta_id)


@_with(body=ApplyPlaybookSchema, response=CtaDetailSchema)
def apply_playbook(api, cta_id: int):
    """Add a playbook's tasks to a CTA."""
    with api.transaction() as session:
        service.apply_playbook(api.tenant, session, settings_of(api.tenant), service.get_cta(session, cta_id),
                               api.body["playbook"])
    return _detail(api, cta_id)


# -- tasks and comments ----------------------------------------------------------------------------


@_with(body=TaskInputSchema, response=TaskOutSchema)
def add_task(api, cta_id: int):
    """Add a task to a CTA (owner and due date default to the CTA's)."""
    with api.transaction() as session:
        task = service.add_task(api.tenant, session, settings_of(api.tenant), cta_id, api.body)
        return listing.task_dict(task), 201


@_with(body=TaskPatchSchema, response=TaskOutSchema)
def update_task(api, task_id: int):
    """Change a task: complete or reopen it, rename it, give it another owner or due date."""
    with api.transaction() as session:
        task, _ = service.update_task(api.tenant, session, task_id, api.body, by=api.principal.username)
        return listing.task_dict(task)


def delete_task(api, task_id: int):
    """Delete a task."""
    with api.transaction() as session:
        service.delete_task(api.tenant, session, task_id)
    return None, 204


@_with(body=CommentInputSchema, response=CommentOutSchema)
def add_comment(api, cta_id: int):
    """Comment on a CTA."""
    with api.transaction() as session:
        comment = service.add_comment(session, cta_id, api.body["body"], author=api.principal.username)
        return {"id": comment.id, "author": comment.author, "body": comment.body,
                "created_at": comment.created_at}, 201


# -- playbooks, rules, conditions, settings ---------------------------------------------------------


def _playbook_names(api, session) -> list[str]:
    return list(playbooks.effective_playbooks(api.tenant, session))


@_with(response=PlaybookOutSchema, many=True)
def list_playbooks(api):
    """Playbooks: the manifest's (read-only here) and the API's."""
    with api.session() as session:
        return list(playbooks.effective_playbooks(api.tenant, session).values())


@_with(body=PlaybookSchema, response=PlaybookOutSchema)
@field_errors
def create_playbook(api):
    """Add a playbook: named task templates, optionally the default for a CTA type."""
    with api.transaction() as session:
        return playbooks.create_playbook(api.tenant, session, settings_of(api.tenant), api.body), 201


@_with(body=PlaybookReplaceSchema, response=PlaybookOutSchema)
@field_errors
def replace_playbook(api, name: str):
    """Replace a playbook made through the API (tasks of CTAs already open stay as they are)."""
    with api.transaction() as session:
        return playbooks.replace_playbook(api.tenant, session, settings_of(api.tenant), name, api.body)


def delete_playbook(api, name: str):
    """Delete a playbook made through the API that no rule uses."""
    with api.transaction() as session:
        used = [r["name"] for r in rules.effective_rules(api.tenant, session).values()
                if r["cta"].get("playbook") == name]
        playbooks.delete_playbook(api.tenant, session, name, used)
    return None, 204


@_with(response=CockpitRuleOutSchema, many=True)
def list_rules(api):
    """Rules: the manifest's (read-only here) and the API's, with their effective parameters."""
    conditions = rules.available_conditions(api.tenant)
    with api.session() as session:
        return [rules.rule_dict(r, conditions) for r in rules.effective_rules(api.tenant, session).values()]


@_with(body=RuleSchema, response=CockpitRuleOutSchema)
@field_errors
def create_rule(api):
    """Add a rule: a condition with parameters, and the CTA it opens per occurrence."""
    with api.transaction() as session:
        rule = rules.create_rule(api.tenant, session, settings_of(api.tenant), api.body,
                                 _playbook_names(api, session))
    return rules.rule_dict(rule, rules.available_conditions(api.tenant)), 201


@_with(body=RuleReplaceSchema, response=CockpitRuleOutSchema)
@field_errors
def replace_rule(api, name: str):
    """Replace a rule made through the API."""
    with api.transaction() as session:
        rule = rules.replace_rule(api.tenant, session, settings_of(api.tenant), name, api.body,
                                  _playbook_names(api, session))
    return rules.rule_dict(rule, rules.available_conditions(api.tenant))


def delete_rule(api, name: str):
    """Delete a rule made through the API (its open CTAs stay)."""
    with api.transaction() as session:
        rules.delete_rule(api.tenant, session, name)
    return None, 204


@_with(body=RunRulesSchema, response=CockpitRunReportSchema)
def run_rules_now(api):
    """Run the rules now (every enabled one, or those named) and report what each opened."""
    return run_rules(api.tenant, only=api.body.get("rules"))


@_with(response=ConditionOutSchema, many=True)
def list_conditions(api):
    """Conditions rules can use: the Cockpit's own and those other enabled plugins contribute."""
    return rules.conditions_list(api.tenant)


@_with(response=SettingsOutSchema)
def get_settings(api):
    """CTA types, statuses, priorities and the list's fields for this tenant."""
    return settings_of(api.tenant).as_dict()


def routes() -> list[ApiRoute]:
    def route(rule, view, methods=("GET",), roles=ALL):
        return ApiRoute(plugin=PLUGIN, rule=rule, view=view, methods=methods, roles=roles)

    return [
        route("/cockpit/ctas", list_ctas),
        route("/cockpit/ctas", create_cta, ("POST",), WRITE),
        route(CTA, get_cta),
        route(CTA, update_cta, ("PATCH",), WRITE),
        route(CTA, delete_cta, ("DELETE",), ADMIN),
        route(CTA + "/close", close_cta, ("POST",), WRITE),
        route(CTA + "/reopen", reopen_cta, ("POST",), WRITE),
        route(CTA + "/opportunities", linked_opportunities),
        route(CTA + "/opportunities", link_opportunities, ("PUT",), WRITE),
        route(CTA + "/playbook", apply_playbook, ("POST",), WRITE),
        route(CTA + "/tasks", add_task, ("POST",), WRITE),
        route(CTA + "/comments", add_comment, ("POST",), WRITE),
        route("/cockpit/tasks/<int:task_id>", update_task, ("PATCH",), WRITE),
        route("/cockpit/tasks/<int:task_id>", delete_task, ("DELETE",), WRITE),
        route("/cockpit/playbooks", list_playbooks),
        route("/cockpit/playbooks", create_playbook, ("POST",), ADMIN),
        route("/cockpit/playbooks/<name>", replace_playbook, ("PUT",), ADMIN),
        route("/cockpit/playbooks/<name>", delete_playbook, ("DELETE",), ADMIN),
        route("/cockpit/rules", list_rules),
        route("/cockpit/rules", create_rule, ("POST",), ADMIN),
        route("/cockpit/rules/<name>", replace_rule, ("PUT",), ADMIN),
        route("/cockpit/rules/<name>", delete_rule, ("DELETE",), ADMIN),
        route("/cockpit/rules/run", run_rules_now, ("POST",), ADMIN),
        route("/cockpit/conditions", list_conditions),
        route("/cockpit/settings", get_settings),
    ]
