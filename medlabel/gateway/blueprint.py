"""The gateway's transport: authenticate by the platform session, decide by `rules`, resolve ownership
checks, and proxy to Label Studio as the physician's own user. Registered last: every path no platform page
claims is Label Studio's, and reaches it only through here."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
from flask import Blueprint, Flask, Response, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from medlabel.accounts.label_studio import provision
from medlabel.errors import LabelStudioError, MedlabelError
from medlabel.gateway import filters
from medlabel.gateway.grants import Grants, load_grants
from medlabel.gateway.rules import (
    Action,
    BodyRewrite,
    Check,
    CheckKind,
    Decision,
    GatewayRequest,
    ResponseFilter,
    decide,
    is_asset,
)
from medlabel.gateway.upstream import RAW_ONLY_HEADERS, REQUEST_HEADERS, RESPONSE_HEADERS, Upstream
from medlabel.models import Physician
from medlabel.routing.label_studio import VIEW_PREFIX
from medlabel.settings import Settings
from medlabel.web.db import db_session, settings

logger = logging.getLogger(__name__)
bp = Blueprint("gateway", __name__)
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
WRITES = frozenset(("POST", "PUT", "PATCH", "DELETE"))
UPSTREAM_FAILURES = (httpx.TransportError,)


def init_app(app: Flask, configured: Settings) -> None:
    app.extensions["medlabel_upstream"] = Upstream(configured)


def _upstream() -> Upstream:
    upstream: Upstream = current_app.extensions["medlabel_upstream"]
    return upstream


class MalformedBody(MedlabelError):
    code = "malformed_body"
    http_status = 400


def _refuse(physician_id: int | None, reason: str, status: int = 403) -> ResponseReturnValue:
    logger.warning(
        "gateway refused physician %s: %s %s (%s)", physician_id, request.method, request.path, reason
    )
    if _wants_page():
        return render_template("gateway_error.html", status=status, reason=reason), status
    return {"error": "forbidden", "detail": reason}, status


def _wants_page() -> bool:
    return request.method == "GET" and "text/html" in request.headers.get("Accept", "")


def _same_origin(configured: Settings) -> bool:
    """Writes must come from our own pages: the session cookie alone would let any site post as a physician."""
    origin = request.headers.get("Origin")
    if not origin:
        referer = urlsplit(request.headers.get("Referer", ""))
        origin = f"{referer.scheme}://{referer.netloc}" if referer.netloc else ""
    return bool(origin) and origin in (request.host_url.rstrip("/"), configured.public_url)


@bp.route("/<path:path>", methods=METHODS)
def proxy(path: str) -> ResponseReturnValue:
    configured = settings()
    call = GatewayRequest(request.method, "/" + path, {k: v for k, v in request.args.items()})
    if not current_user.is_authenticated:
        if _wants_page():
            return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
        return {"error": "unauthorized", "detail": "log in to the platform first"}, 401
    physician: Physician | None = current_user.account.physician
    if physician is None:
        return _refuse(
            None, "the labeling gateway is for physicians; managers use Label Studio's admin entry"
        )
    if not physician.active:
        return _refuse(physician.id, "your access is paused; your project manager can tell you more")
    if call.method in WRITES and not _same_origin(configured):
        return _refuse(physician.id, "cross-origin write")
    if is_asset(call):
        # public files: sent without the physician's token (LS would authenticate it for nothing)
        return _forward(None, None)
    grants = load_grants(db_session(), physician)
    decision = decide(call, grants)
    if decision.action is Action.DENY:
        return _refuse(physician.id, decision.reason)
    try:
        if physician.ls_refresh_token is None:
            provision(configured, db_session(), physician)
            grants = load_grants(db_session(), physician)
        for check in decision.checks:
            reason = _failed_check(check, grants)
            if reason:
                return _refuse(physician.id, reason)
        if decision.action is Action.ANSWER:
            answer = (
                filters.self_only(grants, physician.email, physician.name)
                if decision.answer == "self"
                else decision.answer
            )
            return Response(json.dumps(answer), status=decision.status, mimetype="application/json")
        return _forward(physician, decision, grants)
    except (LabelStudioError, *UPSTREAM_FAILURES) as exc:
        logger.error(
            "gateway: Label Studio failed for physician %s on %s %s: %s",
            physician.id,
            request.method,
            request.path,
            exc,
        )
        return _unavailable()


def _failed_check(check: Check, grants: Grants) -> str | None:
    """Why a check fails, or None when it holds."""
    upstream = _upstream()
    if check.kind is CheckKind.MEDIA:
        if any(check.key in upstream.task_media(task) for task in sorted(grants.tasks)):
            return None
        return "this file belongs to no task routed to you"
    owner = (upstream.annotation_owner if check.kind is CheckKind.ANNOTATION else upstream.draft_owner)(
        int(check.key)
    )
    if owner is None:
        return f"no such {check.kind}"
    author, task = owner
    if author != grants.ls_user_id or not grants.holds(task):
        return f"{check.kind} {check.key} is not yours"
    return None


def _unavailable() -> ResponseReturnValue:
    reason = "Label Studio is not answering right now; your work is safe. Try again in a minute."
    if _wants_page():
        return render_template("gateway_error.html", status=502, reason=reason), 502
    return {"error": "bad_gateway", "detail": reason}, 502


def _request_body(decision: Decision | None, grants: Grants | None) -> bytes | None:
    """The body to send on: as the browser sent it, or rewritten as the decision says."""
    raw = request.get_data(cache=False)
    if decision is None or decision.body is None or (not raw and decision.body is BodyRewrite.AUTHORED):
        return raw or None
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        raise MalformedBody("the body must be JSON") from None
    if decision.body is BodyRewrite.NEXT_TASK:
        assert grants is not None and decision.ls_project_id is not None
        return json.dumps(filters.next_task_request(body, grants.open_in(decision.ls_project_id))).encode()
    return json.dumps(filters.authored_by_gateway(body)).encode()


def _forward(
    physician: Physician | None, decision: Decision | None, grants: Grants | None = None
) -> ResponseReturnValue:
    upstream = _upstream()
    headers = {k: v for k, v in request.headers.items() if k.lower() in REQUEST_HEADERS}
    if physician is not None:
        headers["Authorization"] = f"Bearer {upstream.tokens.get(physician)}"
    body = _request_body(decision, grants)
    if body is not None and decision is not None and decision.body is not None:
        headers["Content-Type"] = "application/json"
    url = request.full_path if request.query_string else request.path
    outgoing = upstream.http.build_request(request.method, url, headers=headers, content=body)
    answer = upstream.http.send(outgoing, stream=True)
    if (
        physician is not None
        and decision is not None
        and decision.response is not None
        and answer.status_code == 200
    ):
        return _filtered(answer, decision, grants, physician)
    return Response(
        _stream(answer),
        status=answer.status_code,
        headers=_response_headers(answer, raw=True),
        direct_passthrough=True,
    )


def _stream(answer: httpx.Response) -> Iterator[bytes]:
    try:
        yield from answer.iter_raw(64 * 1024)
    finally:
        answer.close()


def _response_headers(answer: httpx.Response, *, raw: bool) -> list[tuple[str, str]]:
    keep = RESPONSE_HEADERS + (RAW_ONLY_HEADERS if raw else ())
    headers = [(k, v) for k, v in answer.headers.items() if k.lower() in keep]
    headers = [(k, _upstream().relative_location(v) if k.lower() == "location" else v) for k, v in headers]
    return headers + [("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "same-origin")]


def _filtered(
    answer: httpx.Response, decision: Decision, grants: Grants | None, physician: Physician
) -> ResponseReturnValue:
    assert grants is not None
    try:
        answer.read()
        body: Any = answer.json()
    except ValueError:
        return _refuse(physician.id, "Label Studio answered something that is not JSON", 502)
    finally:
        answer.close()
    if decision.response is ResponseFilter.TASK or decision.response is ResponseFilter.NEXT_TASK:
        task_id = body.get("id") if isinstance(body, dict) else None
        allowed = grants.open_tasks if decision.response is ResponseFilter.NEXT_TASK else grants.tasks
        if not isinstance(task_id, int) or task_id not in allowed:
            logger.warning(
                "gateway: Label Studio offered physician %s task %s outside their grants",
                physician.id,
                task_id,
            )
            return {"detail": "There are no more tasks routed to you in this project."}, 404
        _upstream().remember_media(body)
        body = filters.task_for(body, grants, grants.tasks[task_id])
    elif decision.response is ResponseFilter.PROJECT:
        body = filters.project_for(body)
    elif decision.response is ResponseFilter.VIEWS:
        body = filters.views_for(body, physician.id, VIEW_PREFIX)
    return Response(json.dumps(body), status=200, headers=_response_headers(answer, raw=False))
