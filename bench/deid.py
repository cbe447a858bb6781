"""De-identification alone: medlabel's Annex E Deidentifier against dicognito's Anonymizer on the same files.

    .venv/bin/python -m bench.deid [--repeat 5]

Files: every file shipped by pydicom and pydicom-data that pydicom reads without force. They are read into
memory once; each run de-identifies a fresh deep copy of every dataset (the copy is not timed, pixel data is
not touched by either tool). One Deidentifier / one Anonymizer serves a whole run, as one project would.
Prints files/s (median of the runs) for both, ours/dicognito, and the peak memory one file's
de-identification allocates (tracemalloc, in a separate untimed pass).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path

import pydicom
from dicognito.anonymizer import Anonymizer
from pydicom.data import get_testdata_files
from pydicom.dataset import Dataset

from plugins.ingest.dicom.deid import Deidentifier

SECRET = b"bench-project-secret-0123456789ab"


def load_datasets() -> list[Dataset]:
    datasets = []
    for path in sorted(get_testdata_files()):
        if not Path(path).is_file():
            continue
        try:
            datasets.append(pydicom.dcmread(path))
        except Exception:  # not DICOM, or not readable without force: ingest quarantines those
            continue
    return datasets


def timed_run(datasets: list[Dataset], apply: Callable[[Dataset], object]) -> float:
    elapsed = 0.0
    for original in datasets:
        ds = copy.deepcopy(original)
        start = time.perf_counter()
        apply(ds)
        elapsed += time.perf_counter() - start
    return elapsed


def peak_bytes(datasets: list[Dataset], apply: Callable[[Dataset], object]) -> int:
    """The most memory one file's de-identification allocated beyond its copy."""
    peak = 0
    tracemalloc.start()
    for original in datasets:
        ds = copy.deepcopy(original)
        current, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        apply(ds)
        peak = max(peak, tracemalloc.get_traced_memory()[1] - current)
        del ds
    tracemalloc.stop()
    return peak


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    with warnings.catch_warnings():  # pydicom warns about the test files' own defects
        warnings.simplefilter("ignore")
        datasets = load_datasets()
        tools: dict[str, Callable[[], Callable[[Dataset], object]]] = {
            "medlabel Deidentifier": lambda: Deidentifier(SECRET).apply,
            "dicognito Anonymizer": lambda: Anonymizer(seed="bench").anonymize,
        }
        rates: dict[str, float] = {}
        peaks: dict[str, int] = {}
        for name, make in tools.items():
            times = [timed_run(datasets, make()) for _ in range(args.repeat)]
            rates[name] = len(datasets) / statistics.median(times)
            peaks[name] = peak_bytes(datasets, make())
    print(
        f"de-identification alone: {len(datasets)} files (pydicom + pydicom-data), "
        f"median of {args.repeat} runs"
    )
    for name, rate in rates.items():
        print(f"  {name:22s} {rate:9.1f} files/s   peak per file {peaks[name] / 1e6:6.2f} MB")
    ours, theirs = rates.values()
    print(f"  ours / dicognito = {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
