"""The quality report of a project: agreement per label, physician accuracy with intervals, pair agreement.

`gather` reads the DB into plain rows; `write_report` writes report.html (plots as inline SVG drawn by
matplotlib, no script, no CDN) and one CSV per table, so the HTML opens from disk anywhere.
"""

from __future__ import annotations

import csv
import html
import io
import itertools
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from medlabel.models import Adjudication, GoldScore, Physician, QualityResult, ReaderEstimate, ReadOutcome
from medlabel.models.quality import ResultStatus
from medlabel.quality import agreement
from medlabel.quality.agreement import cohen_kappa_pairs
from medlabel.quality.queries import CountedRead, counted_reads
from medlabel.quality.scoring import NO_ANSWER, choice_label, posterior
from medlabel.routing.policy import project_by_ls_id

if TYPE_CHECKING:
    from matplotlib.axes import Axes

#: Fewer shared tasks than this and a pair's kappa is not shown.
MIN_SHARED_TASKS = 2


@dataclass(frozen=True)
class LabelRow:
    control: str
    label: str
    tasks: int
    mean_agreement: float


@dataclass(frozen=True)
class PhysicianRow:
    physician_id: int
    name: str
    tier: str
    reads: int
    agrees_with_final: int
    overturned: int
    gold_correct: int
    gold_total: int
    accuracy: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class PairRow:
    control: str
    first: int
    second: int
    shared_tasks: int
    percent_agreement: float
    #: Cohen's kappa; None when it is undefined (both gave one and the same label throughout).
    kappa: float | None


@dataclass(frozen=True)
class ConfusionRow:
    """How often a physician gave `given` where the final answer (consensus or reviewer) was `final`."""

    physician_id: int
    control: str
    final: str
    given: str
    reads: int


@dataclass
class QualityReport:
    ls_project_id: int
    title: str
    status_counts: dict[str, int] = field(default_factory=dict)
    labels: list[LabelRow] = field(default_factory=list)
    physicians: list[PhysicianRow] = field(default_factory=list)
    pairs: list[PairRow] = field(default_factory=list)
    confusion: list[ConfusionRow] = field(default_factory=list)
    adjudications: list[tuple[int, str, str, str | None]] = field(default_factory=list)


def gather(session: Session, ls_project_id: int) -> QualityReport:
    project = project_by_ls_id(session, ls_project_id)
    report = QualityReport(ls_project_id, project.title)
    rows = session.scalars(select(QualityResult).where(QualityResult.ls_project_id == ls_project_id)).all()
    by_label: dict[tuple[str, str], list[float]] = defaultdict(list)
    choice_controls = set()
    for row in rows:
        report.status_counts[f"{row.control} {row.status}"] = (
            report.status_counts.get(f"{row.control} {row.status}", 0) + 1
        )
        if row.items and any(i.get("type") == "choices" for i in row.items):
            choice_controls.add(row.control)
            if row.agreement is not None:
                by_label[(row.control, choice_label(row.items))].append(row.agreement)
    report.labels = [
        LabelRow(control, label, len(values), sum(values) / len(values))
        for (control, label), values in sorted(by_label.items())
    ]
    report.physicians = _physicians(session, ls_project_id)
    reads = counted_reads(session, ls_project_id, None)
    report.pairs = _pairs(reads, sorted(choice_controls))
    report.confusion = _confusion(reads, [r for r in rows if r.control in choice_controls and r.items])
    report.adjudications = [
        (a.ls_task_id, a.status, a.trigger, a.reason)
        for a in session.scalars(
            select(Adjudication)
            .where(Adjudication.ls_project_id == ls_project_id)
            .order_by(Adjudication.ls_task_id)
        )
    ]
    return report


def _physicians(session: Session, ls_project_id: int) -> list[PhysicianRow]:
    outcomes: dict[int, list[ReadOutcome]] = defaultdict(list)
    for outcome in session.scalars(
        select(ReadOutcome)
        .join(
            QualityResult,
            (QualityResult.ls_task_id == ReadOutcome.ls_task_id)
            & (QualityResult.control == ReadOutcome.control),
        )
        .where(QualityResult.ls_project_id == ls_project_id)
    ):
        if outcome.physician_id is not None:
            outcomes[outcome.physician_id].append(outcome)
    gold: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for score in session.scalars(select(GoldScore)):
        gold[score.physician_id][0] += score.correct
        gold[score.physician_id][1] += score.total
    model: dict[int, list[float]] = defaultdict(list)
    for estimate in session.scalars(select(ReaderEstimate)):
        model[estimate.physician_id].append(estimate.quality)
    rows = []
    for pid in sorted(
        set(outcomes)
        | {
            s.physician_id
            for s in session.scalars(select(GoldScore).where(GoldScore.ls_project_id == ls_project_id))
        }
    ):
        physician = session.get(Physician, pid)
        if physician is None:
            continue
        correct, total = gold.get(pid, [0, 0])
        quality = sum(model[pid]) / len(model[pid]) if model.get(pid) else None
        estimate = posterior(correct, total, quality) if total or quality is not None else None
        mine = outcomes.get(pid, [])
        rows.append(
            PhysicianRow(
                pid,
                physician.name,
                physician.tier,
                len({o.ls_annotation_id for o in mine}),
                sum(1 for o in mine if o.agrees),
                sum(1 for o in mine if o.overturned),
                correct,
                total,
                physician.accuracy,
                estimate.low if estimate else None,
                estimate.high if estimate else None,
            )
        )
    return rows


def _given(read: CountedRead, control: str) -> str:
    return choice_label([i for i in read.result if isinstance(i, dict) and i.get("from_name") == control])


def _confusion(reads: dict[int, list[CountedRead]], results: list[QualityResult]) -> list[ConfusionRow]:
    """Each physician's choices against the final answer of the tasks they read (the reviewer's read aside)."""
    counts: dict[tuple[int, str, str, str], int] = defaultdict(int)
    for result in results:
        final = choice_label(result.items)
        for read in reads.get(result.ls_task_id, []):
            if read.annotation_id in result.annotation_ids:
                counts[(read.physician_id, result.control, final, _given(read, result.control))] += 1
    return [ConfusionRow(*key, n) for key, n in sorted(counts.items())]


def _pairs(reads: dict[int, list[CountedRead]], controls: list[str]) -> list[PairRow]:
    """Cohen's kappa per pair of physicians on the tasks both read, per choices control."""
    rows = []
    for control in controls:
        ratings: dict[int, dict[int, str]] = defaultdict(dict)  # task -> physician -> label
        for task_id, task_reads in reads.items():
            for r in task_reads:
                given = _given(r, control)
                if given != NO_ANSWER:
                    ratings[task_id][r.physician_id] = given
        kappas = cohen_kappa_pairs(ratings, min_items=MIN_SHARED_TASKS)
        for first, second in itertools.combinations(agreement.physicians(ratings), 2):
            shared = [t for t, by in ratings.items() if first in by and second in by]
            if len(shared) < MIN_SHARED_TASKS:
                continue
            agree = sum(ratings[t][first] == ratings[t][second] for t in shared) / len(shared)
            rows.append(PairRow(control, first, second, len(shared), agree, kappas.get((first, second))))
    return rows


# ------------------------------------------------------------------ output


def write_report(report: QualityReport, out_dir: Path) -> list[Path]:
    """report.html plus labels.csv, physicians.csv, pairs.csv and confusion.csv in `out_dir`; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, rows, cls in (
        ("labels.csv", report.labels, LabelRow),
        ("physicians.csv", report.physicians, PhysicianRow),
        ("pairs.csv", report.pairs, PairRow),
        ("confusion.csv", report.confusion, ConfusionRow),
    ):
        path = out_dir / name
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(cls.__dataclass_fields__))
            writer.writeheader()
            writer.writerows(asdict(r) for r in rows)
        written.append(path)
    page = out_dir / "report.html"
    page.write_text(render_html(report), encoding="utf-8")
    return [page, *written]


def render_html(report: QualityReport) -> str:
    e = html.escape
    statuses = "".join(
        f"<tr><td>{e(k)}</td><td>{v}</td></tr>" for k, v in sorted(report.status_counts.items())
    )
    adjudications = "".join(
        f"<tr><td>{t}</td><td>{e(s)}</td><td>{e(trigger)}</td><td>{e(reason or '')}</td></tr>"
        for t, s, trigger, reason in report.adjudications
    )
    physicians = "".join(
        f"<tr><td>{p.physician_id}</td><td>{e(p.name)}</td><td>{e(p.tier)}</td><td>{p.reads}</td>"
        f"<td>{p.agrees_with_final}</td><td>{p.overturned}</td><td>{p.gold_correct}/{p.gold_total}</td>"
        f"<td>{_num(p.accuracy)}</td><td>{_interval(p.low, p.high)}</td></tr>"
        for p in report.physicians
    )
    confusion = "".join(
        f"<tr><td>{c.physician_id}</td><td>{e(c.control)}</td><td>{e(c.final)}</td><td>{e(c.given)}</td>"
        f"<td>{c.reads}</td></tr>"
        for c in report.confusion
        if c.final != c.given
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Quality: {e(report.title)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 8px;text-align:left}}svg{{max-width:100%;height:auto}}</style></head>
<body><h1>Quality report: {e(report.title)} (Label Studio project {report.ls_project_id})</h1>
<h2>Results</h2><table><tr><th>control status</th><th>tasks</th></tr>{statuses}</table>
<h2>Agreement per label</h2>{_agreement_plot(report)}
<h2>Physician accuracy (posterior mean, 95 % interval)</h2>{_accuracy_plot(report)}
<table><tr><th>id</th><th>name</th><th>tier</th><th>reads</th><th>agree with final</th><th>overturned</th>
<th>gold right</th><th>accuracy</th><th>95 % interval</th></tr>{physicians}</table>
<h2>Where physicians differ from the final answer (confusion against consensus)</h2>
<table><tr><th>physician</th><th>control</th><th>final</th><th>given</th><th>reads</th></tr>{confusion}</table>
<h2>Pair agreement (Cohen's kappa)</h2>{_pairs_plot(report)}
<h2>Adjudications</h2><table><tr><th>task</th><th>status</th><th>why</th><th>reviewer's reason</th></tr>
{adjudications}</table>
<p>{ResultStatus.INCOMPLETE.value}: fewer than k reads. CSV files beside this page hold every table.</p>
</body></html>
"""


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _interval(low: float | None, high: float | None) -> str:
    return "–" if low is None or high is None else f"{low:.2f}–{high:.2f}"


def _svg(draw: Callable[[Axes], None]) -> str:
    """Run `draw(ax)` on a new figure and return it as inline SVG (no date or random ids: stable output)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matplotlib.rcParams["svg.hashsalt"] = "medlabel"
    figure, ax = plt.subplots(figsize=(8, 3.5))
    draw(ax)
    figure.tight_layout()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _agreement_plot(report: QualityReport) -> str:
    if not report.labels:
        return "<p>No consensus yet.</p>"

    def draw(ax: Axes) -> None:
        names = [f"{r.control}: {r.label} (n={r.tasks})" for r in report.labels]
        ax.barh(names, [r.mean_agreement for r in report.labels], color="#4878a8")
        ax.set_xlim(0, 1)
        ax.set_xlabel("mean agreement of the reads with the consensus")

    return _svg(draw)


def _accuracy_plot(report: QualityReport) -> str:
    shown = [
        p for p in report.physicians if p.accuracy is not None and p.low is not None and p.high is not None
    ]
    if not shown:
        return "<p>No physician measured yet (gold reads or a worker-quality model).</p>"

    def draw(ax: Axes) -> None:
        names = [f"#{p.physician_id} {p.name}" for p in shown]
        means = [p.accuracy or 0.0 for p in shown]
        errors = [
            [m - (p.low or 0.0) for m, p in zip(means, shown, strict=True)],
            [(p.high or 0.0) - m for m, p in zip(means, shown, strict=True)],
        ]
        ax.errorbar(means, names, xerr=errors, fmt="o", color="#4878a8", capsize=3)
        ax.set_xlim(0, 1)
        ax.set_xlabel("accuracy")

    return _svg(draw)


def _pairs_plot(report: QualityReport) -> str:
    pairs = [p for p in report.pairs if p.kappa is not None]
    if not pairs:
        return "<p>No pair of physicians shares enough tasks with varied labels yet.</p>"
    ids = sorted({p.first for p in pairs} | {p.second for p in pairs})
    index = {pid: i for i, pid in enumerate(ids)}
    matrix = [[float("nan")] * len(ids) for _ in ids]
    for p in pairs:  # several controls: the mean over them
        for a, b in ((p.first, p.second), (p.second, p.first)):
            old = matrix[index[a]][index[b]]
            matrix[index[a]][index[b]] = p.kappa if math.isnan(old) else (old + (p.kappa or 0.0)) / 2

    def draw(ax: Axes) -> None:
        image = ax.imshow(matrix, vmin=-1, vmax=1, cmap="RdBu")
        ax.set_xticks(range(len(ids)), [f"#{i}" for i in ids])
        ax.set_yticks(range(len(ids)), [f"#{i}" for i in ids])
        ax.get_figure().colorbar(image, ax=ax, label="Cohen's kappa")  # type: ignore[union-attr]

    return _svg(draw)
