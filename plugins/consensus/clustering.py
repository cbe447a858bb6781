"""Consensus of drawn regions (boxes, polygons, points, spans, intervals): match, cluster, vote, merge.

Shared by `regions` and `spans`, which only say how their shapes compare and merge (a `Geometry`).
Readers are taken in turn: each reader's regions are matched to the clusters so far by Hungarian matching
(scipy) on mean similarity to the cluster's members, and what stays unmatched opens a new cluster. A
cluster is a consensus region when more than half of the task's readers drew it; its label is their vote.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import numpy as np

from medlabel.quality.agreement import match, matched_f1
from plugins.consensus.base import MIN_READS, Consensus, Control, Read, ResultItem, incomplete

S = TypeVar("S")


class Geometry(Protocol[S]):
    """How one kind of region is compared and merged; values are Label Studio's `value` dicts."""

    #: Two regions match only at this similarity or more (IoU for areas and spans).
    threshold: float

    def shape(self, value: Mapping[str, Any]) -> S: ...

    def similarity(self, a: S, b: S) -> float: ...

    def merge(self, shapes: Sequence[S], values: Sequence[Mapping[str, Any]]) -> dict[str, Any]: ...


class _Region:
    __slots__ = ("reader", "item", "shape", "label")

    def __init__(self, reader: int, item: ResultItem, shape: Any) -> None:
        self.reader = reader
        self.item = item
        self.shape = shape
        kind = str(item.get("type", ""))
        labels = item.get("value", {}).get(kind) or []
        self.label: str | None = str(labels[0]) if labels else None


class ClusterVote(Generic[S]):
    """Region consensus for one geometry (subclasses set `method` and `geometry`).

    Agreement: the mean over reader pairs of their soft matched F1 (a matched pair counts its similarity),
    so misses, extras and sloppy outlines all lower it. per_reader: `missed` (consensus regions the reader
    lacks), `extra` (the reader's regions no majority confirmed), `label_errors`, and `similarity` (mean
    similarity of the reader's confirmed regions to the merged ones; absent when they have none).
    """

    method: ClassVar[str]
    geometry: ClassVar[Geometry[Any]]

    def aggregate(
        self,
        control: Control,
        reads_by_task: Mapping[int, Sequence[Read]],
        *,
        weights: Mapping[int, float] | None = None,
    ) -> dict[int, Consensus]:
        return {
            task_id: self._task(reads, weights) if len(reads) >= MIN_READS else incomplete(reads)
            for task_id, reads in reads_by_task.items()
        }

    def reader_quality(self) -> dict[int, float]:
        return {}

    def _task(self, reads: Sequence[Read], weights: Mapping[int, float] | None) -> Consensus:
        geometry = self.geometry
        by_reader = [
            [_Region(r, item, geometry.shape(item["value"])) for item in read.items if "value" in item]
            for r, read in enumerate(reads)
        ]
        clusters = _cluster(by_reader, geometry)
        items: list[ResultItem] = []
        regions: dict[str, tuple[tuple[int, str], ...]] = {}
        per_reader = {read.physician_id: {"missed": 0.0, "extra": 0.0, "label_errors": 0.0} for read in reads}
        fits: dict[int, list[float]] = {read.physician_id: [] for read in reads}
        for members in clusters:
            if 2 * len(members) <= len(reads):
                for region in members:
                    per_reader[reads[region.reader].physician_id]["extra"] += 1
                continue
            label = _vote(members, reads, weights)
            merged = geometry.merge([m.shape for m in members], [m.item["value"] for m in members])
            merged_shape = geometry.shape(merged)
            item = _item(members[0].item, merged, label, len(items))
            items.append(item)
            regions[item["id"]] = tuple(
                (reads[m.reader].annotation_id, str(m.item["id"])) for m in members if "id" in m.item
            )
            drew = {reads[m.reader].physician_id for m in members}
            for read in reads:
                if read.physician_id not in drew:
                    per_reader[read.physician_id]["missed"] += 1
            for region in members:
                physician = reads[region.reader].physician_id
                per_reader[physician]["label_errors"] += float(label is not None and region.label != label)
                fits[physician].append(geometry.similarity(region.shape, merged_shape))
        for physician, values in fits.items():
            if values:  # undefined for a reader with no confirmed region: left out, not NaN (JSON has none)
                per_reader[physician]["similarity"] = float(np.mean(values))
        pairs = [
            matched_f1(_similarity(by_reader[a], by_reader[b], geometry), geometry.threshold, soft=True)
            for a, b in combinations(range(len(reads)), 2)
        ]
        return Consensus(
            items,
            float(np.mean(pairs)),
            self.method,
            tuple(sorted(read.annotation_id for read in reads)),
            per_reader,
            regions=regions,
        )


def _similarity(a: Sequence[_Region], b: Sequence[_Region], geometry: Geometry[Any]) -> np.ndarray:
    return np.array([[geometry.similarity(x.shape, y.shape) for y in b] for x in a]).reshape(len(a), len(b))


def _cluster(by_reader: Sequence[Sequence[_Region]], geometry: Geometry[Any]) -> list[list[_Region]]:
    clusters: list[list[_Region]] = []
    for regions in by_reader:
        sim = np.array(
            [[np.mean([geometry.similarity(r.shape, m.shape) for m in c]) for c in clusters] for r in regions]
        ).reshape(len(regions), len(clusters))
        matched = dict(match(sim, geometry.threshold))
        for i, region in enumerate(regions):
            if i in matched:
                clusters[matched[i]].append(region)
            else:
                clusters.append([region])
    return clusters


def _vote(
    members: Sequence[_Region], reads: Sequence[Read], weights: Mapping[int, float] | None
) -> str | None:
    """The members' label by (weighted) vote; None on a tie, which the reviewer settles."""
    tally: dict[str, float] = defaultdict(float)
    for region in members:
        if region.label is not None:
            tally[region.label] += (
                1.0 if weights is None else weights.get(reads[region.reader].physician_id, 0.5)
            )
    ranked = sorted(tally.items(), key=lambda kv: -kv[1])[:2]
    if not ranked or (len(ranked) == 2 and ranked[0][1] == ranked[1][1]):
        return None
    return ranked[0][0]


def _item(template: ResultItem, merged: dict[str, Any], label: str | None, index: int) -> ResultItem:
    kind = str(template.get("type", ""))
    item = {
        k: v
        for k, v in template.items()
        if k in ("from_name", "to_name", "type", "original_width", "original_height")
    }
    value = dict(merged)
    if kind.endswith("labels"):
        value[kind] = [label] if label is not None else []
        if label is None:
            item["meta"] = {"text": ["label tie: the reviewer decides"]}
    item["id"] = f"consensus-{index}"
    item["value"] = value
    return item
