"""The contract between MedlabelBackend and its control models, and what they share: storage, media, examples.

One ControlModel subclass per kind of control (shape of label-studio-ml-backend's yolo `control_models`):
the backend builds one instance per (project, control) for every request, so `__init__` must stay cheap;
state lives on disk in the control's `ModelStore` (fit runs in a forked process, predict in the
gunicorn workers), expensive loads are cached per process by the model itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from label_studio_sdk.label_interface import LabelInterface
from label_studio_sdk.label_interface.control_tags import ControlTag
from label_studio_sdk.label_interface.object_tags import ObjectTag
from PIL import Image, UnidentifiedImageError

from medlabel.errors import MedlabelError


class ControlModelError(MedlabelError):
    """A control model cannot work on this task or project (bad input, not a server fault)."""

    code = "control_model_error"
    http_status = 400
    exit_code = 2


class MediaError(ControlModelError):
    """A task's data is missing, cannot be fetched from Label Studio, or does not decode."""

    code = "media_error"


@dataclass(frozen=True)
class Example:
    """One physician annotation of one task, reduced to the results of a single control."""

    task: dict[str, Any]
    #: Label Studio result dicts of this annotation whose `from_name` is the control's name.
    results: list[dict[str, Any]]
    annotation_id: int | None = None


class ModelStore:
    """The folder of one (project, control): `MODEL_DIR/projects/<project id>/<control name>/`.

    Writes are atomic (temp file in the same folder + os.replace) so a reader in another process never
    sees half a file; `lock()` serialises the read-modify-write of concurrent fit processes.
    """

    def __init__(self, model_dir: Path, project_id: int, control_name: str) -> None:
        self.model_dir = model_dir
        self.project_id = project_id
        self.control_name = control_name
        self.root = model_dir / "projects" / str(project_id) / control_name
        #: Where a client's own ONNX model for this control lives (see control_models/onnx_model.py).
        self.byom_dir = model_dir / "byom" / str(project_id) / control_name

    def path(self, name: str) -> Path:
        return self.root / name

    def read_json(self, name: str, default: Any = None) -> Any:
        try:
            return json.loads(self.path(name).read_text())
        except FileNotFoundError:
            return default

    def write_json(self, name: str, value: Any) -> None:
        self.write_bytes(name, json.dumps(value).encode())

    def read_npz(self, name: str) -> dict[str, np.ndarray] | None:
        try:
            with np.load(self.path(name), allow_pickle=False) as data:
                return {key: data[key] for key in data.files}
        except FileNotFoundError:
            return None

    def write_npz(self, name: str, **arrays: np.ndarray) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with self._atomic(name) as handle:
            np.savez(handle, **arrays)

    def write_bytes(self, name: str, data: bytes) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with self._atomic(name) as handle:
            handle.write(data)

    @contextlib.contextmanager
    def _atomic(self, name: str) -> Iterator[Any]:
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=f".{name}.")
        try:
            with os.fdopen(fd, "wb") as handle:
                yield handle
            os.replace(tmp, self.path(name))
        except BaseException:
            os.unlink(tmp)
            raise

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive lock of this store across processes (fit jobs are forked per event)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @property
    def version(self) -> int:
        """How many times this control's model was re-fitted; 0 before any training."""
        return int(self.read_json("state.json", {}).get("version", 0))

    def bump_version(self, kind: str) -> int:
        """Record a re-fit (the backend calls this under `lock()` when a model's fit changed it)."""
        state = self.read_json("state.json", {})
        state["version"] = int(state.get("version", 0)) + 1
        state["kind"] = kind
        self.write_json("state.json", state)
        return int(state["version"])


class MediaResolver:
    """Turns a task's data values into local files and arrays, fetching Label Studio URLs with its token.

    URLs like `/data/local-files/?d=...` or `/data/upload/...` are fetched from `hostname` (LABEL_STUDIO_URL) with
    `access_token` (the project's token from /setup, else LABEL_STUDIO_API_KEY) through label-studio-ml's own
    `get_local_path`, cached under `cache_dir`.
    """

    def __init__(self, hostname: str, access_token: str, cache_dir: Path) -> None:
        self.hostname = hostname
        self.access_token = access_token
        self.cache_dir = cache_dir

    @staticmethod
    def value(task: dict[str, Any], obj: ObjectTag) -> Any:
        """The task's data value for an object tag (`$image` → task["data"]["image"])."""
        key = obj.value_name
        data = task.get("data") or {}
        if key not in data or data[key] in (None, ""):
            raise MediaError(
                f"task {task.get('id')} has no data key {key!r} for <{obj.tag} name={obj.name!r}>"
            )
        return data[key]

    def local_path(self, task: dict[str, Any], obj: ObjectTag) -> Path:
        """A local file holding the media an object tag shows for this task."""
        from label_studio_tools.core.utils.io import get_local_path

        url = str(self.value(task, obj))
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        try:
            return Path(
                get_local_path(
                    url,
                    cache_dir=str(self.cache_dir),
                    hostname=self.hostname,
                    access_token=self.access_token,
                    task_id=task.get("id"),
                )
            )
        except Exception as exc:  # requests, FileNotFoundError, …: all mean "cannot fetch this task's media"
            raise MediaError(f"task {task.get('id')}: cannot fetch {obj.name!r} media: {exc}") from exc

    def image(self, task: dict[str, Any], obj: ObjectTag) -> np.ndarray:
        """The task's image as float32 grayscale in [0, 1], shape (height, width)."""
        path = self.local_path(task, obj)
        try:
            with Image.open(path) as img:
                return np.asarray(img.convert("L"), dtype=np.float32) / 255.0
        except (UnidentifiedImageError, OSError) as exc:
            raise MediaError(f"task {task.get('id')}: {obj.name!r} is not a decodable image") from exc

    def text(self, task: dict[str, Any], obj: ObjectTag) -> str:
        """The task's text: inline, or fetched when the object tag has valueType="url"."""
        if (obj.attr or {}).get("valueType") == "url":
            return self.local_path(task, obj).read_text(encoding="utf-8")
        return str(self.value(task, obj))


def readable_object(obj: ObjectTag, object_tags: tuple[str, ...]) -> bool:
    """An object tag of a supported kind showing one item per task (not a `valueList` series of images)."""
    return obj.tag in object_tags and bool((obj.attr or {}).get("value"))


class ControlModel(ABC):
    """Pre-annotates one control of one project, and (optionally) learns from its annotations.

    Example:
        class ImageChoicesModel(ControlModel):
            kind = "image_choices"
            tag = "Choices"
            object_tags = ("Image",)

            def predict(self, task, context=None):
                image = self.media.image(task, self.object)
                return [self.region({"choices": ["normal"]}, score=0.9)]
    """

    #: Registry name, shown in /health and model_version.
    kind: ClassVar[str]
    #: The Label Studio control tag served, e.g. "Choices", "BrushLabels".
    tag: ClassVar[str]
    #: Object tags (of the control's toName) this model can read, e.g. ("Image",).
    object_tags: ClassVar[tuple[str, ...]]

    def __init__(
        self, control: ControlTag, interface: LabelInterface, store: ModelStore, media: MediaResolver
    ) -> None:
        self.control = control
        self.interface = interface
        self.store = store
        self.media = media
        self.object: ObjectTag = interface.get_object(control.to_name[0])

    @classmethod
    def matches(cls, control: ControlTag, interface: LabelInterface, store: ModelStore) -> bool:
        """Whether this model serves `control`; the backend takes the first match in CONTROL_MODELS."""
        if control.tag != cls.tag or not control.to_name:
            return False
        return all(readable_object(interface.get_object(name), cls.object_tags) for name in control.to_name)

    @property
    def labels(self) -> list[str]:
        """The values this control accepts (labels or choices), in config order."""
        return list(self.control.labels)

    @property
    def version(self) -> str:
        """Part of the prediction's model_version; must change whenever predictions may change."""
        return str(self.store.version)

    @abstractmethod
    def predict(self, task: dict[str, Any], context: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Regions for one task, each with `score` in [0, 1].

        `context` is None for batch pre-annotation; in interactive mode it is Label Studio's context
        (`{"result": [the physician's keypoint/rectangle regions]}`): then return only regions derived
        from it, or [] if this model has no interactive mode. Raise ControlModelError (e.g. MediaError)
        for bad input: the backend logs it and answers an empty result for that task.
        """

    def fit(self, examples: Sequence[Example], *, replace: bool) -> bool:
        """Learn from physicians' annotations; return True if the model changed.

        Runs in a forked process while the backend holds `store.lock()`; the backend bumps the version.

        `replace=False`: examples update the training set (keyed by task id). `replace=True`: they are
        the project's whole annotated set (START_TRAINING, deletions). Models that do not learn keep this.
        """
        return False

    def describe(self) -> dict[str, Any]:
        """What /health shows about this model."""
        return {"control": self.control.name, "kind": self.kind, "version": self.version}

    def region(self, value: dict[str, Any], score: float, **extra: Any) -> dict[str, Any]:
        """A Label Studio result dict for this control."""
        return {
            "from_name": self.control.name,
            "to_name": self.object.name,
            "type": self.control.tag.lower(),
            "value": value,
            "score": float(score),
            **extra,
        }
