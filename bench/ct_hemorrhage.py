"""Head-CT hemorrhage bench: the HU model against the truth of `bench/ct_truth.py`, next to the old model.

    .venv/bin/python -m bench.ct_hemorrhage [--per-type 40] [--negatives 50]   # figures on the held-out split
    .venv/bin/python -m bench.ct_hemorrhage --calibrate                      # refit the committed calibration

A region hits a bleed when its Dice with the truth mask is >= 0.2. Sensitivity counts bleeds >= 5 mm thick;
Dice is that of the hitting regions' union with the truth, on detected cases; type accuracy is the label of the
best-hitting region. The old model is what served the head-CT template before: the generic multi-Otsu
candidates on the 8-bit picture, every one labelled with the control's first label (Epidural).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression

from bench import ct_truth
from ml_backend.control_models import ct_hemorrhage
from ml_backend.control_models.hounsfield import to_hounsfield
from ml_backend.control_models.segmentation import candidates

WINDOW_FACT = ct_truth.WINDOW.as_fact()
HIT_DICE = 0.2
MIN_SIZE_MM = 5.0

Region = tuple[np.ndarray, str, float]


@dataclass(frozen=True)
class Figures:
    sensitivity: float
    bleeds: int
    fp_per_negative: float
    negatives: int
    dice: float
    type_accuracy: float
    fp_per_positive: float

    def line(self, name: str) -> str:
        return (
            f"{name}: sensitivity {self.sensitivity:.2f} ({self.bleeds} bleeds >= 5 mm), "
            f"FP regions/negative slice {self.fp_per_negative:.2f} ({self.negatives} slices), "
            f"Dice on detected {self.dice:.2f}, type accuracy {self.type_accuracy:.2f}, "
            f"other regions/positive slice {self.fp_per_positive:.2f}"
        )


def new_model(case: ct_truth.Case) -> list[Region]:
    """What the backend shows: calibrated findings at P >= 0.5."""
    found = ct_hemorrhage.shown(to_hounsfield(case.image / 255.0, WINDOW_FACT), case.spacing_mm)
    return [(f.mask, f.label, f.probability) for f in found]


def old_model(case: ct_truth.Case) -> list[Region]:
    """The untrained generic brush model the head-CT template had: every candidate, first label."""
    return [(c.mask, "Epidural", 0.5 * c.contrast) for c in candidates(case.image / 255.0)]


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    total = a.sum() + b.sum()
    return float(2 * (a & b).sum() / total) if total else 0.0


def measure(cases: Iterable[ct_truth.Case], model: Callable[[ct_truth.Case], list[Region]]) -> Figures:
    hits = bleeds = negatives = fp_negative = fp_positive = positives = 0
    dices: list[float] = []
    typed: list[bool] = []
    for case in cases:
        regions = model(case)
        if case.kind is None:
            negatives += 1
            fp_negative += len(regions)
            continue
        positives += 1
        scored = [(_dice(mask, case.truth), mask, label) for mask, label, _ in regions]
        hitting = [s for s in scored if s[0] >= HIT_DICE]
        fp_positive += len(scored) - len(hitting)
        if case.size_mm >= MIN_SIZE_MM:
            bleeds += 1
            hits += bool(hitting)
        if hitting:
            union = np.logical_or.reduce([mask for _, mask, _ in hitting])
            dices.append(_dice(union, case.truth))
            typed.append(max(hitting, key=lambda s: s[0])[2] == case.kind)
    return Figures(
        hits / max(bleeds, 1),
        bleeds,
        fp_negative / max(negatives, 1),
        negatives,
        float(np.mean(dices)) if dices else 0.0,
        float(np.mean(typed)) if typed else 0.0,
        fp_positive / max(positives, 1),
    )


def calibrate(per_type: int, negatives: int) -> dict[str, object]:
    """Fit P(true bleed | features) and the type model on the development split.

    A component is a true bleed when half of it lies in the truth mask; the type model learns from true bleeds.
    """
    rows, targets, kinds = [], [], []
    for case in ct_truth.cases("development", per_type, negatives):
        for finding in ct_hemorrhage.find(to_hounsfield(case.image / 255.0, WINDOW_FACT), case.spacing_mm):
            rows.append([finding.features[name] for name in ct_hemorrhage.FEATURES])
            inside = (finding.mask & case.truth).sum() / finding.mask.sum()
            targets.append(int(inside >= 0.5))
            kinds.append(case.kind if inside >= 0.5 else None)
    x = np.asarray(rows)
    means, scales = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = (x - means) / scales
    bleed = LogisticRegression(C=1.0).fit(z, targets)
    true = np.asarray([k is not None for k in kinds])
    typed = LogisticRegression(C=3.0, max_iter=2000).fit(z[true], [k for k in kinds if k is not None])
    return {
        "fitted_on": f"bench/ct_truth.py development split, {per_type} per type + {negatives} negatives, "
        f"{len(targets)} components ({sum(targets)} true)",
        "features": list(ct_hemorrhage.FEATURES),
        "means": _rounded(means),
        "scales": _rounded(scales),
        "bleed": {"weights": _rounded(bleed.coef_[0]), "intercept": round(float(bleed.intercept_[0]), 6)},
        "type": {
            "classes": [str(c) for c in typed.classes_],
            "weights": [_rounded(row) for row in typed.coef_],
            "intercepts": _rounded(typed.intercept_),
        },
    }


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), 6) for v in values]


def report(per_type: int = 40, negatives: int = 50) -> list[str]:
    """The new and the old model on the same held-out cases, one line each."""
    held_out = list(ct_truth.cases("held_out", per_type, negatives))
    return [
        measure(held_out, new_model).line("CT hemorrhage, HU model"),
        measure(held_out, old_model).line("CT hemorrhage, old 8-bit model"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-type", type=int, default=40)
    parser.add_argument("--negatives", type=int, default=50)
    parser.add_argument("--calibrate", action="store_true", help="refit and write the committed calibration")
    args = parser.parse_args()
    if args.calibrate:
        coefficients = calibrate(args.per_type, args.negatives)
        ct_hemorrhage.CALIBRATION.write_text(json.dumps(coefficients, indent=2) + "\n")
        print(coefficients["fitted_on"])
        return
    for line in report(args.per_type, args.negatives):
        print(line)


if __name__ == "__main__":
    main()
