"""Consensus benchmark: Dawid–Skene and STAPLE against majority vote on the same reads, in one run.

    .venv/bin/python -m bench.quality [--tasks 100000] [--brush-tasks 1000] [--size 512]

Choices: a simulated panel (`bench.panels`: 50 physicians of graded accuracy, a spammer and a biased
reader) reads `--tasks` tasks three times each; timed is `aggregate` of DawidSkeneVote (the default) and of
MajorityVote, both project-wide from Reads to Consensus. Target ≤ 30 s.
Brush: `--brush-tasks` tasks at `--size`² with three readers each (one faithful, one under- and one
over-segmenting by a few pixels, shifted at random); the RLEs are made beforehand. Timed is Staple's
`aggregate` (RLE decode, STAPLE, RLE encode) and a pixel-wise majority vote doing the same decode and encode.
Target ≤ 60 s. Then the physician panel of the tests (20 × 2,000): accuracy of both and Spearman of
Dawid–Skene's reliability estimates against the true accuracies.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from label_studio_sdk.converter.brush import mask2rle
from scipy.stats import spearmanr

from bench.panels import CONTROL, expected_majority_accuracy, simulate_panel
from plugins.consensus.base import Control, Read
from plugins.consensus.brush import Staple, mask_of
from plugins.consensus.choices import DawidSkeneVote, MajorityVote

CHOICES_TARGET, BRUSH_TARGET = 30.0, 60.0
MASK = Control("tumor", "BrushLabels", ("image",), ("Tumor",))


class Clock:
    """Wall and CPU seconds of one call: the machine is shared, so CPU time shows what contention hides."""

    def __init__(self, fn: Any, *args: Any) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.result = fn(*args)
        self.wall = time.perf_counter() - wall
        self.cpu = time.process_time() - cpu

    def __str__(self) -> str:
        return f"{self.wall:6.2f} s (CPU {self.cpu:6.2f} s)"


def choices(n_tasks: int) -> None:
    panel = simulate_panel(n_physicians=50, n_tasks=n_tasks, k=3, seed=1)
    ds = Clock(DawidSkeneVote().aggregate, CONTROL, panel.reads_by_task)
    mv = Clock(MajorityVote().aggregate, CONTROL, panel.reads_by_task)
    ds_acc = sum(c.items[0]["value"]["choices"][0] == panel.truth[t] for t, c in ds.result.items()) / n_tasks
    print(f"choices, {n_tasks:,} tasks × 3 reads, 50 physicians:")
    print(f"  dawid_skene   {ds}  accuracy {ds_acc:.3f}")
    print(f"  majority_vote {mv}  accuracy {expected_majority_accuracy(panel):.3f} (ties broken at random)")
    verdict = "met" if ds.wall <= CHOICES_TARGET else "NOT met"
    print(
        f"  dawid_skene / majority_vote = {ds.wall / mv.wall:.1f}×  (target ≤ {CHOICES_TARGET:.0f} s wall: {verdict})"
    )


def _brush_item(mask: np.ndarray) -> dict[str, Any]:
    h, w = mask.shape
    return {
        "from_name": "tumor",
        "to_name": "image",
        "type": "brushlabels",
        "original_width": w,
        "original_height": h,
        "value": {"format": "rle", "rle": mask2rle(mask.astype(np.uint8) * 255), "brushlabels": ["Tumor"]},
    }


def brush_tasks(n_tasks: int, size: int, seed: int = 2) -> dict[int, list[Read]]:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    tasks: dict[int, list[Read]] = {}
    for task in range(n_tasks):
        cy, cx = rng.uniform(0.3, 0.7, 2) * size
        radius = rng.uniform(0.05, 0.2) * size
        reads = []
        # Each reader: their own boundary error (grow, in pixels) and a small shift.
        for reader, grow in enumerate((0.0, -4.0, 4.0)):
            dy, dx = rng.normal(0, 2, 2)
            mask = (yy - cy - dy) ** 2 + (xx - cx - dx) ** 2 < (radius + grow) ** 2
            reads.append(Read(task * 3 + reader, reader + 1, [_brush_item(mask)]))
        tasks[task] = reads
    return tasks


def pixel_majority(reads_by_task: Mapping[int, Sequence[Read]]) -> dict[int, list[int]]:
    """The baseline: decode, keep pixels most readers painted, encode (what a mask majority vote costs)."""
    fused: dict[int, list[int]] = {}
    for task_id, reads in reads_by_task.items():
        masks = [mask_of(item) for read in reads for item in read.items]
        fused[task_id] = mask2rle((2 * np.sum(masks, axis=0) > len(masks)).astype(np.uint8) * 255)
    return fused


def brush(n_tasks: int, size: int) -> None:
    prep = Clock(brush_tasks, n_tasks, size)
    staple = Clock(Staple().aggregate, MASK, prep.result)
    mv = Clock(pixel_majority, prep.result)
    sensitivity = [
        np.mean([c.per_reader[r]["sensitivity"] for c in staple.result.values()]) for r in (1, 2, 3)
    ]
    print(f"brush, {n_tasks:,} tasks × 3 reads at {size}² (RLEs made in {prep.wall:.1f} s, not timed):")
    print(
        f"  staple         {staple}  mean sensitivity faithful/under/over: "
        + " / ".join(f"{x:.3f}" for x in sensitivity)
    )
    print(f"  pixel majority {mv}")
    verdict = "met" if staple.wall <= BRUSH_TARGET else "NOT met"
    print(
        f"  staple / majority = {staple.wall / mv.wall:.1f}×  (target ≤ {BRUSH_TARGET:.0f} s wall: {verdict})"
    )


def panel() -> None:
    sim = simulate_panel(n_physicians=20, n_tasks=2000, k=3, seed=7)
    aggregator = DawidSkeneVote()
    result = aggregator.aggregate(CONTROL, sim.reads_by_task)
    accuracy = sum(c.items[0]["value"]["choices"][0] == sim.truth[t] for t, c in result.items()) / len(result)
    estimated, true = aggregator.reader_quality(), sim.true_accuracy()
    rho = spearmanr([estimated[p] for p in sorted(true)], [true[p] for p in sorted(true)]).statistic
    print("panel, 20 physicians × 2,000 tasks × 3 reads (spammer and biased reader included):")
    print(f"  accuracy dawid_skene {accuracy:.3f} vs majority_vote {expected_majority_accuracy(sim):.3f}")
    print(
        f"  Spearman(estimated, true reliability) = {rho:.3f}  (target ≥ 0.9: {'met' if rho >= 0.9 else 'NOT met'})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--brush-tasks", type=int, default=1000)
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args()
    print(
        "load average at start: "
        + " ".join(f"{x:.1f}" for x in os.getloadavg())
        + f" on {os.cpu_count()} cores"
    )
    choices(args.tasks)
    brush(args.brush_tasks, args.size)
    panel()


if __name__ == "__main__":
    main()
