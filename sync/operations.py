"""The sync flow's operations: receive a delivery into the inbox, process the inbox, hand processing to a job.

The receiver (webhooks.py), the RQ job, the CLI and reconciliation all call these; nothing here knows HTTP.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from medlabel.errors import WebhookError
from medlabel.models import InboxEvent, MirrorTask
from medlabel.settings import Settings
from sync.events import LsAction, LsEvent, parse_event
from sync.handlers import SyncContext, apply, managed_project

logger = logging.getLogger(__name__)
#: One in-process drain at a time: handlers are idempotent, but two drains would race on the same rows.
_DRAIN_LOCK = threading.Lock()
QUEUE_NAME = "medlabel-sync"


@dataclass(frozen=True)
class Receipt:
    status: str  # stored | duplicate | ignored
    event_id: int | None = None


def receive(session: Session, raw: bytes) -> Receipt:
    """Check and store one raw delivery; a replayed body is a no-op, an unmanaged project is ignored.

    Raises:
        WebhookError: malformed JSON, unknown action or missing project (nothing is stored).
    """
    try:
        payload = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WebhookError(f"body is not JSON: {exc}") from None
    event = parse_event(payload)
    if event.ls_project_id is not None:
        if not _MANAGED.contains(session, event.ls_project_id):
            return Receipt("ignored")
    elif not _knows_any_task(session, [t["id"] for t in event.tasks]):
        return Receipt("ignored")
    key = hashlib.sha256(raw).hexdigest()
    # One statement and no exception path for a replay: Label Studio waits for this answer (1 s timeout).
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[session.get_bind().dialect.name]
    inbox = InboxEvent.__table__
    statement = (
        insert(inbox)
        .values(delivery_key=key, action=event.action.value, ls_project_id=event.ls_project_id, body=payload)
        .on_conflict_do_nothing(index_elements=[inbox.c.delivery_key])
        .returning(inbox.c.id)
    )
    event_id = session.connection().execute(statement).scalar()  # Core: no ORM unit of work to pay for
    session.commit()
    if event_id is None:
        return Receipt(
            "duplicate", session.scalar(select(InboxEvent.id).where(InboxEvent.delivery_key == key))
        )
    return Receipt("stored", event_id)


class _ManagedProjects:
    """Label Studio project ids medlabel manages, remembered per process for a few seconds.

    The receiver asks on every delivery; a hit skips a query, and a miss always asks the database, so a
    project registered a moment ago is never ignored. A project that stops being managed is seen within `ttl`.
    """

    def __init__(self, ttl: float = 10.0) -> None:
        self.ttl = ttl
        self._known: dict[int, float] = {}

    def contains(self, session: Session, ls_project_id: int) -> bool:
        now = time.monotonic()
        if now - self._known.get(ls_project_id, -self.ttl) < self.ttl:
            return True
        if managed_project(session, ls_project_id) is None:
            self._known.pop(ls_project_id, None)
            return False
        self._known[ls_project_id] = now
        return True


_MANAGED = _ManagedProjects()


def _knows_any_task(session: Session, ids: list[int]) -> bool:
    return (
        session.scalar(select(MirrorTask.ls_task_id).where(MirrorTask.ls_task_id.in_(ids)).limit(1))
        is not None
    )


def process_event(session: Session, context: SyncContext, event_id: int) -> bool:
    """Apply one stored event (if not yet processed) and mark it processed, in one transaction."""
    row = session.get(InboxEvent, event_id)
    if row is None or row.processed_at is not None:
        return False
    body = row.body
    for attempt in (1, 2):
        try:
            apply(session, context, parse_event(body))
            break
        except IntegrityError:  # a concurrent writer inserted the same row first: the retry sees it
            session.rollback()
            if attempt == 2:
                raise
    row = session.get(InboxEvent, event_id)
    assert row is not None
    row.processed_at, row.error = datetime.now(UTC), None
    session.commit()
    return True


#: Annotation events that arrive in a row for one project are mirrored as one batch, in one transaction.
BATCHED_ACTIONS = frozenset(
    {LsAction.ANNOTATION_CREATED, LsAction.ANNOTATION_UPDATED, LsAction.ANNOTATIONS_CREATED}
)
MAX_BATCH = 100


def process_pending(
    maker: sessionmaker[Session],
    context: SyncContext,
    ls_project_id: int | None = None,
    event_ids: Iterable[int] | None = None,
) -> int:
    """Process unprocessed inbox events in arrival order (all, one project's, or these); returns how many."""
    done = 0
    with _DRAIN_LOCK, maker() as session:
        query = (
            select(InboxEvent.id, InboxEvent.action, InboxEvent.ls_project_id)
            .where(InboxEvent.processed_at.is_(None))
            .order_by(InboxEvent.id)
        )
        if ls_project_id is not None:
            query = query.where(InboxEvent.ls_project_id == ls_project_id)
        if event_ids is not None:
            query = query.where(InboxEvent.id.in_(list(event_ids)))
        for run in _runs(session.execute(query).all()):
            done += (
                _process_batch(session, context, run)
                if len(run) > 1
                else _process_one(session, context, run[0])
            )
    return done


def _runs(rows: list[Any]) -> Iterator[list[int]]:
    """Event ids in arrival order, grouped: consecutive annotation events of one project (up to MAX_BATCH)
    together, every other event alone."""
    run: list[int] = []
    key: int | None = None
    for event_id, action, project in rows:
        batched = LsAction(action) in BATCHED_ACTIONS
        if run and (not batched or project != key or len(run) == MAX_BATCH):
            yield run
            run = []
        if batched:
            run.append(event_id)
            key = project
        else:
            yield [event_id]
    if run:
        yield run


def _process_batch(session: Session, context: SyncContext, event_ids: list[int]) -> int:
    """Mirror a run of annotation events as one batch; if any of it fails, each event goes alone (so the
    failure is recorded on its own event and the rest still land)."""
    try:
        rows = list(
            session.scalars(
                select(InboxEvent)
                .where(InboxEvent.id.in_(event_ids), InboxEvent.processed_at.is_(None))
                .order_by(InboxEvent.id)
            )
        )
        events = [parse_event(row.body) for row in rows]
        if events:
            merged = LsEvent(
                LsAction.ANNOTATIONS_CREATED,
                events[0].ls_project_id,
                annotations=[a for e in events for a in e.annotations],
                tasks=[t for e in events for t in e.tasks],
            )
            apply(session, context, merged)
        now = datetime.now(UTC)
        for row in rows:
            row.processed_at, row.error = now, None
        session.commit()
        return len(rows)
    except Exception:  # noqa: BLE001 - isolated below, event by event
        session.rollback()
        logger.warning(
            "inbox events %s-%s failed as a batch; processing them one by one", event_ids[0], event_ids[-1]
        )
        return sum(_process_one(session, context, event_id) for event_id in event_ids)


def _process_one(session: Session, context: SyncContext, event_id: int) -> int:
    try:
        return int(process_event(session, context, event_id))
    except Exception as exc:  # kept with the event; reconciliation repairs the mirror meanwhile
        session.rollback()
        logger.exception("processing inbox event %s failed", event_id)
        row = session.get(InboxEvent, event_id)
        if row is not None:
            row.error = f"{type(exc).__name__}: {exc}"[:2000]
            session.commit()
        return 0


def sync_context(settings: Settings) -> SyncContext:
    """Staff Label Studio users: the service account (whose annotations are the platform's own) and
    MEDLABEL_STAFF_LS_USERS."""
    staff = set(settings.staff_ls_user_ids)
    service = _service_account(settings.label_studio_url, settings.label_studio_api_key)
    if service is not None:
        staff.add(service)
    return SyncContext(staff_ls_user_ids=frozenset(staff), settings=settings)


@lru_cache(maxsize=8)
def _service_account(url: str, api_key: str) -> int | None:
    if not api_key:
        return None
    try:
        answer = httpx.get(
            f"{url}/api/current-user/whoami", headers={"Authorization": f"Token {api_key}"}, timeout=10
        )
        answer.raise_for_status()
        return int(answer.json()["id"])
    except (httpx.HTTPError, KeyError, ValueError):
        _service_account.cache_clear()
        logger.warning("could not ask Label Studio who the service account is; only listed staff are allowed")
        return None


def dispatch(settings: Settings, maker: sessionmaker[Session], event_ids: list[int]) -> None:
    """Process stored events off the request: a drain job when Redis is configured, else here and now.

    With Redis, a burst queues one job, not one per delivery: the first delivery sets a short-lived flag and
    queues a drain of everything pending; the job clears the flag before it reads the inbox, so an event
    stored after that read sets the flag again and gets its own job. If Redis is down the events simply wait
    in the inbox: `medlabel sync` (and its periodic pass) drains it.
    """
    if settings.redis_url:
        try:
            redis = _redis(settings.redis_url)
            if redis.set(DRAIN_FLAG, "1", nx=True, ex=DRAIN_FLAG_SECONDS):
                _queue(settings.redis_url).enqueue(process_inbox_job)
        except Exception:  # noqa: BLE001 - the inbox keeps the event either way
            logger.exception(
                "could not queue sync job for inbox events %s; they wait for `medlabel sync`", event_ids
            )
        return
    try:
        process_pending(maker, sync_context(settings), event_ids=event_ids)
    except OperationalError:
        logger.exception("processing inbox events %s failed; they wait for `medlabel sync`", event_ids)


#: Set while a drain job is queued; expires on its own if that job is lost, so the next delivery re-queues.
DRAIN_FLAG = "medlabel-sync:drain-queued"
DRAIN_FLAG_SECONDS = 60


@lru_cache(maxsize=4)
def _redis(redis_url: str) -> Any:
    """One Redis connection pool per process, not one per delivery."""
    from redis import Redis

    return Redis.from_url(redis_url)


def _queue(redis_url: str) -> Any:
    from rq import Queue

    return Queue(QUEUE_NAME, connection=_redis(redis_url))


def process_inbox_job() -> int:
    """RQ job: clear the drain flag, then process every pending inbox event."""
    from rq import get_current_job

    from medlabel.db import make_engine, make_sessionmaker
    from medlabel.settings import get_settings

    job = get_current_job()
    if job is not None:
        job.connection.delete(DRAIN_FLAG)
    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        return process_pending(make_sessionmaker(engine), sync_context(settings))
    finally:
        engine.dispose()


__all__ = ["LsAction", "Receipt", "dispatch", "process_event", "process_pending", "receive", "sync_context"]
