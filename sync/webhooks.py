"""Label Studio → platform webhooks: check the shared secret, store the raw delivery, answer at once.

Label Studio Community posts each webhook once, inside the request that caused it, with a 1 s timeout and no
retry (ARCHITECTURE.md), so this view does no work beyond one insert: processing runs after the answer (an RQ
job, or in this process once the response is closed), and reconciliation recovers whatever was lost.
"""

from __future__ import annotations

import hmac
import logging

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from medlabel.errors import WebhookAuthError, WebhookTooLargeError, WebhookUnavailableError
from medlabel.projects import WEBHOOK_PATH
from medlabel.routing.label_studio import SECRET_HEADER
from medlabel.web.db import db_session, settings
from sync.operations import dispatch, receive

logger = logging.getLogger(__name__)
bp = Blueprint("sync", __name__)
#: Where Label Studio posts every event of a managed project (registered by medlabel.projects).
RECEIVER_PATH = WEBHOOK_PATH


def _check_secret() -> None:
    configured = settings().webhook_secret
    secret = request.headers.get(SECRET_HEADER, "")
    if not configured or not hmac.compare_digest(secret.encode(), configured.encode()):
        raise WebhookAuthError(f"missing or wrong {SECRET_HEADER} header")


@bp.post(RECEIVER_PATH)
def receive_event() -> ResponseReturnValue:
    """Store one delivery in the inbox and answer; 4xx (nothing stored) for what can never be processed."""
    _check_secret()
    limit = settings().webhook_max_bytes
    if request.content_length is not None and request.content_length > limit:
        raise WebhookTooLargeError(f"body larger than {limit} bytes")
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        raise WebhookTooLargeError(f"body larger than {limit} bytes")
    try:
        receipt = receive(db_session(), raw)
    except OperationalError as exc:
        logger.error("webhook inbox unavailable (%s); `medlabel sync` will reconcile", type(exc).__name__)
        raise WebhookUnavailableError(
            "the platform database is unavailable; the change will be picked up by reconciliation"
        ) from None
    response = jsonify(status=receipt.status, event=receipt.event_id)
    if receipt.status == "stored" and receipt.event_id is not None:
        configured = settings()
        maker: sessionmaker[Session] = current_app.extensions["medlabel_sessionmaker"]
        event_ids = [receipt.event_id]
        response.call_on_close(lambda: dispatch(configured, maker, event_ids))
    return response, 202 if receipt.status == "stored" else 200
