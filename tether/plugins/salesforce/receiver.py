"""The Outbound Message endpoint: ``POST /webhooks/<tenant>/salesforce/outbound-message``.

Each refusal has its own status and a SOAP Fault body, and stores nothing: missing or
wrong secret 401, another org 403, address outside the allow-list 403, malformed or
unsafe XML 400, an object this tenant does not sync 400 (404, 413 and 415 come from the
dispatcher). A valid message is written to the inbox in one transaction (shared with
messages arriving at the same moment) and only then acknowledged; if the store cannot
take it the answer is 503 so Salesforce retries.
Session ids are never logged or stored.
"""

from __future__ import annotations

import atexit
import base64
import hmac
import ipaddress
import logging
import weakref
from typing import Any

from flask import Response
from sqlalchemy.exc import DBAPIError

from tether.core import secrets
from tether.core.contracts import WebhookReceiver
from tether.core.errors import SecretError, StoreUnavailable, WebhookError
from tether.core.inbox import GroupCommit

from . import outbound_messages as om

log = logging.getLogger(__name__)

PATH = "outbound-message"
CONNECTOR = "salesforce"
CONTENT_TYPES = ("text/xml", "application/soap+xml")


def render_error(error: WebhookError) -> Response:
    body = om.fault_body(error.message, server=error.status >= 500)
    return Response(body, status=error.status, content_type="text/xml; charset=utf-8")


def _client_address(request, trusted_proxies: int) -> str:
    """The sender's address: the remote peer, or the entry ``trusted_proxies`` hops back
    in X-Forwarded-For when tether runs behind that many proxies of its own."""
    if trusted_proxies <= 0:
        return request.remote_addr or ""
    forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",") if part.strip()]
    chain = forwarded + [request.remote_addr or ""]
    return chain[-(trusted_proxies + 1)] if len(chain) > trusted_proxies else chain[0]


def _check_address(config: dict[str, Any], request) -> None:
    cidrs = config.get("webhook_allowed_cidrs") or []
    if not cidrs:
        return
    address = _client_address(request, int(config.get("webhook_trusted_proxies") or 0))
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise WebhookError(f"sender address {address!r} is not an IP address", status=403) from None
    if not any(ip in ipaddress.ip_network(cidr, strict=False) for cidr in cidrs):
        raise WebhookError(f"sender address {address} is not in this tenant's allow-list", status=403)


def _presented_secret(request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:6].lower() == "basic ":
        try:
            _, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
            return password
        except (ValueError, UnicodeDecodeError):
            return None
    # Salesforce cannot send custom headers, so the endpoint URL can carry the token.
    return request.args.get("token") or request.headers.get("X-Tether-Webhook-Token")


def _check_secret(tenant, config: dict[str, Any], request) -> None:
    reference = config.get("webhook_secret")
    if not reference:
        raise WebhookError("this tenant has no webhook_secret configured; every message is refused", status=401)
    try:
        expected = secrets.resolve(reference, where=f"tenant {tenant.id}: plugins.salesforce.config.webhook_secret")
    except SecretError as exc:
        log.error("%s", exc.one_line())
        raise WebhookError("the webhook secret is not available on this server; retry later", status=503) from exc
    presented = _presented_secret(request)
    if not presented:
        raise WebhookError("no webhook secret presented: add ?token=<secret> to the endpoint URL or use HTTP Basic", status=401)
    if not hmac.compare_digest(presented.encode(), str(expected).encode()):
        raise WebhookError("the webhook secret is wrong", status=401)


def _check_org(tenant, config: dict[str, Any], message: om.OutboundMessage) -> None:
    expected = secrets.resolve(config.get("organization_id"),
                               where=f"tenant {tenant.id}: plugins.salesforce.config.organization_id")
    if not expected:
        raise WebhookError("this tenant has no organization_id configured, so no org's messages are accepted", status=403)
    if om.org_id_15(message.organization_id) != om.org_id_15(str(expected)):
        raise WebhookError(f"OrganizationId {message.organization_id} is not this tenant's org", status=403)


def _read_body(request, limit: int) -> bytes:
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        raise WebhookError(f"request body is over the {limit}-byte limit", status=413)
    return body


def outbound_message(tenant, request) -> Response:
    from flask import current_app

    config = tenant.config_for(CONNECTOR)
    _check_address(config, request)
    _check_secret(tenant, config, request)
    body = _read_body(request, current_app.config["TETHER_WEBHOOK_MAX_BODY_BYTES"])
    try:
        message = om.parse(body)
    except om.MalformedMessage as exc:
        raise WebhookError(str(exc), status=400) from None
    _check_org(tenant, config, message)
    synced = set(tenant.host.require(CONNECTOR).manifest.reads)
    for notification in message.notifications:
        if notification.object_name not in synced:
            raise WebhookError(f"object {notification.object_name!r} is not synced by tether "
                               f"(accepted: {', '.join(sorted(synced))})", status=400)
    action_id, organization_id, api_version = message.action_id, message.organization_id, message.api_version
    rows = [
        {
            "notification_id": n.notification_id,
            "object_name": n.object_name,
            "record_external_id": n.record_id,
            "payload": {"fields": n.fields, "action_id": action_id, "organization_id": organization_id,
                        "api_version": api_version},
        }
        for n in message.notifications
    ]
    try:
        # The writer wakes the inbox job after the commit, not each message (see _group_commit).
        new_ids = _group_commit(current_app, tenant.store).store_notifications(tenant.id, CONNECTOR, rows,
                                                                               context=tenant)
    except (DBAPIError, StoreUnavailable) as exc:
        log.error("tenant %s: could not store %d notifications: %s", tenant.id, len(rows), type(exc).__name__)
        raise WebhookError("the store is unavailable; the message was not stored, retry later", status=503) from None
    log.info("tenant %s: outbound message with %d notifications (%d new) stored", tenant.id, len(rows), len(new_ids))
    return Response(om.ACK_BODY, status=200, content_type="text/xml; charset=utf-8")


def _group_commit(app, store) -> GroupCommit:
    """The app's inbox writer: concurrent messages share a commit, and commits, not each
    message, wake the inbox job (see tether.core.inbox)."""
    writer = app.extensions.get("tether.inbox_group_commit")
    if writer is None or writer.store is not store:
        runtime = app.extensions["tether.runtime"]
        writer = app.extensions["tether.inbox_group_commit"] = GroupCommit(store, on_commit=runtime.notify_inbox)
        # Whatever server runs the app, wake-ups still owed when it exits are made then.
        atexit.register(_flush_at_exit, weakref.ref(writer))
    return writer


def _flush_at_exit(ref: "weakref.ref[GroupCommit]") -> None:
    writer = ref()
    if writer is not None:
        writer.flush()


outbound_message.render_error = render_error  # type: ignore[attr-defined]

RECEIVER = WebhookReceiver(plugin=CONNECTOR, path=PATH, view=outbound_message, methods=("POST",),
                           content_types=CONTENT_TYPES)
