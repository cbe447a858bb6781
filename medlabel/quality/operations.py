"""Quality's write flows, one function each, whoever triggers them (CLI, sync's handlers, the demo).

- `run_consensus`: consensus per task × control over the sync mirror, for a whole project (`medlabel
  consensus`) or for the tasks an annotation event touched (sync, `reads_changed`); routes low-agreement
  tasks to a reviewer and records the reviewer's decision as final;
- `note_reason`: a manager's note of why a reviewer decided (`medlabel quality adjudicate`);
- `import_gold` / `promote_gold`: reference answers from a file or an adjudicated task;
- `score_physicians`: gold reads (and the worker-quality model) into `Physician.accuracy`, which routing reads.

Only reads that count are used: not deleted, not skipped, not quarantined, by a pool physician (the sync
layer quarantines anyone the task was not routed to). Rows are keyed task × control and rewritten only when
what they say changes, so a rerun is a no-op.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from label_studio_sdk import LabelStudio
from label_studio_sdk.label_interface import LabelInterface
from sqlalchemy import select
from sqlalchemy.orm import Session

from medlabel.errors import QualityError
from medlabel.ls_client import call, make_client
from medlabel.models import (
    Adjudication,
    GoldScore,
    GoldStandard,
    Physician,
    ProjectRecord,
    QualityConfig,
    QualityResult,
    ReaderEstimate,
    ReadOutcome,
    RoutedTask,
    RoutingPolicy,
)
from medlabel.models.quality import AdjudicationStatus, ResultStatus
from medlabel.quality.queries import CountedRead, counted_reads
from medlabel.quality.scoring import choice_label, confusion, per_label, posterior, same_answer
from medlabel.routing.operations import mark_gold_tasks, route_review
from medlabel.routing.policy import agreement_threshold, project_by_ls_id
from medlabel.settings import Settings
from plugins.consensus import Consensus, Control, aggregator_for
from plugins.consensus.controls import controls_of, reads_for
from plugins.consensus.per_region import per_region

logger = logging.getLogger(__name__)
ClientFactory = Callable[[], LabelStudio]
#: Reasons a reviewer writes go in the config's first TextArea; without one, `quality adjudicate --reason`.
REASON_TAG = "TextArea"


@lru_cache(maxsize=64)
def _controls_of(label_config: str) -> tuple[Control, ...]:
    """The config's controls (parsing takes ~0.1 s: cached per config text)."""
    return tuple(controls_of(label_config))


def _region_control(
    controls: Sequence[Control], control: Control, results: Mapping[int, Mapping[str, Consensus | None]]
) -> str | None:
    """The region control a per-region control describes: the one on the same object whose consensus has
    regions (None when no task has such a consensus yet)."""
    for candidate in controls:
        if candidate is control or not set(candidate.to_name) & set(control.to_name):
            continue
        if any((found := r.get(candidate.name)) is not None and found.regions for r in results.values()):
            return candidate.name
    return None


@dataclass
class ConsensusReport:
    tasks: int = 0
    complete: int = 0
    incomplete: int = 0
    #: Rows written (new or changed); 0 on an unchanged rerun.
    changed: int = 0
    #: Tasks sent to a reviewer by this run.
    reviews: list[int] = field(default_factory=list)
    #: Tasks whose reviewer's decision this run recorded.
    decided: list[int] = field(default_factory=list)
    #: One line per control that has no aggregator (naming it).
    messages: list[str] = field(default_factory=list)


def run_consensus(
    session: Session,
    settings: Settings,
    ls_project_id: int,
    ls_task_ids: Iterable[int] | None = None,
    *,
    client: ClientFactory | None = None,
    refresh_config: bool | None = None,
    now: datetime | None = None,
) -> ConsensusReport:
    """Consensus for a project's tasks (all of them, or these), review where readers disagree; commits.

    A whole-project run refreshes the labeling config from Label Studio, lets worker-quality models learn
    every reader, and rescores physicians; a per-task run (sync) reuses the stored config and weighs readers
    by their stored accuracy, so it stays cheap.

    Args:
        refresh_config: read the config from Label Studio again (default: on whole-project runs).
    """
    now = now or datetime.now(UTC)
    client = client or (lambda: make_client(settings))
    project = project_by_ls_id(session, ls_project_id)
    whole = ls_task_ids is None
    refresh = whole if refresh_config is None else refresh_config
    controls = _controls_of(_label_config(session, project, client, refresh=refresh))
    k = project.reads
    gold = set(
        session.scalars(select(GoldStandard.ls_task_id).where(GoldStandard.ls_project_id == ls_project_id))
    )
    adjudications = {
        a.ls_task_id: a
        for a in session.scalars(select(Adjudication).where(Adjudication.ls_project_id == ls_project_id))
    }
    readings = counted_reads(session, ls_project_id, None if whole else list(ls_task_ids or ()))
    existing = {
        (r.ls_task_id, r.control): r
        for r in session.scalars(
            select(QualityResult).where(
                QualityResult.ls_project_id == ls_project_id,
                *([] if whole else [QualityResult.ls_task_id.in_(list(ls_task_ids or ()))]),
            )
        )
    }
    tasks = (set(readings) | {t for t, _ in existing} | (set() if whole else set(ls_task_ids or ()))) - gold
    of_project = select(QualityResult.ls_task_id).where(QualityResult.ls_project_id == ls_project_id)
    outcomes = {
        (o.ls_annotation_id, o.control): o
        for o in session.scalars(
            select(ReadOutcome).where(ReadOutcome.ls_task_id.in_(of_project if whole else list(tasks)))
        )
    }
    reviewer_reads: dict[int, CountedRead] = {}
    for task_id in tasks:
        adjudication = adjudications.get(task_id)
        if adjudication is not None and adjudication.reviewer_id is not None:
            mine = [r for r in readings.get(task_id, []) if r.physician_id == adjudication.reviewer_id]
            if mine:
                reviewer_reads[task_id] = mine[-1]
                readings[task_id] = [
                    r for r in readings[task_id] if r.physician_id != adjudication.reviewer_id
                ]
    complete = {t for t in tasks if len(readings.get(t, [])) >= k}
    report = ConsensusReport(tasks=len(tasks), complete=len(complete), incomplete=len(tasks - complete))
    weights = {
        pid: acc
        for pid, acc in session.execute(
            select(Physician.id, Physician.accuracy).where(
                Physician.id.in_({r.physician_id for rs in readings.values() for r in rs}),
                Physician.accuracy.is_not(None),
            )
        )
    }
    decided = _record_decisions(session, controls, adjudications, reviewer_reads, now)
    report.decided = sorted(decided)
    results: dict[int, dict[str, Consensus | None]] = defaultdict(dict)
    estimates: dict[int, tuple[str, float]] = {}
    # per-region controls (perRegion="true") describe the consensus regions of their region control: last
    for control in sorted(controls, key=lambda c: c.attrs.get("perregion") == "true"):
        if control.attrs.get("perregion") == "true":
            region_control = _region_control(controls, control, results)
            if region_control is not None:
                regions = {
                    t: found
                    for t in sorted(complete)
                    if (found := results[t].get(region_control)) is not None
                }
                by_task = {
                    t: reads_for(control, [(r.annotation_id, r.physician_id, r.result) for r in readings[t]])
                    for t in regions
                }
                for task_id, consensus in per_region(control, regions, by_task, weights=weights).items():
                    results[task_id][control.name] = consensus
            continue  # without agreed regions, there is nothing for a per-region answer to describe yet
        aggregator = aggregator_for(control)
        if aggregator is None:
            report.messages.append(
                f"{control.tag} '{control.name}': no aggregator for this control type; its reads are kept, "
                "no consensus is claimed"
            )
            for task_id in complete:
                results[task_id][control.name] = None
            continue
        by_task = {
            t: reads_for(control, [(r.annotation_id, r.physician_id, r.result) for r in readings[t]])
            for t in sorted(complete)
        }
        for task_id, consensus in aggregator.aggregate(control, by_task, weights=weights).items():
            results[task_id][control.name] = consensus
        if whole:
            for pid, quality in aggregator.reader_quality().items():
                estimates[pid] = (aggregator.method, quality)
    for message in report.messages:
        logger.warning("project %s: %s", ls_project_id, message)
    for task_id in sorted(tasks):
        for control in controls:
            row = _row(
                control,
                task_id,
                k,
                readings.get(task_id, []),
                results.get(task_id, {}),
                adjudications.get(task_id),
                reviewer_reads.get(task_id),
            )
            report.changed += _store(session, ls_project_id, task_id, control, row, existing, now)
            _store_outcomes(session, task_id, control, readings.get(task_id, []), row, outcomes)
    if whole:
        _store_estimates(session, ls_project_id, estimates, now)
    session.commit()
    threshold = agreement_threshold(session.get(RoutingPolicy, project.id))
    for task_id in sorted(complete):
        if task_id in adjudications and adjudications[task_id].status != AdjudicationStatus.NO_REVIEWER:
            continue
        trigger = _review_trigger(results.get(task_id, {}), threshold)
        if trigger is not None and _send_to_review(session, settings, client, project, task_id, trigger, now):
            report.reviews.append(task_id)
    if whole:
        score_physicians(session)
    logger.info(
        "project %s consensus: %d tasks (%d complete), %d rows changed, %d sent to review, %d decided",
        ls_project_id,
        report.tasks,
        report.complete,
        report.changed,
        len(report.reviews),
        len(report.decided),
    )
    return report


def reads_changed(
    session: Session, settings: Settings, ls_project_id: int, ls_task_ids: Iterable[int]
) -> ConsensusReport | None:
    """Sync's trigger after annotations of these tasks changed: consensus once a task has its k-th read (or
    already has results, e.g. a read was deleted or the reviewer answered); nothing for earlier reads."""
    ids = set(ls_task_ids)
    project = session.scalar(select(ProjectRecord).where(ProjectRecord.ls_project_id == ls_project_id))
    if project is None or not ids:
        return None
    readings = counted_reads(session, ls_project_id, list(ids))
    known = set(session.scalars(select(QualityResult.ls_task_id).where(QualityResult.ls_task_id.in_(ids))))
    due = {t for t in ids if len(readings.get(t, [])) >= project.reads or t in known}
    gold = set(session.scalars(select(GoldStandard.ls_task_id).where(GoldStandard.ls_task_id.in_(ids))))
    if gold:
        score_physicians(session, {r.physician_id for t in gold for r in readings.get(t, [])})
    if not due - gold:
        return None
    return run_consensus(session, settings, ls_project_id, sorted(due - gold))


def _label_config(session: Session, project: ProjectRecord, client: ClientFactory, refresh: bool) -> str:
    """The project's labeling config: stored copy, read from Label Studio on a whole-project run or first use."""
    row = session.get(QualityConfig, project.ls_project_id)
    if row is not None and not refresh:
        return row.label_config
    ls = client()
    config = str(call("read project", lambda: ls.projects.get(id=project.ls_project_id)).label_config)
    if row is None:
        session.add(QualityConfig(ls_project_id=project.ls_project_id, label_config=config))
    elif row.label_config != config:
        row.label_config, row.fetched_at = config, datetime.now(UTC)
    session.flush()
    return config


def _row(
    control: Control,
    task_id: int,
    k: int,
    readings: Sequence[CountedRead],
    results: Mapping[str, Consensus | None],
    adjudication: Adjudication | None,
    reviewer: CountedRead | None,
) -> dict[str, Any]:
    """What the result row of one task × control should say."""
    ids = [r.annotation_id for r in readings]
    row: dict[str, Any] = {
        "tag": control.tag,
        "items": None,
        "agreement": None,
        "method": None,
        "annotation_ids": ids,
        "per_reader": {},
        "message": None,
    }
    if len(readings) < k:
        return row | {"status": ResultStatus.INCOMPLETE.value, "message": f"{len(readings)} of {k} reads"}
    if control.name not in results and control.attrs.get("perregion") == "true":
        return row | {
            "status": ResultStatus.NO_CONSENSUS.value,
            "message": f"{control.tag} '{control.name}' describes regions, and no region was agreed",
        }
    if control.name not in results or results[control.name] is None:
        return row | {
            "status": ResultStatus.NO_AGGREGATOR.value,
            "message": f"no aggregator for {control.tag} '{control.name}'",
        }
    consensus = results[control.name]
    assert consensus is not None
    row.update(
        items=list(consensus.items) if consensus.items is not None else None,
        agreement=consensus.agreement,
        method=consensus.method,
        annotation_ids=list(consensus.annotation_ids) or ids,
        per_reader={str(pid): dict(m) for pid, m in consensus.per_reader.items()},
    )
    if consensus.items is not None:
        row["status"] = ResultStatus.CONSENSUS.value
    elif consensus.agreement is None:
        row["status"] = ResultStatus.READS_ONLY.value
    else:
        row["status"] = ResultStatus.NO_CONSENSUS.value
    if (
        adjudication is not None
        and adjudication.status == AdjudicationStatus.DECIDED
        and reviewer is not None
    ):
        if control.tag != REASON_TAG:
            row.update(
                status=ResultStatus.ADJUDICATED.value,
                items=[
                    i for i in reviewer.result if isinstance(i, dict) and i.get("from_name") == control.name
                ],
                method="adjudication",
            )
    return row


def _store(
    session: Session,
    ls_project_id: int,
    task_id: int,
    control: Control,
    row: Mapping[str, Any],
    existing: dict[tuple[int, str], QualityResult],
    now: datetime,
) -> int:
    """Insert or replace in place; 0 when the stored row already says this."""
    digest = hashlib.sha256(json.dumps(row, sort_keys=True, default=str).encode()).hexdigest()
    stored = existing.get((task_id, control.name))
    if stored is not None and stored.inputs_hash == digest:
        return 0
    if stored is None:
        stored = QualityResult(
            ls_project_id=ls_project_id, ls_task_id=task_id, control=control.name, version=0
        )
        session.add(stored)
        existing[(task_id, control.name)] = stored
    for name, value in row.items():
        setattr(stored, name, value)
    stored.inputs_hash, stored.version, stored.updated_at = digest, stored.version + 1, now
    return 1


def _store_outcomes(
    session: Session,
    task_id: int,
    control: Control,
    readings: Sequence[CountedRead],
    row: Mapping[str, Any],
    outcomes: dict[tuple[int, str], ReadOutcome],
) -> None:
    """Each read against the final answer; a read a reviewer's decision differs from is overturned."""
    if row["status"] in (ResultStatus.INCOMPLETE, ResultStatus.NO_AGGREGATOR, ResultStatus.READS_ONLY):
        return
    final = row["items"]
    for reading, read in zip(
        readings,
        reads_for(control, [(r.annotation_id, r.physician_id, r.result) for r in readings]),
        strict=True,
    ):
        agrees = None if final is None else same_answer(read.items, final)
        overturned = row["status"] == ResultStatus.ADJUDICATED and agrees is False
        outcome = outcomes.get((reading.annotation_id, control.name))
        if outcome is None:
            outcome = ReadOutcome(
                ls_annotation_id=reading.annotation_id,
                control=control.name,
                ls_task_id=task_id,
                physician_id=reading.physician_id,
                agrees=agrees,
                overturned=overturned,
            )
            session.add(outcome)
            outcomes[(reading.annotation_id, control.name)] = outcome
        elif (outcome.agrees, outcome.overturned) != (agrees, overturned):
            outcome.agrees, outcome.overturned = agrees, overturned


def _store_estimates(
    session: Session, ls_project_id: int, estimates: Mapping[int, tuple[str, float]], now: datetime
) -> None:
    for pid, (method, quality) in estimates.items():
        row = session.get(ReaderEstimate, (pid, ls_project_id))
        if row is None:
            session.add(
                ReaderEstimate(physician_id=pid, ls_project_id=ls_project_id, method=method, quality=quality)
            )
        elif (row.method, row.quality) != (method, quality):
            row.method, row.quality, row.updated_at = method, quality, now


def _review_trigger(results: Mapping[str, Consensus | None], threshold: float) -> str | None:
    """Why the task needs a reviewer (first control that disagrees), or None."""
    for name, consensus in sorted(results.items()):
        if consensus is None or consensus.agreement is None:
            continue
        if consensus.items is None:
            return f"{name}: no consensus (agreement {consensus.agreement:.2f})"
        if consensus.agreement < threshold:
            return f"{name}: agreement {consensus.agreement:.2f} < {threshold:.2f}"
    return None


def _send_to_review(
    session: Session,
    settings: Settings,
    client: ClientFactory,
    project: ProjectRecord,
    task_id: int,
    trigger: str,
    now: datetime,
) -> bool:
    """Routing's own operation picks the reviewer; the adjudication records who (or that nobody qualified),
    committed with the reviewer's assignment."""
    adjudication = session.get(Adjudication, task_id) or Adjudication(
        ls_task_id=task_id, ls_project_id=project.ls_project_id, created_at=now
    )

    def record(reviewer_id: int | None) -> None:
        adjudication.trigger = trigger[:255]
        adjudication.reviewer_id = reviewer_id
        adjudication.status = (
            AdjudicationStatus.ROUTED.value
            if reviewer_id is not None
            else AdjudicationStatus.NO_REVIEWER.value
        )
        session.add(adjudication)

    return (
        route_review(session, client, settings, project, task_id, trigger, now, record).reviewer_id
        is not None
    )


def _record_decisions(
    session: Session,
    controls: Sequence[Control],
    adjudications: Mapping[int, Adjudication],
    reviewer_reads: Mapping[int, CountedRead],
    now: datetime,
) -> set[int]:
    """A routed review whose reviewer has answered is decided; the reason is their TextArea text, if any."""
    decided = set()
    reason_controls = [c for c in controls if c.tag == REASON_TAG]
    for task_id, reading in reviewer_reads.items():
        adjudication = adjudications[task_id]
        if (
            adjudication.status == AdjudicationStatus.DECIDED
            and adjudication.ls_annotation_id == reading.annotation_id
        ):
            continue
        adjudication.status = AdjudicationStatus.DECIDED.value
        adjudication.ls_annotation_id = reading.annotation_id
        adjudication.decided_at = adjudication.decided_at or now
        text = _text(reading.result, reason_controls[0].name) if reason_controls else None
        if text:
            adjudication.reason = text
        decided.add(task_id)
    return decided


def _text(result: Sequence[Any], control: str) -> str | None:
    for item in result:
        if isinstance(item, dict) and item.get("from_name") == control:
            text = (item.get("value") or {}).get("text")
            if isinstance(text, list):
                text = "\n".join(str(t) for t in text)
            return (str(text).strip() or None) if text else None
    return None


def note_reason(session: Session, ls_task_id: int, reason: str) -> Adjudication:
    """Record why the reviewer decided, for configs without a TextArea (or to complete a terse one); commits."""
    adjudication = session.get(Adjudication, ls_task_id)
    if adjudication is None:
        raise QualityError(f"task {ls_task_id} was never sent to review")
    if not reason.strip():
        raise QualityError("the reason is empty")
    adjudication.reason = reason.strip()
    session.commit()
    return adjudication


# ------------------------------------------------------------------ gold standards


@dataclass
class GoldReport:
    kept: list[int] = field(default_factory=list)
    #: (task id, reason) for every refused entry.
    refused: list[tuple[int | str, str]] = field(default_factory=list)


def import_gold(
    session: Session,
    settings: Settings,
    ls_project_id: int,
    entries: Iterable[tuple[Any, Any]],
    *,
    client: ClientFactory | None = None,
) -> GoldReport:
    """Keep each (task id, result) that validates against the project's config (LabelInterface) and belongs
    to the project; refuse the rest with the task id and the reason. Gold tasks are marked for routing and
    physicians who already read them are rescored. Commits."""
    client = client or (lambda: make_client(settings))
    project = project_by_ls_id(session, ls_project_id)
    interface = LabelInterface(_label_config(session, project, client, refresh=True))
    tasks = set(session.scalars(select(RoutedTask.ls_task_id).where(RoutedTask.project_id == project.id)))
    report = GoldReport()
    for raw_id, result in entries:
        try:
            task_id = int(raw_id)
        except (TypeError, ValueError):
            report.refused.append((raw_id, "task id is not an integer"))
            continue
        if task_id not in tasks:
            report.refused.append((task_id, f"not a routed task of project {ls_project_id}"))
            continue
        if not isinstance(result, list) or not result:
            report.refused.append((task_id, "result must be a non-empty list of Label Studio result items"))
            continue
        errors = interface.validate_prediction({"result": result}, return_errors=True)
        if errors:
            report.refused.append((task_id, "; ".join(str(e) for e in errors)))
            continue
        _keep_gold(session, ls_project_id, task_id, result, "file", None)
        report.kept.append(task_id)
    mark_gold_tasks(session, project, report.kept)  # commits
    score_physicians(session, _readers_of(session, ls_project_id, report.kept))
    return report


def promote_gold(session: Session, ls_task_id: int) -> GoldStandard:
    """An adjudicated task becomes gold: the reviewer's decision (its reason text left out) is the answer."""
    adjudication = session.get(Adjudication, ls_task_id)
    if adjudication is None or adjudication.status != AdjudicationStatus.DECIDED:
        raise QualityError(
            f"task {ls_task_id} has no reviewer's decision to promote (see `medlabel consensus`)"
        )
    results = session.scalars(
        select(QualityResult).where(
            QualityResult.ls_task_id == ls_task_id, QualityResult.status == ResultStatus.ADJUDICATED.value
        )
    ).all()
    answer = [item for r in results for item in (r.items or [])]
    if not answer:
        raise QualityError(f"task {ls_task_id}: the reviewer's decision has no labeled answer")
    gold = _keep_gold(
        session, adjudication.ls_project_id, ls_task_id, answer, "adjudication", adjudication.ls_annotation_id
    )
    project = project_by_ls_id(session, adjudication.ls_project_id)
    mark_gold_tasks(session, project, [ls_task_id])  # commits
    score_physicians(session, _readers_of(session, adjudication.ls_project_id, [ls_task_id]))
    return gold


def _keep_gold(
    session: Session,
    ls_project_id: int,
    task_id: int,
    result: list[Any],
    source: str,
    annotation_id: int | None,
) -> GoldStandard:
    row = session.get(GoldStandard, task_id)
    if row is None:
        row = GoldStandard(ls_task_id=task_id, ls_project_id=ls_project_id)
        session.add(row)
    row.result, row.source, row.ls_annotation_id = result, source, annotation_id
    return row


def _readers_of(session: Session, ls_project_id: int, ls_task_ids: Sequence[int]) -> set[int]:
    return {
        r.physician_id for rs in counted_reads(session, ls_project_id, list(ls_task_ids)).values() for r in rs
    }


def score_physicians(session: Session, physician_ids: Iterable[int] | None = None) -> dict[int, float]:
    """Score physicians (all with gold reads or model estimates, or these) on their gold reads and store
    `Physician.accuracy` and `reads_count`, which routing's share weight reads. Commits; returns the accuracies.

    Choices controls of the gold answer are scored (one label per read; several ticks form one label);
    other controls are not scored yet.
    """
    wanted = set(physician_ids) if physician_ids is not None else None
    if wanted is not None and not wanted:
        return {}
    pairs: dict[tuple[int, int, str], list[tuple[str, str]]] = defaultdict(list)
    for gold in session.scalars(select(GoldStandard)):
        controls = {
            i.get("from_name") for i in gold.result if isinstance(i, dict) and i.get("type") == "choices"
        }
        for reading in counted_reads(session, gold.ls_project_id, [gold.ls_task_id]).get(gold.ls_task_id, []):
            if reading.annotation_id == gold.ls_annotation_id or (
                wanted is not None and reading.physician_id not in wanted
            ):
                continue
            for control in sorted(c for c in controls if c):
                reference = choice_label([i for i in gold.result if i.get("from_name") == control])
                given = choice_label(
                    [i for i in reading.result if isinstance(i, dict) and i.get("from_name") == control]
                )
                pairs[(reading.physician_id, gold.ls_project_id, control)].append((reference, given))
    scores = session.scalars(
        select(GoldScore).where(*([GoldScore.physician_id.in_(wanted)] if wanted is not None else []))
    )
    stored = {(s.physician_id, s.ls_project_id, s.control): s for s in scores}
    for key in set(stored) - set(pairs):
        session.delete(stored.pop(key))
    for key, compared in pairs.items():
        matrix = confusion(compared)
        correct = sum(1 for reference, given in compared if reference == given)
        row = stored.get(key) or GoldScore(physician_id=key[0], ls_project_id=key[1], control=key[2])
        row.confusion, row.per_label, row.correct, row.total = (
            matrix,
            per_label(matrix),
            correct,
            len(compared),
        )
        session.add(row)
    session.flush()
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for row in session.scalars(
        select(GoldScore).where(*([GoldScore.physician_id.in_(wanted)] if wanted is not None else []))
    ):
        totals[row.physician_id][0] += row.correct
        totals[row.physician_id][1] += row.total
    model: dict[int, list[float]] = defaultdict(list)
    for estimate in session.scalars(
        select(ReaderEstimate).where(
            *([ReaderEstimate.physician_id.in_(wanted)] if wanted is not None else [])
        )
    ):
        model[estimate.physician_id].append(estimate.quality)
    accuracies = {}
    for pid in wanted if wanted is not None else set(totals) | set(model):
        physician = session.get(Physician, pid)
        if physician is None:
            continue
        correct, total = totals.get(pid, [0, 0])
        quality = sum(model[pid]) / len(model[pid]) if model.get(pid) else None
        if total == 0 and quality is None:
            physician.accuracy, physician.reads_count = None, 0
            continue
        estimate = posterior(correct, total, quality)
        physician.accuracy, physician.reads_count = estimate.mean, estimate.reads
        accuracies[pid] = estimate.mean
    session.commit()
    return accuracies


__all__ = [
    "ConsensusReport",
    "GoldReport",
    "import_gold",
    "note_reason",
    "promote_gold",
    "reads_changed",
    "run_consensus",
    "score_physicians",
]
