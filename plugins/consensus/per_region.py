"""Per-region controls (perRegion="true", e.g. a fracture's AO bone, a nodule's diameter): consensus per
consensus region.

Such a control describes each drawn region, and Label Studio ties its result item to the region by the
region's `id`. Once the region control has its consensus, each consensus region's members are known
(`Consensus.regions`); their per-region answers are aggregated by the control's own task-level aggregator
as if each consensus region were a task (project-wide, so Dawid–Skene learns from every region), and the
result items take the consensus region's id and geometry, as Label Studio writes per-region results.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from plugins.consensus import aggregator_for
from plugins.consensus.base import INCOMPLETE, Consensus, Control, Read, ResultItem


def per_region(
    control: Control,
    regions: Mapping[int, Consensus],
    reads_by_task: Mapping[int, Sequence[Read]],
    *,
    weights: Mapping[int, float] | None = None,
) -> dict[int, Consensus]:
    """`regions`: the region control's consensus per task; `reads_by_task`: this control's reads.

    A task whose regions have no consensus (too few reads) has none here either; a consensus region no
    reader described gets no item (the reviewer fills it in).
    """
    task_level = replace(control, attrs={k: v for k, v in control.attrs.items() if k != "perregion"})
    aggregator = aggregator_for(task_level)
    if aggregator is None:
        raise ValueError(f"no aggregator for per-region {control.tag} {control.name!r}")
    keys: dict[int, tuple[int, str]] = {}
    sub_tasks: dict[int, list[Read]] = {}
    for task_id, reads in reads_by_task.items():
        for region_id, members in regions[task_id].regions.items():
            key = len(keys)
            keys[key] = (task_id, region_id)
            sub_tasks[key] = [
                Read(
                    read.annotation_id,
                    read.physician_id,
                    [i for i in read.items if str(i.get("id")) == member],
                )
                for read in reads
                for annotation_id, member in members
                if annotation_id == read.annotation_id
            ]
    results = aggregator.aggregate(task_level, sub_tasks, weights=weights)
    by_task: dict[int, list[tuple[str, Consensus]]] = {task_id: [] for task_id in reads_by_task}
    for key, consensus in results.items():
        task_id, region_id = keys[key]
        by_task[task_id].append((region_id, consensus))
    combined: dict[int, Consensus] = {}
    for task_id, reads in reads_by_task.items():
        region_consensus = regions[task_id]
        ids = tuple(sorted(read.annotation_id for read in reads))
        if region_consensus.items is None:
            combined[task_id] = Consensus(None, None, region_consensus.method, ids)
            continue
        geometry = {item["id"]: item for item in region_consensus.items}
        items = [
            _attach(item, geometry[region_id])
            for region_id, consensus in by_task[task_id]
            for item in consensus.items or ()
        ]
        scores = [c.agreement for _, c in by_task[task_id] if c.agreement is not None]
        # What the sub-results say they did (Dawid–Skene falls back to majority on a small project).
        used = next((c.method for _, c in by_task[task_id] if c.method != INCOMPLETE), aggregator.method)
        combined[task_id] = Consensus(
            items,
            float(np.mean(scores)) if scores else None,
            f"per_region_{used}",
            ids,
            _mean_per_reader([c.per_reader for _, c in by_task[task_id]]),
        )
    return combined


def _attach(item: ResultItem, region: ResultItem) -> ResultItem:
    """The per-region item as Label Studio writes it: the region's id and geometry beside the answer."""
    geometry = {k: v for k, v in region["value"].items() if k != region["type"]}
    attached = {**item, "id": region["id"], "value": {**geometry, **item["value"]}}
    for key in ("original_width", "original_height"):
        if key in region:
            attached[key] = region[key]
    return attached


def _mean_per_reader(measures: Sequence[Mapping[int, Mapping[str, float]]]) -> dict[int, dict[str, float]]:
    collected: dict[int, dict[str, list[float]]] = {}
    for per_reader in measures:
        for physician, values in per_reader.items():
            for name, value in values.items():
                collected.setdefault(physician, {}).setdefault(name, []).append(value)
    return {p: {n: float(np.mean(v)) for n, v in values.items()} for p, values in collected.items()}
