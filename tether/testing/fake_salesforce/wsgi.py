"""One WSGI app routing every endpoint of the fake org.

Both ways of running the fake use it: the ``responses`` callbacks turn each intercepted
request into a WSGI call, and the HTTPS server serves it directly — one code path.

Order per request: request faults (5xx, slow, hang) → routing → authentication
(401 INVALID_SESSION_ID) → API limit (403 REQUEST_LIMIT_EXCEEDED) → handler.  Every
``/services/data`` response after authentication carries ``Sforce-Limit-Info``.
"""

from __future__ import annotations

import re
import time
from typing import Any, Callable, Iterable

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from . import bulk_xml
from .errors import BulkApiException, HangRequested, SalesforceError
from .faults import default_error_body
from .http_util import Call, json_response, rest_error

# simple-salesforce builds login URLs as https://{domain}.salesforce.com/...; against the
# loopback server, domain="127.0.0.1:PORT/login" turns that into a path prefix we strip.
_LOGIN_DOMAIN_PREFIX = re.compile(r"^/[^/]+\.salesforce\.com(?=/services/)")
_DATA = "/services/data/v<version>"
_ASYNC = "/services/async/<version>"


def _rules() -> list[Rule]:
    def rule(path: str, endpoint: str, methods: Iterable[str]) -> Rule:
        return Rule(path, endpoint=endpoint, methods=list(methods))
    return [
        rule("/services/Soap/u/<version>", "soap_login", ["POST"]),
        rule("/services/Soap/u/<version>/<org>", "soap_login", ["POST"]),
        rule("/services/oauth2/token", "oauth_token", ["POST"]),
        rule("/services/oauth2/revoke", "oauth_revoke", ["POST", "GET"]),
        rule("/services/data", "versions", ["GET"]),
        rule(_DATA, "resources", ["GET"]),
        rule(f"{_DATA}/limits", "limits", ["GET"]),
        rule(f"{_DATA}/query", "query", ["GET"]),
        rule(f"{_DATA}/queryAll", "query_all", ["GET"]),
        rule(f"{_DATA}/query/<locator>", "query_more", ["GET"]),
        rule(f"{_DATA}/queryAll/<locator>", "query_more", ["GET"]),
        rule(f"{_DATA}/sobjects", "describe_global", ["GET"]),
        rule(f"{_DATA}/sobjects/<sobject>", "sobject_root", ["GET", "POST"]),
        rule(f"{_DATA}/sobjects/<sobject>/describe", "describe", ["GET"]),
        rule(f"{_DATA}/sobjects/<sobject>/updated", "updated", ["GET"]),
        rule(f"{_DATA}/sobjects/<sobject>/deleted", "deleted", ["GET"]),
        rule(f"{_DATA}/sobjects/<sobject>/<record_id>", "record", ["GET", "PATCH", "DELETE"]),
        rule(f"{_DATA}/sobjects/<sobject>/<field>/<path:value>", "external", ["GET", "PATCH", "DELETE"]),
        rule(f"{_DATA}/composite/sobjects", "collections", ["POST", "PATCH", "DELETE"]),
        rule(f"{_DATA}/composite/sobjects/<sobject>", "collections_retrieve", ["GET", "POST"]),
        rule(f"{_DATA}/composite/sobjects/<sobject>/<field>", "collections_upsert", ["PATCH"]),
        rule(f"{_DATA}/jobs/query", "jobs_query", ["GET", "POST"]),
        rule(f"{_DATA}/jobs/query/<job_id>", "job_query", ["GET", "PATCH", "DELETE"]),
        rule(f"{_DATA}/jobs/query/<job_id>/results", "job_query_results", ["GET"]),
        rule(f"{_DATA}/jobs/ingest", "jobs_ingest", ["GET", "POST"]),
        rule(f"{_DATA}/jobs/ingest/<job_id>", "job_ingest", ["GET", "PATCH", "DELETE"]),
        rule(f"{_DATA}/jobs/ingest/<job_id>/batches", "job_ingest_upload", ["PUT"]),
        rule(f"{_DATA}/jobs/ingest/<job_id>/<results_type>", "job_ingest_results", ["GET"]),
        rule(f"{_ASYNC}/job", "bulk_jobs", ["POST"]),
        rule(f"{_ASYNC}/job/<job_id>", "bulk_job", ["GET", "POST"]),
        rule(f"{_ASYNC}/job/<job_id>/batch", "bulk_batches", ["GET", "POST"]),
        rule(f"{_ASYNC}/job/<job_id>/batch/<batch_id>", "bulk_batch", ["GET"]),
        rule(f"{_ASYNC}/job/<job_id>/batch/<batch_id>/request", "bulk_batch_request", ["GET"]),
        rule(f"{_ASYNC}/job/<job_id>/batch/<batch_id>/result", "bulk_batch_results", ["GET"]),
        rule(f"{_ASYNC}/job/<job_id>/batch/<batch_id>/result/<result_id>", "bulk_query_result", ["GET"]),
    ]


_PUBLIC = {"soap_login", "oauth_token", "oauth_revoke", "versions"}


class FakeOrgApp:
    """The WSGI application for one org as seen at ``instance_url``."""

    def __init__(self, org: Any, instance_url: str, *, in_process: bool) -> None:
        self.org = org
        self.instance_url = instance_url.rstrip("/")
        self.in_process = in_process
        self.url_map = Map(_rules(), strict_slashes=False, merge_slashes=False)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        stripped = _LOGIN_DOMAIN_PREFIX.sub("", path)
        if stripped != path:
            environ = {**environ, "PATH_INFO": stripped}
        try:
            response = self.dispatch(Request(environ))
        except HangRequested:
            if self.in_process:
                raise
            # The server drops the connection without answering (see server._QuietHandler).
            raise ConnectionAbortedError("fault: hanging request released") from None
        return response(environ, start_response)

    # -------------------------------------------------------------- dispatch
    def dispatch(self, request: Request) -> Response:
        bulk_v1 = request.path.startswith("/services/async/")
        action = self.org.faults.before_request(request.method, request.path)
        if action is not None:
            fault = action.fault
            if action.kind == "error":
                body, content_type = (fault.body, fault.content_type or "text/plain") if fault.body is not None \
                    else default_error_body(fault.status, bulk_v1)
                return Response(body, status=fault.status, content_type=content_type)
            if action.kind == "slow":
                time.sleep(fault.seconds)
            elif action.kind == "hang":
                if self.in_process:
                    raise HangRequested(fault.seconds)
                fault.release.wait(fault.seconds)
                raise HangRequested(fault.seconds)
        try:
            endpoint, args = self.url_map.bind_to_environ(request.environ).match()
        except (NotFound, MethodNotAllowed) as exc:
            response = self._not_routed(exc, bulk_v1)
            if request.path.startswith("/services/data/"):
                response.headers["Sforce-Limit-Info"] = self.org.limits.header()
            return response
        version = args.pop("version", "")
        if endpoint in _PUBLIC:
            return self._public(endpoint, request, version)
        try:
            session = self._authenticate(request, bulk_v1)
            self.org.limits.consume()
        except SalesforceError as error:
            if bulk_v1:
                code = "InvalidSessionId" if error.error_code == "INVALID_SESSION_ID" else "ExceededQuota"
                return self._bulk_error(request, BulkApiException(code, "Invalid session id" if code ==
                                                                  "InvalidSessionId" else error.message,
                                                                  status=400 if code == "InvalidSessionId" else 403))
            response = rest_error(error)
            response.headers["Sforce-Limit-Info"] = self.org.limits.header()
            return response
        call = Call(request, session.user_id, version)
        try:
            with self.org.lock:
                response = getattr(self, f"_{endpoint}")(call, **args)
        except BulkApiException as error:
            return self._bulk_error(request, error)
        except SalesforceError as error:
            response = rest_error(error)
        if not bulk_v1:
            response.headers["Sforce-Limit-Info"] = self.org.limits.header()
        return response

    def _authenticate(self, request: Request, bulk_v1: bool) -> Any:
        token = None
        if bulk_v1:
            token = request.headers.get("X-SFDC-Session")
        if not token:
            authorization = request.headers.get("Authorization", "")
            scheme, _, value = authorization.partition(" ")
            if scheme.lower() in ("bearer", "oauth"):
                token = value.strip()
        return self.org.auth.validate(token)

    def _not_routed(self, exc: HTTPException, bulk_v1: bool) -> Response:
        if bulk_v1:
            return Response(bulk_xml.error_xml("InvalidUrl", "unknown resource"), status=404,
                            content_type=bulk_xml.XML_CONTENT_TYPE)
        if isinstance(exc, MethodNotAllowed):
            return json_response([{"errorCode": "METHOD_NOT_ALLOWED",
                                   "message": "HTTP Method is not allowed for this resource"}], status=405)
        return json_response([{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}],
                             status=404)

    @staticmethod
    def _bulk_error(request: Request, error: BulkApiException) -> Response:
        if "json" in (request.content_type or "").lower():
            return Response(bulk_xml.error_json(error.exception_code, error.message), status=error.status,
                            content_type=bulk_xml.JSON_CONTENT_TYPE)
        return Response(bulk_xml.error_xml(error.exception_code, error.message), status=error.status,
                        content_type=bulk_xml.XML_CONTENT_TYPE)

    def _public(self, endpoint: str, request: Request, version: str) -> Response:
        org = self.org
        if endpoint == "versions":
            return org.rest.versions()
        if endpoint == "soap_login":
            with org.lock:
                status, body = org.auth.soap_login(request.get_data(), self.instance_url, version)
            return Response(body, status=status, content_type="text/xml; charset=utf-8")
        if endpoint == "oauth_revoke":
            token = request.values.get("token", "")
            org.auth.expire(token)
            return Response(status=200)
        host = request.host.split(":")[0]
        login_url = "https://test.salesforce.com" if host.startswith("test.") else "https://login.salesforce.com"
        with org.lock:
            status, body = org.auth.oauth_token(request.form, request.headers.get("Authorization"),
                                                self.instance_url, login_url)
        return json_response(body, status=status)

    # -------------------------------------------------------------- REST
    def _resources(self, call: Call) -> Response:
        return self.org.rest.resources(call)

    def _limits(self, call: Call) -> Response:
        return self.org.rest.limits(call)

    def _query(self, call: Call) -> Response:
        return self.org.queries.query(call)

    def _query_all(self, call: Call) -> Response:
        return self.org.queries.query(call, include_deleted=True)

    def _query_more(self, call: Call, locator: str) -> Response:
        return self.org.queries.query_more(call, locator)

    def _describe_global(self, call: Call) -> Response:
        return self.org.rest.describe_global(call)

    def _sobject_root(self, call: Call, sobject: str) -> Response:
        if call.request.method == "POST":
            return self.org.rest.create(call, sobject)
        return self.org.rest.sobject_info(call, sobject)

    def _describe(self, call: Call, sobject: str) -> Response:
        return self.org.rest.describe(call, sobject)

    def _updated(self, call: Call, sobject: str) -> Response:
        return self.org.rest.updated(call, sobject)

    def _deleted(self, call: Call, sobject: str) -> Response:
        return self.org.rest.deleted(call, sobject)

    def _record(self, call: Call, sobject: str, record_id: str) -> Response:
        method = call.request.method
        if method == "GET":
            return self.org.rest.retrieve(call, sobject, record_id)
        if method == "PATCH":
            return self.org.rest.update(call, sobject, record_id)
        return self.org.rest.delete(call, sobject, record_id)

    def _external(self, call: Call, sobject: str, field: str, value: str) -> Response:
        method = call.request.method
        if method == "GET":
            return self.org.rest.by_external_id(call, sobject, field, value)
        if method == "PATCH":
            return self.org.rest.upsert(call, sobject, field, value)
        return self.org.rest.delete_by_external_id(call, sobject, field, value)

    def _collections(self, call: Call) -> Response:
        handler = {"POST": self.org.collections.create, "PATCH": self.org.collections.update,
                   "DELETE": self.org.collections.delete}[call.request.method]
        return handler(call)

    def _collections_retrieve(self, call: Call, sobject: str) -> Response:
        return self.org.collections.retrieve(call, sobject)

    def _collections_upsert(self, call: Call, sobject: str, field: str) -> Response:
        return self.org.collections.upsert(call, sobject, field)

    # -------------------------------------------------------------- Bulk 2.0
    def _jobs_query(self, call: Call) -> Response:
        if call.request.method == "POST":
            return self.org.bulk2.create_query(call)
        return self.org.bulk2.list_jobs(call, "query")

    def _job_query(self, call: Call, job_id: str) -> Response:
        return self._job(call, "query", job_id)

    def _job(self, call: Call, kind: str, job_id: str) -> Response:
        method = call.request.method
        if method == "GET":
            return self.org.bulk2.get_job(call, kind, job_id)
        if method == "PATCH":
            return self.org.bulk2.patch_job(call, kind, job_id)
        return self.org.bulk2.delete_job(call, kind, job_id)

    def _job_query_results(self, call: Call, job_id: str) -> Response:
        return self.org.bulk2.query_results(call, job_id)

    def _jobs_ingest(self, call: Call) -> Response:
        if call.request.method == "POST":
            return self.org.bulk2.create_ingest(call)
        return self.org.bulk2.list_jobs(call, "ingest")

    def _job_ingest(self, call: Call, job_id: str) -> Response:
        return self._job(call, "ingest", job_id)

    def _job_ingest_upload(self, call: Call, job_id: str) -> Response:
        return self.org.bulk2.upload(call, job_id)

    def _job_ingest_results(self, call: Call, job_id: str, results_type: str) -> Response:
        return self.org.bulk2.ingest_results(call, job_id, results_type)

    # -------------------------------------------------------------- Bulk 1.0
    def _bulk_jobs(self, call: Call) -> Response:
        return self.org.bulk1.create_job(call.request, call.user_id, call.version)

    def _bulk_job(self, call: Call, job_id: str) -> Response:
        if call.request.method == "POST":
            return self.org.bulk1.update_job(call.request, job_id)
        return self.org.bulk1.get_job(call.request, job_id)

    def _bulk_batches(self, call: Call, job_id: str) -> Response:
        if call.request.method == "POST":
            return self.org.bulk1.add_batch(call.request, job_id)
        return self.org.bulk1.list_batches(call.request, job_id)

    def _bulk_batch(self, call: Call, job_id: str, batch_id: str) -> Response:
        return self.org.bulk1.get_batch(call.request, job_id, batch_id)

    def _bulk_batch_request(self, call: Call, job_id: str, batch_id: str) -> Response:
        return self.org.bulk1.batch_request(call.request, job_id, batch_id)

    def _bulk_batch_results(self, call: Call, job_id: str, batch_id: str) -> Response:
        return self.org.bulk1.batch_results(call.request, job_id, batch_id)

    def _bulk_query_result(self, call: Call, job_id: str, batch_id: str, result_id: str) -> Response:
        return self.org.bulk1.query_result(call.request, job_id, batch_id, result_id)
