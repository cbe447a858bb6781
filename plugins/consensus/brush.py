"""Masks (`BrushLabels`): STAPLE per label (SimpleITK), with each reader's sensitivity and specificity.

Sensitivity and specificity are STAPLE's estimates within the finding's region of interest (see
`region_of_interest`), not over the whole image.

STAPLE (Warfield SK, Zou KH, Wells WM (2004), IEEE TMI 23:903-21) is the reference method of medical
segmentation fusion and estimates exactly the per-reader sensitivity and specificity we report; SimpleITK's
`STAPLEImageFilter` is its maintained implementation (ITK). crowd-kit's `SegmentationEM` fuses masks too
but yields no per-reader measures. A reader's mask for a label is the union of their brush strokes with that
label; a reader who drew nothing with it contributes an empty mask (they looked and found none).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any, ClassVar

import numpy as np
import SimpleITK as sitk
from label_studio_sdk.converter.brush import mask2rle

from medlabel.quality.agreement import dice
from plugins.consensus.base import MIN_READS, Consensus, Control, Read, ResultItem, incomplete


def decode_rle(rle: Sequence[int]) -> np.ndarray:
    """Label Studio's brush RLE → flat uint8 RGBA array; `label_studio_sdk.converter.brush.decode_rle`'s format.

    Restated because the SDK builds its bit string one Python call per bit (~8 ms for a 512² mask, half
    the brush bench's budget); here numpy unpacks the bits and the run loop is the SDK's. A test checks
    both decode the same masks.
    """
    bits = (np.unpackbits(np.asarray(rle, dtype=np.uint8)) + ord("0")).tobytes().decode("ascii")
    pos = 0

    def read(size: int) -> int:
        nonlocal pos
        pos += size
        return int(bits[pos - size : pos], 2)

    num = read(32)
    word_size = read(5) + 1
    rle_sizes = [read(4) + 1 for _ in range(4)]
    out = np.zeros(num, dtype=np.uint8)
    i = 0
    while i < num:
        series = read(1)
        j = i + 1 + read(rle_sizes[read(2)])
        if series:
            out[i:j] = read(word_size)
            i = j
        else:
            while i < j:
                out[i] = read(word_size)
                i += 1
    return out


def mask_of(item: ResultItem) -> np.ndarray:
    """A brush result item's mask as a (height, width) bool array (the RLE's alpha channel)."""
    height, width = int(item["original_height"]), int(item["original_width"])
    return decode_rle(item["value"]["rle"]).reshape(height, width, 4)[:, :, 3] > 0


class Staple:
    """Per label, STAPLE's consensus at probability ≥ 0.5, encoded back to Label Studio's RLE.

    Agreement: the readers' mean pairwise Dice (averaged over labels). per_reader: STAPLE's `sensitivity`
    and `specificity` and the reader's `dice` against the consensus (each averaged over labels).
    """

    method: ClassVar[str] = "staple"

    def aggregate(
        self,
        control: Control,
        reads_by_task: Mapping[int, Sequence[Read]],
        *,
        weights: Mapping[int, float] | None = None,
    ) -> dict[int, Consensus]:
        return {
            task_id: self._task(control, reads) if len(reads) >= MIN_READS else incomplete(reads)
            for task_id, reads in reads_by_task.items()
        }

    def reader_quality(self) -> dict[int, float]:
        return {}

    def _task(self, control: Control, reads: Sequence[Read]) -> Consensus:
        strokes = [[i for i in read.items if i.get("value", {}).get("rle")] for read in reads]
        sized = [i for s in strokes for i in s]
        ids = tuple(sorted(read.annotation_id for read in reads))
        if not sized:  # every reader found nothing: agreed, empty consensus
            return Consensus([], 1.0, self.method, ids, {read.physician_id: {"dice": 1.0} for read in reads})
        shape = (int(sized[0]["original_height"]), int(sized[0]["original_width"]))
        labels = sorted({_label(i) for i in sized})
        items: list[ResultItem] = []
        measures: dict[int, dict[str, list[float]]] = {r.physician_id: {} for r in reads}
        agreement: list[float] = []
        for label in labels:
            full = [_union([mask_of(i) for i in s if _label(i) == label], shape) for s in strokes]
            roi = region_of_interest(full)
            masks = [mask[roi] for mask in full]
            fused, sensitivity, specificity = staple(masks)
            items.append(_item(control, _paste(fused, roi, shape), label, sized[0]))
            agreement.append(float(np.mean([dice(a, b) for a, b in combinations(masks, 2)])))
            for read, mask, sens, spec in zip(reads, masks, sensitivity, specificity, strict=True):
                m = measures[read.physician_id]
                m.setdefault("sensitivity", []).append(sens)
                m.setdefault("specificity", []).append(spec)
                m.setdefault("dice", []).append(dice(mask, fused))
        per_reader = {p: {k: float(np.mean(v)) for k, v in m.items()} for p, m in measures.items()}
        return Consensus(items, float(np.mean(agreement)), self.method, ids, per_reader)


def region_of_interest(masks: Sequence[np.ndarray]) -> tuple[slice, slice]:
    """The bounding box of every reader's strokes, padded by half its larger side (at least 8 px).

    STAPLE runs there, not on the whole image: pixels every reader left empty far from the finding carry
    no information about anyone, yet over a whole image they drive every specificity to ~1 and shrink the
    foreground prior; they also cost most of the time (a 512² image, ~50 ms a task, over the bench's budget).
    Dice is the same on the region as on the image, since everything outside it is empty.
    """
    union = np.logical_or.reduce(masks)
    rows, cols = np.flatnonzero(union.any(axis=1)), np.flatnonzero(union.any(axis=0))
    pad = max(8, (max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1) // 2)
    height, width = union.shape
    return (
        slice(max(0, rows[0] - pad), min(height, rows[-1] + pad + 1)),
        slice(max(0, cols[0] - pad), min(width, cols[-1] + pad + 1)),
    )


def staple(masks: Sequence[np.ndarray]) -> tuple[np.ndarray, list[float], list[float]]:
    """STAPLE on binary masks: the consensus (probability ≥ 0.5) and each mask's sensitivity and
    specificity as STAPLE estimated them."""
    images = [sitk.GetImageFromArray(mask.astype(np.uint8)) for mask in masks]
    fuser = sitk.STAPLEImageFilter()
    fuser.SetForegroundValue(1)
    probability = sitk.GetArrayViewFromImage(fuser.Execute(images))
    return probability >= 0.5, list(fuser.GetSensitivity()), list(fuser.GetSpecificity())


def _label(item: ResultItem) -> str:
    labels = item["value"].get("brushlabels") or [""]
    return str(labels[0])


def _paste(crop: np.ndarray, roi: tuple[slice, slice], shape: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[roi] = crop
    return mask


def _union(masks: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    return np.logical_or.reduce(masks) if masks else np.zeros(shape, dtype=bool)


def _item(control: Control, mask: np.ndarray, label: str, template: ResultItem) -> dict[str, Any]:
    value: dict[str, Any] = {"format": "rle", "rle": mask2rle(mask.astype(np.uint8) * 255)}
    if label:
        value["brushlabels"] = [label]
    return {
        "from_name": control.name,
        "to_name": control.to_name[0],
        "type": str(template.get("type", "brushlabels")),
        "original_width": template["original_width"],
        "original_height": template["original_height"],
        "value": value,
    }
