"""Ingest benchmark: the full ingest against its floor, on the same real files, measured in one run.

    .venv/bin/python -m bench.ingest [--repeat 3]

Files: every DICOM image shipped by pydicom and pydicom-data that ingest accepts (a warm-up run finds them).
Floor: pydicom read + pixel decode + 8-bit PNG write of every frame, nothing else. Full: `IngestRun` into a
fresh project of a live Label Studio (walk, hash, sniff, decode, Annex E de-identification, burned-in
black-out, windowing, PNG, bulk import, bookkeeping). Prints files/s for both and full/floor (target ≥ 0.7), then de-identification
alone against dicognito (bench.deid).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pydicom
import pydicom.errors
from pydicom.data import get_testdata_files
from sqlalchemy.orm import Session

from medlabel.db import make_engine, upgrade
from medlabel.ingest.runner import IngestRun
from medlabel.ls_client import make_client
from medlabel.ls_server import LabelStudioServer, ensure_label_studio_venv
from medlabel.projects import create_project
from medlabel.settings import PROJECT_ROOT, Settings
from plugins.ingest.base import IngestOptions
from plugins.ingest.dicom.render import write_png

TARGET = 0.7
#: A project that blacks out a (tiny) region instead of quarantining ultrasound, secondary captures and
#: screenshots: the benchmark then measures those files too, black-out included.
OPTIONS = IngestOptions(burned_in_regions=((0, 0, 8, 8),))


def floor(paths: list[Path], out: Path) -> None:
    """What any DICOM-to-PNG converter must do: read, decode, scale to 8 bits, write."""
    for index, path in enumerate(paths):
        ds = pydicom.dcmread(path)
        pixels = ds.pixel_array
        frames = pixels if int(ds.get("NumberOfFrames", 1) or 1) > 1 else pixels[None]
        for number, frame in enumerate(frames):
            low, high = float(frame.min()), float(frame.max())
            scaled = ((frame.astype(np.float32) - low) * (255.0 / max(high - low, 1e-6))).astype(np.uint8)
            write_png(scaled, out / f"{index}-{number}.png")


def _plain_readable(path: Path) -> bool:
    try:
        pydicom.dcmread(path, stop_before_pixels=True)
    except pydicom.errors.InvalidDicomError:
        return False
    return True


def _ingest(settings: Settings, session: Session, paths: list[Path], title: str) -> tuple[float, IngestRun]:
    client = make_client(settings)
    project = create_project(client, settings, "chest_xray_chexpert", title, session=session)
    run = IngestRun(client, settings, session, project.id, OPTIONS)
    start = time.perf_counter()
    run.run(paths)
    return time.perf_counter() - start, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    # The quarantine warnings of the 100+ refused test files are noise here.
    logging.basicConfig(level=logging.ERROR)

    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    server = LabelStudioServer(
        executable=ensure_label_studio_venv(PROJECT_ROOT / ".ls-venv"),
        home=work / "ls",
        media_root=work / "ls" / "media",
        port=18123,
    )
    server.start()
    try:
        settings = dataclasses.replace(
            Settings(),
            label_studio_url=server.url,
            label_studio_api_key=server.api_key,
            state_dir=work / "state",
            media_root=server.media_root,
            database_url=f"sqlite:///{work / 'state' / 'medlabel.db'}",
        )
        engine = make_engine(settings.database_url)
        upgrade(engine)
        candidates = sorted({Path(f).resolve() for f in get_testdata_files("**/*") if f.endswith(".dcm")})
        with Session(engine, expire_on_commit=False) as session:
            links = work / "inputs"
            links.mkdir()
            for index, path in enumerate(candidates):
                (links / f"{index:04d}").symlink_to(path)
            _, warm = _ingest(settings, session, [links], "bench warm-up")
            accepted = sorted(
                p
                for p in {
                    candidates[int(Path(e.source).name)] for e in warm.result.entries if e.outcome == "task"
                }
                if _plain_readable(p)  # the floor reads with plain dcmread: no files without file meta
            )
            frames = 0
            for path in accepted:
                frames += int(pydicom.dcmread(path, stop_before_pixels=True).get("NumberOfFrames", 1) or 1)
            print(
                f"files: {len(accepted)} DICOM images accepted by ingest ({frames} frames) of {len(candidates)} .dcm"
            )

            floor_times, full_times = [], []
            for repeat in range(args.repeat):
                out = work / f"floor{repeat}"
                out.mkdir()
                start = time.perf_counter()
                floor(accepted, out)
                floor_times.append(time.perf_counter() - start)
                shutil.rmtree(out)
                elapsed, _ = _ingest(settings, session, accepted, f"bench run {repeat}")
                full_times.append(elapsed)
        floor_rate = len(accepted) / statistics.median(floor_times)
        full_rate = len(accepted) / statistics.median(full_times)
        ratio = full_rate / floor_rate
        print(f"floor (read + decode + PNG): {floor_rate:8.1f} files/s  (median of {args.repeat})")
        print(f"full ingest into Label Studio: {full_rate:8.1f} files/s  (median of {args.repeat})")
        print(f"full / floor = {ratio:.2f}  (target ≥ {TARGET}: {'met' if ratio >= TARGET else 'NOT met'})")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)

    from bench import deid

    deid.main([])


if __name__ == "__main__":
    main()
