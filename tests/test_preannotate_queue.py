"""Queued pre-annotation when a job dies: its tasks are reported failed, the run still finishes.

A real RQ worker process on a real Redis runs `run_batch`; Label Studio is unreachable from the worker (a
closed port), so every job raises — the fault a worker meets when Label Studio goes down mid-run.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
from pathlib import Path

from medlabel.preannotate import QUEUE_NAME, BatchResult, _run_queued
from medlabel.settings import PROJECT_ROOT, Settings
from tests.fixtures.label_studio import free_port


def test_a_job_that_dies_fails_its_tasks_and_the_run_goes_on(tmp_path: Path, redis_url: str) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    env = {**os.environ, "LABEL_STUDIO_URL": nowhere, "LABEL_STUDIO_API_KEY": "token"}
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / "rq"), "worker", "--url", redis_url, QUEUE_NAME],
        cwd=PROJECT_ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    outcome = BatchResult()
    finished: list[int] = []
    try:
        settings = dataclasses.replace(Settings(), redis_url=redis_url, label_studio_url=nowhere)
        _run_queued(settings, 7, [[1, 2], [3]], outcome, finished.append)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=15)
    assert sorted(finished) == [1, 2]
    assert sorted(outcome.failed) == [1, 2, 3] and not outcome.predicted
    assert all("cannot reach Label Studio" in reason for reason in outcome.failed.values()), outcome.failed
