"""Pre-annotation benchmark: rate through Label Studio before/after, /predict speed, agreement with truth.

The rate of `medlabel preannotate` through Label Studio before and after Label Studio drove it
(`bench/ls_preannotate.py`), /predict latency and throughput with 1 vs 2 gunicorn workers, and agreement of the
pre-annotations with truth built independently of the models.

    .venv/bin/python -m bench.preannotate [--only backend|label-studio] [--ls-tasks 60] [--tasks 24] [--clients 4]

The rate starts a Label Studio of its own (see bench/ls_preannotate.py). The rest needs none: tasks point at
`/data/local-files/?d=<file>` URLs, which label-studio-ml reads straight from LOCAL_FILES_DOCUMENT_ROOT (set to
the benchmark's temporary folder for the backend).

Truth:
- ECG: synthetic strips with beats placed at known times and classes (`medlabel.synthetic`, sinus at
  several rates, atrial fibrillation, PVCs every 3rd/4th beat), plus neurokit2 ECGSYN strips whose true R
  peaks are the maxima of the noise-free simulation (scipy find_peaks, not the model's detector). The
  synthetic morphology and the model's thresholds were written by the same engineer: the ECGSYN figure
  (another simulator) is the less flattering, more independent one for beat detection.
- Clinical NER: template-generated notes whose entity spans are recorded while writing them; the model is
  measured on held-out notes before and after fitting on a training split whose notes never use a third of
  the drug and problem names. The notes are far more regular than real ones: read the figure as an upper
  bound.
- Head-CT hemorrhage (`bench/ct_hemorrhage.py`, truth in `bench/ct_truth.py`): bleeds of known type, size and
  density blended in HU into pydicom's real head CT slices; the HU model and the old 8-bit model on the same
  held-out cases (sensitivity on bleeds >= 5 mm, false-positive regions per negative slice, Dice, type accuracy).
- Segmentation: real CT slices from pydicom's test files; the truth mask is bone, thresholded on the
  calibrated Hounsfield units (> 300 HU, components >= 20 px) of the raw DICOM, while the model only sees the
  rendered 8-bit PNG (multi-Otsu classes, no HU). A proxy for "a bright structure a physician would outline".

"Work saved" = 1 - (regions the physician must still draw + regions they must delete) / true regions,
counting a pre-annotated region as accepted when it has the true label and IoU >= 0.5 (ECG beats: the R
peak within 75 ms and the QRS region IoU >= 0.5; NER: exact span and label; segmentation: Dice per image).
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import requests

from bench import ct_hemorrhage, ls_preannotate
from bench.signal_agreement import beat_learning_agreement, ecg_agreement, ecgsyn_f1, ner_agreement
from config_templates import Overrides, get_template
from medlabel.settings import PROJECT_ROOT
from medlabel.synthetic import synthetic_ecg, synthetic_note
from ml_backend import WSGI_APP

#: Basic-auth credentials of the backend this benchmark starts (it refuses to start without).
AUTH = ("bench", secrets.token_urlsafe(24))

ECG_CASES: list[dict[str, Any]] = [
    {"rhythm": "sinus_rhythm", "heart_rate": 72},
    {"rhythm": "sinus_rhythm", "heart_rate": 48},
    {"rhythm": "sinus_rhythm", "heart_rate": 115},
    {"rhythm": "atrial_fibrillation", "heart_rate": 90},
    {"rhythm": "sinus_rhythm", "heart_rate": 80, "pvc_every": 4},
    {"rhythm": "sinus_rhythm", "heart_rate": 66, "pvc_every": 3},
    {"rhythm": "sinus_rhythm", "heart_rate": 75, "pac_every": 4},
    {"rhythm": "atrial_fibrillation", "heart_rate": 70},
]
CT_FILES = ("CT_small.dcm", "693_UNCR.dcm", "693_J2KR.dcm")
TEMPLATES = {
    "ecg_beats": "ecg_rhythm_strip_beats",
    "clinical_ner": "clinical_ner_relations",
    "image_classification": "chest_xray_chexpert",
    "image_segmentation": "ct_liver_lesion_segmentation",
}


@dataclass
class Workload:
    xml: str
    tasks: list[dict[str, Any]] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _url(root: Path, path: Path) -> str:
    return f"/data/local-files/?d={path.relative_to(root)}"


# ------------------------------------------------------------------ data


def _ct_slices() -> list[tuple[np.ndarray, np.ndarray]]:
    """(8-bit rendering the model sees, bone mask from Hounsfield units) per CT test file."""
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.pixels import apply_modality_lut
    from skimage import morphology

    slices = []
    for name in CT_FILES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            path = get_testdata_file(name, download=False)
            if path is None:
                continue
            ds = pydicom.dcmread(path)
            hu = apply_modality_lut(ds.pixel_array, ds).astype(np.float64)
        low, high = np.percentile(hu, (0.5, 99.5))
        rendered = (np.clip((hu - low) / max(high - low, 1e-6), 0, 1) * 255).astype(np.uint8)
        bone = morphology.remove_small_objects(hu > 300, max_size=19)
        slices.append((rendered, bone))
    return slices


def build_workloads(root: Path, count: int, offset: int) -> dict[str, Workload]:
    """`count` tasks per task type with files under `root` (distinct per `offset`, so no cache is warm)."""
    from PIL import Image

    from medlabel.samples import _render_dicom

    loads = {
        kind: Workload(get_template(t).render(Overrides(language="en")).xml) for kind, t in TEMPLATES.items()
    }
    for i in range(count):
        seed = offset + i
        ecg = synthetic_ecg(**ECG_CASES[i % len(ECG_CASES)], seed=seed)
        csv = ecg.write_csv(root / f"ecg_{seed}.csv")
        loads["ecg_beats"].tasks.append({"id": seed, "data": {"csv": _url(root, csv)}})
        loads["clinical_ner"].tasks.append({"id": seed, "data": {"text": synthetic_note(seed).text}})
    images = [
        _render_dicom(name) for name in ("RG1_UNCR.dcm", "MR2_UNCR.dcm", "693_UNCR.dcm", "US1_UNCR.dcm")
    ]
    slices = _ct_slices()
    for i in range(count):
        seed = offset + i
        picture = images[i % len(images)].rotate(90 * (i // len(images)))
        picture.save(root / f"image_{seed}.png")
        loads["image_classification"].tasks.append(
            {"id": seed, "data": {"image": _url(root, root / f"image_{seed}.png")}}
        )
        rendered, _ = slices[i % len(slices)]
        Image.fromarray(np.rot90(rendered, i // len(slices))).save(root / f"ct_{seed}.png")
        loads["image_segmentation"].tasks.append(
            {"id": seed, "data": {"image": _url(root, root / f"ct_{seed}.png")}}
        )
    return loads


# ------------------------------------------------------------------ serving and timing


@contextmanager
def backend(workers: int, root: Path, model_dir: Path) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "MODEL_DIR": str(model_dir),
        "LOCAL_FILES_DOCUMENT_ROOT": str(root),
        "LABEL_STUDIO_URL": "http://127.0.0.1:9",  # never contacted: every file is local
        "LABEL_STUDIO_API_KEY": "unused",
        "BASIC_AUTH_USER": AUTH[0],
        "BASIC_AUTH_PASS": AUTH[1],
        "LOG_LEVEL": "WARNING",
        # One BLAS/OpenMP thread per worker: numpy's default of one thread per core, times several gunicorn
        # workers, oversubscribes the CPU.
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    log = (root / f"backend-{workers}.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
         "--timeout", "300", "--graceful-timeout", "5", "--preload", WSGI_APP],
        cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"backend with {workers} workers did not start; see {log.name}")
            time.sleep(0.3)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _project(kind: str) -> str:
    return f"{list(TEMPLATES).index(kind) + 900}.0"


def setup(url: str, loads: dict[str, Workload]) -> None:
    for kind, load in loads.items():
        body = {"project": _project(kind), "schema": load.xml, "hostname": "", "access_token": ""}
        requests.post(f"{url}/setup", json=body, timeout=60, auth=AUTH).raise_for_status()


def predict_one(url: str, kind: str, load: Workload, task: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    body = {"tasks": [task], "project": _project(kind), "label_config": load.xml, "params": {}}
    started = time.perf_counter()
    response = requests.post(f"{url}/predict", json=body, timeout=300, auth=AUTH)
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed, response.json()["results"][0]


def warm_up(url: str, loads: dict[str, Workload], workers: int) -> None:
    """Each task type's first call in a worker imports its libraries (neurokit2: seconds): done here, for
    every worker (concurrent requests spread over the sync workers), with tasks the measurements don't reuse."""
    jobs = [(kind, load, load.tasks[0]) for kind, load in loads.items() for _ in range(2 * workers)]
    with ThreadPoolExecutor(2 * workers) as pool:
        list(pool.map(lambda job: predict_one(url, *job), jobs))


def latencies(url: str, loads: dict[str, Workload]) -> dict[str, tuple[float, float, int]]:
    """Sequential single-task /predict calls: p50, p95 (ms) and how many answers carried regions."""
    out = {}
    for kind, load in loads.items():
        times, non_empty = [], 0
        for task in load.tasks[1:]:
            elapsed, prediction = predict_one(url, kind, load, task)
            times.append(elapsed * 1000)
            non_empty += bool(prediction["result"])
        out[kind] = (statistics.median(times), float(np.percentile(times, 95)), non_empty)
    return out


def throughput(url: str, loads: dict[str, Workload], clients: int) -> float:
    """Tasks per second for all task types mixed, `clients` concurrent requests of one task each."""
    jobs = [(kind, load, task) for kind, load in loads.items() for task in load.tasks]
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(lambda job: predict_one(url, *job), jobs))
    return len(jobs) / (time.perf_counter() - started)


# ------------------------------------------------------------------ agreement with truth (segmentation)


def segmentation_agreement(url: str, root: Path) -> dict[str, float]:
    """Dice of the union of pre-segmented regions with the HU bone mask, per CT slice (mean), over HTTP."""
    from label_studio_sdk.converter.brush import decode_rle
    from PIL import Image

    load = Workload(get_template(TEMPLATES["image_segmentation"]).render(Overrides(language="en")).xml)
    dices = []
    for index, (rendered, bone) in enumerate(_ct_slices()):
        path = root / f"dice_{index}.png"
        Image.fromarray(rendered).save(path)
        _, prediction = predict_one(
            url, "image_segmentation", load, {"id": index, "data": {"image": _url(root, path)}}
        )
        predicted = np.zeros(bone.shape, dtype=bool)
        for region in prediction["result"]:
            if region["type"] == "brushlabels":
                predicted |= decode_rle(region["value"]["rle"]).reshape(*bone.shape, 4)[..., 3] > 127
        dices.append(2 * (predicted & bone).sum() / max(1, predicted.sum() + bone.sum()))
    return {"dice_mean": float(np.mean(dices)), "dice_min": float(np.min(dices)), "slices": len(dices)}


# ------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=24, help="tasks per task type for each measurement")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients for the throughput run")
    parser.add_argument(
        "--only",
        choices=("backend", "label-studio"),
        help="backend: /predict and agreement figures only; label-studio: the rate before/after only",
    )
    parser.add_argument("--ls-tasks", type=int, default=60, help="tasks per run for the Label Studio rate")
    args = parser.parse_args()
    if args.only != "backend":
        ls_preannotate.report(args.ls_tasks)
    if args.only == "label-studio":
        return
    with tempfile.TemporaryDirectory(prefix="bench-preannotate-") as tmp:
        root = Path(tmp)
        print(f"building {args.tasks} tasks per type x 4 types …", flush=True)
        load_before = os.getloadavg()[0]
        # 1, 2, 1, 2 workers: the machine is shared, so each setting runs twice, interleaved, and the faster run
        # of each is reported (the other engineers' load hits both settings alike).
        runs: dict[int, tuple[dict[str, tuple[float, float, int]], float]] = {}
        for round_, workers in enumerate((1, 2, 1, 2)):
            model_dir = root / f"models-{round_}"
            latency_set = build_workloads(root, args.tasks // 2, offset=round_ * 1000)
            load_set = build_workloads(root, args.tasks, offset=round_ * 1000 + 500)
            with backend(workers, root, model_dir) as url:
                setup(url, latency_set)
                warm_up(url, latency_set, workers)
                lat = latencies(url, latency_set)
                rate = throughput(url, load_set, args.clients)
                if round_ == 0:
                    seg = segmentation_agreement(url, root)
            if workers not in runs or rate > runs[workers][1]:
                runs[workers] = (lat, rate)
        print(f"\n/predict latency, one task per request (ms), {args.tasks // 2 - 1} requests per type")
        print(f"{'task type':<22}{'1w p50':>8}{'1w p95':>8}{'2w p50':>8}{'2w p95':>8}  answered with regions")
        for kind in TEMPLATES:
            (a50, a95, ne1), (b50, b95, _) = runs[1][0][kind], runs[2][0][kind]
            print(f"{kind:<22}{a50:8.0f}{a95:8.0f}{b50:8.0f}{b95:8.0f}  {ne1}/{args.tasks // 2 - 1}")
        one, two = runs[1][1], runs[2][1]
        print(
            f"\nthroughput, {4 * args.tasks} mixed tasks, {args.clients} clients: 1 worker {one:.1f} tasks/s, "
            f"2 workers {two:.1f} tasks/s, ratio {two / one:.2f}x ({os.cpu_count()} cores; load average at start "
            f"{load_before:.1f}, now {os.getloadavg()[0]:.1f}: other processes share them)"
        )

        strips = [synthetic_ecg(**ECG_CASES[i % len(ECG_CASES)], seed=5000 + i) for i in range(40)]
        ecg = ecg_agreement(strips)
        print(
            f"\nECG beats ({ecg['strips']:.0f} synthetic strips, {ecg['beats']:.0f} beats): F1 {ecg['beat_f1']:.3f}, "
            f"accepted as-is {ecg['accepted']:.1%}, work saved {ecg['work_saved']:.1%}; "
            f"rhythm top-1 {ecg['rhythm_accuracy']:.1%}"
        )
        print(f"ECG beats (12 neurokit2 ECGSYN strips, 50-127 bpm, noise 0.1 mV): F1 {ecgsyn_f1(12):.3f}")
        before, after = beat_learning_agreement(root, train=6, test=12)
        print(
            f"ECG beat classes with intermittent bundle-branch block (12 held-out strips): accuracy {before:.1%} "
            f"rules only -> {after:.1%} after fitting on 6 annotated strips"
        )
        ner = ner_agreement(root / "models-ner", train=40, test=40)
        print(
            f"clinical NER (40 held-out notes, 1/3 of drug/problem names unseen in training): F1 "
            f"{ner['f1_before']:.3f} rules only -> {ner['f1_after']:.3f} after fitting on 40 annotated notes; "
            f"work saved {ner['saved_before']:.1%} -> {ner['saved_after']:.1%}"
        )
        print(
            f"segmentation (CT bone by HU > 300, {seg['slices']:.0f} slices): Dice mean {seg['dice_mean']:.3f}, "
            f"min {seg['dice_min']:.3f}"
        )
        for line in ct_hemorrhage.report():
            print(line)


if __name__ == "__main__":
    main()
