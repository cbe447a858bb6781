"""The local stack's demo: a few projects fed through the real pipeline (ingest → routing → pre-annotation).

Inputs are real or simulated data written under the state folder at start-up (never committed): X-ray and
CT/MR DICOM files shipped by pydicom and pydicom-data, a DICOM ECG waveform plus neurokit2-simulated strips,
and generated clinical notes. Every step is the one a user runs, so the demo exercises what it shows; each is
idempotent, so a restart finds the same projects and adds nothing.
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from label_studio_sdk import LabelStudio
from pydicom.data import get_testdata_file
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medlabel.accounts.operations import account_for_physician, set_password
from medlabel.accounts.passwords import verify_password
from medlabel.db import make_engine, make_sessionmaker, platform_session
from medlabel.demo_reads import DemoReads, mirror_demo_project, submit_demo_reads
from medlabel.ingest.runner import IngestRun
from medlabel.ls_client import call
from medlabel.models import Assignment, Physician
from medlabel.models.routing import AssignmentState
from medlabel.preannotate import preannotate
from medlabel.projects import create_project
from medlabel.routing.demo import seed_demo_routing
from medlabel.routing.label_studio import open_tasks_by_physician
from medlabel.routing.policy import project_by_ls_id
from medlabel.secret_files import read_or_create
from medlabel.settings import Settings
from medlabel.synthetic import synthetic_ecg, synthetic_note
from plugins.ingest.base import IngestOptions

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoSpec:
    title: str
    template_id: str
    write_inputs: Callable[[Path], None]
    options: IngestOptions = field(default_factory=IngestOptions)


@dataclass
class DemoProject:
    id: int
    title: str
    tasks: int
    routed: int
    predictions: int


@dataclass(frozen=True)
class DemoLogin:
    """One physician's platform login, printed by the stack: it opens their worklist and the editor."""

    email: str
    password: str
    open_tasks: int
    physician_id: int


@dataclass
class Demo:
    projects: list[DemoProject] = field(default_factory=list)
    login: DemoLogin | None = None
    #: What the mirror holds per project after the demo's first reads.
    reads: list[DemoReads] = field(default_factory=list)


def _xrays(folder: Path) -> None:
    for name in ("RG1_UNCR.dcm", "RG3_UNCR.dcm"):  # a chest and an extremity radiograph (CR)
        shutil.copyfile(get_testdata_file(name), folder / name)


def _head_ct(folder: Path) -> None:
    # 693 twice (uncompressed and lossless JPEG 2000): the same pixels, so ingest keeps one task for both.
    for name in ("693_UNCR.dcm", "693_J2KR.dcm", "J2K_pixelrep_mismatch.dcm"):
        shutil.copyfile(get_testdata_file(name), folder / name)


def _ecgs(folder: Path) -> None:
    shutil.copyfile(get_testdata_file("waveform_ecg.dcm"), folder / "waveform_ecg.dcm")
    strips = (("sinus_rhythm", 72.0, 0), ("sinus_rhythm", 58.0, 5), ("atrial_fibrillation", 96.0, 0))
    for index, (rhythm, rate, pvc_every) in enumerate(strips):
        synthetic_ecg(rhythm=rhythm, heart_rate=rate, pvc_every=pvc_every, seed=index).write_csv(
            folder / f"strip{index}.csv"
        )


def _notes(folder: Path) -> None:
    with (folder / "notes.jsonl").open("w") as handle:
        for seed in range(6):
            handle.write(json.dumps({"text": synthetic_note(seed).text}, ensure_ascii=False) + "\n")


DEMOS = (
    DemoSpec("medlabel demo: chest X-ray (CheXpert)", "chest_xray_chexpert", _xrays),
    DemoSpec(
        "medlabel demo: head CT hemorrhage",
        "intracranial_hemorrhage_ct",
        _head_ct,
        # The subdural window resolves acute blood (50-90 HU) below bone and CSF above air, so the hemorrhage
        # model can read HU back; physicians narrow it to a brain window with the editor's contrast control.
        IngestOptions(window_preset="subdural"),
    ),
    DemoSpec("medlabel demo: ECG rhythm strip beats", "ecg_rhythm_strip_beats", _ecgs),
    DemoSpec("medlabel demo: discharge summary entities", "clinical_ner_relations", _notes),
)


def run_demo(client: LabelStudio, settings: Settings, ml_url: str) -> Demo:
    """Create (or find) each demo project, ingest its inputs, route them and pre-annotate them; give the
    physician with the most open work a password, so the printed login works in a browser; then a few
    physicians read in the first project (one of them unrouted, three of them disagreeing) and every project is
    mirrored and run through consensus."""
    existing = {p.title: int(p.id) for p in call("list projects", lambda: list(client.projects.list()))}
    projects = []
    for seed, spec in enumerate(DEMOS, start=11):
        inputs = settings.state_dir / "demo-inputs" / spec.template_id
        if inputs.exists():
            shutil.rmtree(inputs)
        inputs.mkdir(parents=True)
        spec.write_inputs(inputs)
        with platform_session(settings) as session:
            project_id = existing.get(spec.title)
            if project_id is None:
                project_id = create_project(
                    client, settings, spec.template_id, spec.title, session=session, ml_backend_url=ml_url
                ).id
            IngestRun(client, settings, session, project_id, spec.options).run([inputs])
            # Pool first, then routing of every task of the project, then each reader's Data Manager tab.
            seed_demo_routing(session, client, settings, project_id, size=12, seed=seed)
            record = project_by_ls_id(session, project_id)
            routed = len({t for tasks in open_tasks_by_physician(session, record).values() for t in tasks})
        preannotate(
            client, settings, project_id
        )  # Label Studio may have predicted some already (routing reads)
        tasks = call("list tasks", lambda pid=project_id: list(client.tasks.list(project=pid, fields="all")))
        projects.append(
            DemoProject(
                id=project_id,
                title=spec.title,
                tasks=len(tasks),
                routed=routed,
                predictions=sum(1 for t in tasks if any(p.result for p in (t.predictions or []))),
            )
        )
        logger.info("demo project %s ready: %s tasks", project_id, len(tasks))
    engine = make_engine(settings.database_url)
    maker = make_sessionmaker(engine)
    try:
        with maker() as session:
            submit_demo_reads(client, settings, session, projects[0].id)
        reads = [mirror_demo_project(maker, settings, p.id) for p in projects]
    finally:
        engine.dispose()
    # after the reads (and the review they caused): the login shows whoever has the most work left
    with platform_session(settings) as session:
        login = demo_login(session, settings)
    return Demo(projects, login, reads)


def demo_login(session: Session, settings: Settings) -> DemoLogin | None:
    """The busiest reader's account, with a password generated once into the state's secrets folder."""
    busiest = session.execute(
        select(Assignment.physician_id, func.count())
        .where(Assignment.state == AssignmentState.ASSIGNED.value)
        .group_by(Assignment.physician_id)
        .order_by(func.count().desc(), Assignment.physician_id)
        .limit(1)
    ).first()
    if busiest is None:
        return None
    physician = session.get(Physician, busiest[0])
    assert physician is not None
    account = account_for_physician(session, physician)
    password = read_or_create(
        settings.state_dir / "secrets" / "demo_physician_password", lambda: secrets.token_urlsafe(12)
    )
    if not verify_password(account.password_hash, password) or physician.ls_refresh_token is None:
        set_password(session, settings, account, password)
    return DemoLogin(account.email, password, int(busiest[1]), physician.id)
