"""Mounts plugin webhook receivers at ``/webhooks/<tenant>/<plugin>/<path>``.

The dispatcher answers what every receiver needs before its own checks: unknown tenant
or plugin not enabled (404), body over the size limit (413), wrong method (405) and,
when the receiver declares content types, wrong content type (415). A receiver can
render these its own way (a SOAP Fault for Salesforce) by providing ``render_error``.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, request
from sqlalchemy.exc import DBAPIError

from tether.core.contracts import WebhookReceiver
from tether.core.errors import StoreUnavailable, TenantNotFound, TetherError, WebhookError
from tether.core.runtime import Runtime

log = logging.getLogger(__name__)


def _plain_error(receiver: WebhookReceiver | None, error: WebhookError) -> Response:
    render = getattr(receiver.view, "render_error", None) if receiver else None
    if render is not None:
        return render(error)
    return Response(error.message + "\n", status=error.status, mimetype="text/plain")


def build_webhook_blueprint(runtime: Runtime, receivers: list[WebhookReceiver]) -> Blueprint:
    blueprint = Blueprint("webhooks", __name__, url_prefix="/webhooks")
    by_key = {(r.plugin, r.path.strip("/")): r for r in receivers}

    @blueprint.route("/<tenant>/<plugin>/<path:path>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def dispatch(tenant: str, plugin: str, path: str) -> Response:
        receiver = by_key.get((plugin, path.strip("/")))
        try:
            if receiver is None:
                raise WebhookError(f"no webhook endpoint {plugin}/{path}", status=404)
            if request.method not in receiver.methods:
                raise WebhookError(f"method {request.method} not allowed here", status=405)
            limit = current_app.config["TETHER_WEBHOOK_MAX_BODY_BYTES"]
            if request.content_length is not None and request.content_length > limit:
                raise WebhookError(f"request body of {request.content_length} bytes is over the {limit}-byte limit", status=413)
            if receiver.content_types:
                mimetype = (request.mimetype or "").lower()
                if mimetype not in receiver.content_types:
                    raise WebhookError(f"content type {request.mimetype or 'none'!r} is not accepted; "
                                       f"send {' or '.join(receiver.content_types)}", status=415)
            try:
                context = runtime.context(tenant)
            except TenantNotFound:
                raise WebhookError(f"unknown tenant {tenant!r}", status=404) from None
            if not context.is_enabled(plugin):
                raise WebhookError(f"plugin {plugin!r} is not enabled for tenant {tenant!r}", status=404)
            return receiver.view(context, request)
        except WebhookError as error:
            log.info("webhook %s/%s/%s refused (%s): %s", tenant, plugin, path, error.status, error.message)
            return _plain_error(receiver, error)
        except (StoreUnavailable, DBAPIError) as exc:
            log.error("webhook %s/%s/%s: store unavailable: %s", tenant, plugin, path, type(exc).__name__)
            return _plain_error(receiver, WebhookError("the store is unavailable; retry later", status=503))
        except TetherError as exc:
            # Our side is misconfigured (a missing secret, say): the sender should retry later.
            log.error("webhook %s/%s/%s failed: %s", tenant, plugin, path, exc.one_line())
            return _plain_error(receiver, WebhookError("the receiver is misconfigured; retry later", status=503))

    return blueprint
