"""One ingest run: sources → plugins → de-identified tasks in Label Studio, with a manifest and a quarantine.

Nothing half-written stays behind: plugins write into a private staging folder; a batch's media moves to the
served folder only just before its tasks are imported, and if the import or the bookkeeping fails the tasks
are deleted and the moved files removed again. A file a plugin refuses is copied to the quarantine folder
with its reason; the batch goes on. In a project with PHI review on, the drafts `medlabel.phi.policy` picks
are held (media in a private folder, task in the DB) instead of imported, until a reviewer releases them.
Logs and Label Studio only ever see keyed hashes of sources, never their names (hospital file names carry
patient names).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import logging
import os
import secrets
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from label_studio_sdk import LabelStudio
from sqlalchemy import select
from sqlalchemy.orm import Session

from medlabel.errors import LabelStudioError
from medlabel.ingest.sources import Refused, private_dir, remove_scratch, walk
from medlabel.ingest.spans import label_lookup, span_prediction
from medlabel.ingest.target import ProjectTarget, project_target
from medlabel.ls_client import call
from medlabel.models import HeldItem, IngestedItem, IngestKey, ProjectRecord
from medlabel.phi.operations import hold, source_record
from medlabel.phi.policy import hold_reasons
from medlabel.projects import local_files_url
from medlabel.settings import Settings
from plugins.ingest import load_plugins
from plugins.ingest.base import IngestContext, IngestOptions, Plugin, Quarantine, SourceFile, TaskDraft

logger = logging.getLogger(__name__)

STORAGE_TITLE = "medlabel ingest"
#: Detail of a source whose bytes another source of the same run already had.
SAME_BYTES = "same content earlier in this run"
#: The summary's buckets, best first: a source whose parts landed in several (a CSV of notes) counts in the best.
BUCKETS = ("task", "held", "duplicate", "quarantined")


@dataclass(frozen=True)
class Entry:
    """One line of the manifest: what became of one source."""

    source: str
    source_key: str
    outcome: str  # "task", "held" (for PHI review), "duplicate", "quarantined", "failed"
    task_id: int | None = None
    reason: str | None = None
    detail: str | None = None


@dataclass
class IngestResult:
    project_id: int
    run_id: str
    sources: int = 0
    task_ids: list[int] = field(default_factory=list)
    #: ls task id -> content key, for routing (same content never goes to the same physician twice).
    content_keys: dict[int, str] = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)
    manifest: Path | None = None
    #: Drafts held for PHI review (not in Label Studio until released).
    held: int = 0

    @property
    def ingested(self) -> int:
        return len(self.task_ids)

    def count(self, outcome: str) -> int:
        return sum(1 for e in self.entries if e.outcome == outcome)

    @property
    def duplicates(self) -> int:
        return len({e.source_key for e in self.entries if e.outcome == "duplicate"})

    @property
    def quarantined(self) -> list[Entry]:
        return [e for e in self.entries if e.outcome in ("quarantined", "failed")]

    def reasons(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for entry in self.quarantined:
            counts[entry.reason or "unknown"] = counts.get(entry.reason or "unknown", 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def buckets(self) -> dict[str, int]:
        """Sources per bucket (`BUCKETS`): every source in exactly one, so they add up to `sources`."""
        best: dict[str, str] = {}
        counts = dict.fromkeys(BUCKETS, 0)
        for entry in self.entries:
            if entry.detail == SAME_BYTES:  # a second copy: its own source, its key is the first copy's
                counts["duplicate"] += 1
                continue
            bucket = entry.outcome if entry.outcome in BUCKETS else "quarantined"  # "failed" too
            current = best.get(entry.source_key)
            if current is None or BUCKETS.index(bucket) < BUCKETS.index(current):
                best[entry.source_key] = bucket
        for bucket in best.values():
            counts[bucket] += 1
        return counts

    def exit_code(self, strict: bool) -> int:
        """Non-zero only when nothing could be ingested (duplicates and held drafts count as in), or on --strict."""
        if self.ingested + self.held + self.duplicates == 0 and self.sources:
            return 1
        return 1 if strict and self.quarantined else 0


def project_secret(session: Session, project_id: int) -> bytes:
    """The project's pseudonymisation key, created on first use and never changed afterwards."""
    row = session.get(IngestKey, project_id)
    if row is None:
        row = IngestKey(ls_project_id=project_id, secret=secrets.token_bytes(32))
        session.add(row)
        session.commit()
    return bytes(row.secret)


def ingest_folder(settings: Settings, project_id: int) -> Path:
    """The served folder of a project's ingested media (below LOCAL_FILES_DOCUMENT_ROOT)."""
    return settings.media_root / "ingest" / f"p{project_id}"


class IngestRun:
    """Runs once; holds the state that keeps a run all-or-nothing per batch."""

    def __init__(
        self,
        client: LabelStudio,
        settings: Settings,
        session: Session,
        project_id: int,
        options: IngestOptions | None = None,
        batch_size: int = 200,
        on_progress: Callable[[int], None] | None = None,
        source_institution: str | None = None,
    ) -> None:
        self.client = client
        #: Where the data came from; recorded with each item for routing's conflict-of-interest rule.
        self.source_institution = source_institution
        self.settings = settings
        self.session = session
        self.project_id = project_id
        self.batch_size = batch_size
        self.on_progress = on_progress or (lambda _n: None)
        self.run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
        self.result = IngestResult(project_id=project_id, run_id=self.run_id)
        project = call("read project", lambda: client.projects.get(id=project_id))
        self.target: ProjectTarget = project_target(project.label_config or "")
        record = session.scalar(select(ProjectRecord).where(ProjectRecord.ls_project_id == project_id))
        codes = (record.label_codes if record else {}).get(self.target.span_control or "", {})
        #: PHI review: the project's settings and how the source has fared so far (None: review is off).
        self.review = record if record is not None and record.phi_review else None
        self.review_source = source_record(session, project_id, source_institution) if self.review else None
        self.span_labels = label_lookup(self.target, codes)
        self.options = dataclasses.replace(
            options or IngestOptions(),
            data_key=self.target.data_key,
            series_mode="series" if self.target.takes_list else "frame",
        )
        self.secret = project_secret(session, project_id)
        self.final_dir = ingest_folder(settings, project_id)
        work = settings.state_dir / "ingest" / "work" / self.run_id
        self.staging = private_dir(work / "staging")
        self.scratch = work / "scratch"
        self.quarantine_dir = settings.state_dir / "ingest" / "quarantine" / f"p{project_id}"
        #: Content already in the project before this run, and content this run has taken.
        self.known = set(
            session.scalars(select(IngestedItem.content_key).where(IngestedItem.ls_project_id == project_id))
        )
        #: Content held or rejected in PHI review: never imported by a run (release imports it, or nothing).
        self.in_review = set(
            session.scalars(select(HeldItem.content_key).where(HeldItem.ls_project_id == project_id))
        )
        self.accepted: set[str] = set()
        self.names: dict[str, SourceFile] = {}
        self.done: set[str] = set()
        self.pending: list[tuple[TaskDraft, str]] = []

    # ------------------------------------------------------------------ the run

    def run(self, paths: Iterable[Path]) -> IngestResult:
        try:
            self._ensure_storage()
            buckets = self._classify(list(paths))
            context = IngestContext(
                project_id=self.project_id,
                project_secret=self.secret,
                media_dir=self.staging,
                media_url=self._media_url,
                options=self.options,
            )
            for plugin, files in buckets:
                self._convert(plugin, files, context)
            self._flush()
            for key, source in self.names.items():
                if key not in self.done:
                    self._record(
                        Entry(
                            source.display_name,
                            key,
                            "failed",
                            reason="no_output",
                            detail="the plugin produced neither a task nor a reason",
                        )
                    )
        finally:
            remove_scratch(self.staging.parent)
        self.result.manifest = self._write_manifest()
        logger.info(
            "ingest %s into project %s: %s sources, %s tasks, %s duplicates, %s quarantined",
            self.run_id,
            self.project_id,
            self.result.sources,
            self.result.ingested,
            self.result.duplicates,
            len(self.result.quarantined),
        )
        return self.result

    def _classify(self, paths: list[Path]) -> list[tuple[Plugin, list[SourceFile]]]:
        """Give each source to the first plugin that claims it; refuse what no plugin or the project takes."""
        plugins = load_plugins()
        buckets: dict[str, list[SourceFile]] = {p.name: [] for p in plugins}
        for item in walk(paths, self.scratch):
            self.result.sources += 1
            if isinstance(item, Refused):
                key = _key_of_name(self.secret, item.display_name)
                self.names[key] = SourceFile(item.display_name, lambda: b"", 0, item.path)
                self._quarantine(Quarantine(key, item.reason, item.detail))
                continue
            key = _key_of(self.secret, item)
            if key in self.names:  # the same bytes twice in one run (e.g. a folder and its zip)
                self._record(Entry(item.display_name, key, "duplicate", detail=SAME_BYTES))
                continue
            self.names[key] = item
            if item.size == 0:
                self._quarantine(Quarantine(key, "empty_file", "the file is empty"))
                continue
            claimer = _claimer(plugins, item)
            if claimer is None:
                self._quarantine(Quarantine(key, "unsupported_format", "no plugin recognises this file"))
            elif claimer.name not in self.target.plugins:
                self._quarantine(
                    Quarantine(
                        key,
                        "wrong_data_type",
                        f"a {claimer.name} file cannot feed this project's {self.target.object_tag} object",
                    )
                )
            else:
                buckets[claimer.name].append(item)
        return [(p, buckets[p.name]) for p in plugins if buckets[p.name]]

    def _convert(self, plugin: Plugin, files: list[SourceFile], context: IngestContext) -> None:
        try:
            for outcome in plugin.convert(files, context):
                if isinstance(outcome, Quarantine):
                    self._quarantine(outcome)
                else:
                    self._accept(outcome, plugin.name)
        except Exception as exc:  # a plugin bug must not stop the other plugins or lose the batch so far
            logger.exception("plugin %s failed", plugin.name)
            handed = {id(source) for source in files}
            for key in [k for k, source in self.names.items() if id(source) in handed]:
                if key not in self.done:
                    self._quarantine(
                        Quarantine(key, "plugin_error", f"{plugin.name} plugin failed: {type(exc).__name__}")
                    )

    def _accept(self, draft: TaskDraft, plugin: str) -> None:
        if (
            draft.content_key in self.known
            or draft.content_key in self.in_review
            or draft.content_key in self.accepted
        ):
            if draft.content_key in self.known:
                detail = "already a task in this project"
            elif draft.content_key in self.in_review:
                detail = "held or rejected in PHI review"
            else:
                detail = "same de-identified content as another source of this run"
            for key in draft.source_keys:
                self._record(Entry(self._name(key), key, "duplicate", detail=detail))
            return
        self.accepted.add(draft.content_key)
        self.pending.append((draft, plugin))
        if len(self.pending) >= self.batch_size:
            self._flush()

    # ------------------------------------------------------------------ all or nothing per batch

    def _flush(self) -> None:
        batch, self.pending = self.pending, []
        if not batch:
            return
        held, batch = self._split(batch)
        moved: list[Path] = []
        task_ids: list[int] = []
        # End the read transaction before calling Label Studio: the import makes it post TASKS_CREATED to the
        # platform, whose routing writes to this DB; on SQLite our open read lock would make one of the two
        # writers fail at once ("database is locked") instead of waiting its turn.
        self.session.commit()
        try:
            for draft, plugin, reasons in held:
                moved.extend(
                    hold(
                        self.session,
                        self.settings,
                        project_id=self.project_id,
                        draft=draft,
                        task=self._task(draft),
                        plugin=plugin,
                        run_id=self.run_id,
                        source_institution=self.source_institution,
                        staging=self.staging,
                        reasons=reasons,
                    )
                )
            for draft, _plugin in batch:
                moved.extend(self._publish(draft.media))
            if batch:
                response = call(
                    "import tasks",
                    lambda: self.client.projects.import_tasks(
                        id=self.project_id, request=[self._task(d) for d, _ in batch], return_task_ids=True
                    ),
                )
                task_ids = list((response.model_extra or {}).get("task_ids") or [])
            if len(task_ids) != len(batch):
                raise LabelStudioError(f"Label Studio created {len(task_ids)} tasks for {len(batch)} drafts")
            for (draft, plugin), task_id in zip(batch, task_ids, strict=True):
                self.session.add(
                    IngestedItem(
                        ls_project_id=self.project_id,
                        content_key=draft.content_key,
                        ls_task_id=task_id,
                        source_institution=self.source_institution,
                        plugin=plugin,
                        run_id=self.run_id,
                    )
                )
            self.session.commit()
        except Exception as exc:
            self.session.rollback()
            self._undo(task_ids, moved)
            for draft, *_ in [*held, *batch]:
                self.accepted.discard(draft.content_key)
                for key in draft.source_keys:
                    self._record(
                        Entry(self._name(key), key, "failed", reason="import_failed", detail=str(exc)[:300])
                    )
            logger.error("import of %s tasks failed and was undone: %s", len(batch) + len(held), exc)
            return
        for (draft, _plugin), task_id in zip(batch, task_ids, strict=True):
            self.result.task_ids.append(task_id)
            self.result.content_keys[task_id] = draft.content_key
            for key in draft.source_keys:
                self._record(Entry(self._name(key), key, "task", task_id=task_id))
        self.result.held += len(held)
        for draft, _plugin, reasons in held:
            for key in draft.source_keys:
                self._record(Entry(self._name(key), key, "held", detail=", ".join(reasons)))

    def _split(
        self, batch: list[tuple[TaskDraft, str]]
    ) -> tuple[list[tuple[TaskDraft, str, list[str]]], list[tuple[TaskDraft, str]]]:
        """The drafts PHI review holds back (with why) and the ones imported now."""
        if self.review is None or self.review_source is None:
            return [], batch
        held, passed = [], []
        for draft, plugin in batch:
            reasons = hold_reasons(
                draft.content_key,
                draft.review_reasons,
                self.review_source,
                self.review.phi_review_proven_after,
                self.review.phi_review_share,
            )
            if reasons:
                held.append((draft, plugin, reasons))
            else:
                passed.append((draft, plugin))
        return held, passed

    def _task(self, draft: TaskDraft) -> dict[str, Any]:
        """The task to import: its data, and the spans that came with it as a prediction to confirm."""
        task: dict[str, Any] = {"data": draft.data}
        prediction, left_out = span_prediction(draft.facts.get("spans") or [], self.target, self.span_labels)
        if prediction is not None:
            task["predictions"] = [prediction]
        if left_out:
            logger.info("%s spans of a task have labels this project does not have", left_out)
        return task

    def _publish(self, media: list[Path]) -> list[Path]:
        """Move staged media to the served folder; returns the files this call created."""
        created = []
        for path in media:
            destination = self.final_dir / path.relative_to(self.staging)
            if destination.exists():  # content-addressed names: same name, same bytes
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, destination)
            created.append(destination)
        return created

    def _undo(self, task_ids: list[int], moved: list[Path]) -> None:
        for task_id in task_ids:
            try:
                call("delete half-imported task", lambda t=task_id: self.client.tasks.delete(id=t))
            except LabelStudioError:
                logger.exception("could not delete half-imported task %s", task_id)
        for path in moved:
            path.unlink(missing_ok=True)

    # ------------------------------------------------------------------ bookkeeping

    def _quarantine(self, refusal: Quarantine) -> None:
        """Keep a copy of the refused source beside its reason, for the operator to inspect or resubmit."""
        source = self.names.get(refusal.source_key)
        folder = private_dir(self.quarantine_dir / refusal.reason)
        if source is not None and source.path is not None and source.path.exists():
            shutil.copyfile(source.path, folder / refusal.source_key)
        (folder / f"{refusal.source_key}.json").write_text(
            json.dumps(
                {
                    "reason": refusal.reason,
                    "detail": refusal.detail,
                    "source": self._name(refusal.source_key),
                    "run_id": self.run_id,
                },
                indent=1,
            )
        )
        logger.warning("quarantined source %s: %s (%s)", refusal.source_key, refusal.reason, refusal.detail)
        self._record(
            Entry(
                self._name(refusal.source_key),
                refusal.source_key,
                "quarantined",
                reason=refusal.reason,
                detail=refusal.detail,
            )
        )

    def _record(self, entry: Entry) -> None:
        self.result.entries.append(entry)
        if entry.source_key not in self.done:
            self.done.add(entry.source_key)
            self.on_progress(1)

    def _name(self, key: str) -> str:
        source = self.names.get(key)
        return source.display_name if source else key

    def _media_url(self, path: Path) -> str:
        relative = (self.final_dir / path.relative_to(self.staging)).relative_to(self.settings.media_root)
        return local_files_url(relative.as_posix())

    def _ensure_storage(self) -> None:
        ensure_ingest_storage(self.client, self.settings, self.project_id)

    def _write_manifest(self) -> Path:
        """The run's manifest, beside the quarantine: an ingest-side record (it names the operator's files)."""
        folder = private_dir(self.settings.state_dir / "ingest" / "manifests")
        path = folder / f"p{self.project_id}-{self.run_id}.json"
        document: dict[str, Any] = {
            "project": self.project_id,
            "run_id": self.run_id,
            "finished_at": datetime.now(UTC).isoformat(),
            "options": dataclasses.asdict(self.options),
            "summary": {
                "sources": self.result.sources,
                "tasks": self.result.ingested,
                "held_for_phi_review": self.result.held,
                "duplicates": self.result.duplicates,
                "quarantined": len(self.result.quarantined),
                "reasons": self.result.reasons(),
            },
            "entries": [dataclasses.asdict(e) for e in self.result.entries],
        }
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(document, indent=1, ensure_ascii=False))
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
        return path


def ensure_ingest_storage(client: LabelStudio, settings: Settings, project_id: int) -> None:
    """A Local Files storage rooted at the project's ingest folder, so Label Studio serves its media."""
    final_dir = ingest_folder(settings, project_id)
    final_dir.mkdir(parents=True, exist_ok=True)
    storages = call("list storages", lambda: client.import_storage.local.list(project=project_id))
    if not any(Path(s.path or "") == final_dir for s in storages):
        call(
            "attach ingest media storage",
            lambda: client.import_storage.local.create(
                project=project_id, path=str(final_dir), title=STORAGE_TITLE, use_blob_urls=True
            ),
        )


def _claimer(plugins: list[Plugin], source: SourceFile) -> Plugin | None:
    for plugin in plugins:
        try:
            if plugin.claims(source):
                return plugin
        except Exception:  # sniffing a hostile file must not stop the run; the next plugin may know it
            logger.debug("plugin %s could not sniff a source", plugin.name, exc_info=True)
    return None


def _key_of(secret: bytes, source: SourceFile) -> str:
    """plugins.ingest.base.source_key, streamed from disk so a large file is not read into memory twice."""
    mac = hmac.new(secret, digestmod=hashlib.sha256)
    if source.path is not None:
        with source.path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                mac.update(chunk)
    else:
        mac.update(source.read_bytes())
    return mac.hexdigest()[:24]


def _key_of_name(secret: bytes, name: str) -> str:
    return hmac.new(secret, b"name\x00" + name.encode(), hashlib.sha256).hexdigest()[:24]
