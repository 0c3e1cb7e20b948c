"""The Flask app factory: API, webhooks, health and pages in one app, no global state."""

from __future__ import annotations

from typing import Any, Mapping

from flask import Flask, Response, jsonify

from tether.core.api.app import all_endpoints, build_api_blueprint, error_response, tether_error_response
from tether.core.api.openapi import openapi_document
from tether.core.errors import TetherError
from tether.core.runtime import Runtime
from tether.web import install as install_pages

from .receivers import build_webhook_blueprint


def create_app(runtime: Runtime | None = None, config: Mapping[str, Any] | None = None) -> Flask:
    runtime = runtime or Runtime()
    app = Flask("tether")
    app.config.update(
        TETHER_WEBHOOK_MAX_BODY_BYTES=runtime.settings.webhook_max_body_bytes,
        # Bodies past this are refused before they are read; API bodies are small too.
        MAX_CONTENT_LENGTH=max(runtime.settings.webhook_max_body_bytes, 1024 * 1024) + 1,
        JSON_SORT_KEYS=False,
    )
    app.config.update(config or {})
    app.extensions["tether.runtime"] = runtime

    endpoints = all_endpoints(runtime)
    app.register_blueprint(build_api_blueprint(runtime, endpoints))
    receivers = [r for rs in runtime.host.call_global("tether_webhook_receivers") or [] for r in rs or []]
    app.register_blueprint(build_webhook_blueprint(runtime, receivers))
    document = openapi_document(endpoints)
    install_pages(app, runtime, endpoints)

    @app.get("/api/v1/openapi.json")
    def openapi():
        return jsonify(document)

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "alive"})

    @app.get("/metrics")
    def metrics():
        from tether.core import metrics as tether_metrics

        tether_metrics.bind_store(runtime.store)
        body, content_type = tether_metrics.render()
        return Response(body, headers={"Content-Type": content_type})

    @app.get("/readyz")
    def readyz():
        try:
            runtime.store.check_current()
        except TetherError as exc:
            return error_response(503, "not_ready", exc.message, hint=exc.hint)
        return jsonify({"status": "ready"})

    @app.errorhandler(TetherError)
    def _tether_error(exc: TetherError):
        return tether_error_response(exc)

    @app.errorhandler(413)
    def _too_large(exc):
        return error_response(413, "too_large", "the request body is over the size limit")

    return app
