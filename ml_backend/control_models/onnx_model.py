"""Bring your own model: a client's ONNX classifier or segmenter for one control, described by a manifest.

Files live in `MODEL_DIR/byom/<LS project id>/<control name>/`: `manifest.toml` and the ONNX file it names.
Everything the manifest promises is checked when the model loads (input name/shape/layout, output name, label
count vs output shape, labels vs the control) and a mismatch is a ByomError: logged per task, shown in /health,
the server keeps serving. A valid model replaces the built-in model of its control.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
from label_studio_sdk.converter.brush import mask2rle
from label_studio_sdk.label_interface import LabelInterface
from label_studio_sdk.label_interface.control_tags import ControlTag
from scipy.special import expit, softmax
from skimage.transform import resize

from ml_backend.control_models.base import ControlModel, ControlModelError, ModelStore, readable_object

MANIFEST = "manifest.toml"
_TASK_TAGS = {"classification": "Choices", "segmentation": "BrushLabels"}
_SESSIONS: dict[tuple[str, float, float], LoadedModel] = {}


class ByomError(ControlModelError):
    """A client's ONNX model or its manifest is unusable."""

    code = "invalid_byom_model"


@dataclass(frozen=True)
class Manifest:
    """What the client states about their model (see README: "Bring your own model")."""

    model: str
    task: str
    input: str
    output: str
    labels: tuple[str, ...]
    size: tuple[int, int]
    layout: str = "NCHW"
    channels: int = 1
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    activation: str = "softmax"
    threshold: float = 0.5

    @classmethod
    def read(cls, path: Path) -> Manifest:
        try:
            raw = tomllib.loads(path.read_text())
            manifest = cls(
                model=str(raw["model"]),
                task=str(raw["task"]),
                input=str(raw["input"]),
                output=str(raw["output"]),
                labels=tuple(str(x) for x in raw["labels"]),
                size=(int(raw["size"][0]), int(raw["size"][1])),
                layout=str(raw.get("layout", "NCHW")),
                channels=int(raw.get("channels", 1)),
                mean=tuple(float(x) for x in raw.get("mean", [0.0])),
                std=tuple(float(x) for x in raw.get("std", [1.0])),
                activation=str(raw.get("activation", "softmax")),
                threshold=float(raw.get("threshold", 0.5)),
            )
        except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError, IndexError) as exc:
            what = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
            raise ByomError(f"{path}: invalid manifest: {what}") from exc
        problems = []
        if manifest.task not in _TASK_TAGS:
            problems.append(f"task must be one of {sorted(_TASK_TAGS)}, not {manifest.task!r}")
        if manifest.layout not in ("NCHW", "NHWC"):
            problems.append(f"layout must be NCHW or NHWC, not {manifest.layout!r}")
        if manifest.channels not in (1, 3):
            problems.append(f"channels must be 1 or 3, not {manifest.channels}")
        if len(manifest.mean) not in (1, manifest.channels) or len(manifest.std) not in (
            1,
            manifest.channels,
        ):
            problems.append("mean and std need 1 value or one per channel")
        if manifest.activation not in ("softmax", "sigmoid", "none"):
            problems.append(f"activation must be softmax, sigmoid or none, not {manifest.activation!r}")
        if problems:
            raise ByomError(f"{path}: " + "; ".join(problems))
        return manifest


@dataclass(frozen=True)
class LoadedModel:
    manifest: Manifest
    session: onnxruntime.InferenceSession
    digest: str


def load_model(folder: Path) -> LoadedModel:
    """Manifest + ONNX session, checked against each other; cached per file modification times."""
    manifest_path = folder / MANIFEST
    manifest = Manifest.read(manifest_path)
    model_path = folder / manifest.model
    if not model_path.is_file():
        raise ByomError(f"{manifest_path}: model file {manifest.model!r} not found")
    key = (str(folder), manifest_path.stat().st_mtime, model_path.stat().st_mtime)
    if key in _SESSIONS:
        return _SESSIONS[key]
    try:
        session = onnxruntime.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors for any unreadable model
        raise ByomError(f"{model_path}: onnxruntime cannot load it: {exc}") from exc
    _check_signature(manifest, session, manifest_path)
    digest = hashlib.sha256(model_path.read_bytes() + manifest_path.read_bytes()).hexdigest()[:10]
    _SESSIONS[key] = LoadedModel(manifest, session, digest)
    return _SESSIONS[key]


def _check_signature(manifest: Manifest, session: onnxruntime.InferenceSession, where: Path) -> None:
    inputs = {i.name: i.shape for i in session.get_inputs()}
    outputs = {o.name: o.shape for o in session.get_outputs()}
    if manifest.input not in inputs:
        raise ByomError(f"{where}: the model has no input {manifest.input!r} (it has {sorted(inputs)})")
    if manifest.output not in outputs:
        raise ByomError(f"{where}: the model has no output {manifest.output!r} (it has {sorted(outputs)})")
    shape = inputs[manifest.input]
    h, w = manifest.size
    expected = (
        [None, manifest.channels, h, w] if manifest.layout == "NCHW" else [None, h, w, manifest.channels]
    )
    if len(shape) != 4 or any(
        isinstance(got, int) and want is not None and got != want
        for got, want in zip(shape, expected, strict=True)
    ):
        raise ByomError(
            f"{where}: input {manifest.input!r} has shape {shape}, but the manifest describes "
            f"{manifest.layout} with {manifest.channels} channel(s) of {h}x{w}"
        )
    out = outputs[manifest.output]
    label_axis = 1 if manifest.task == "segmentation" else len(out) - 1
    if manifest.task == "segmentation" and len(out) != 4:
        raise ByomError(f"{where}: a segmentation output must be (batch, labels, height, width), got {out}")
    if isinstance(out[label_axis], int) and out[label_axis] != len(manifest.labels):
        raise ByomError(
            f"{where}: output {manifest.output!r} gives {out[label_axis]} values per pixel/image but the manifest "
            f"lists {len(manifest.labels)} labels"
        )


def byom_status(model_dir: Path) -> list[dict[str, Any]]:
    """Every BYOM folder with its load status, for /health."""
    found = []
    for manifest in sorted((model_dir / "byom").glob(f"*/*/{MANIFEST}")):
        entry: dict[str, Any] = {
            "project": int(manifest.parent.parent.name) if manifest.parent.parent.name.isdigit() else None,
            "control": manifest.parent.name,
            "kind": OnnxModel.kind,
        }
        try:
            loaded = load_model(manifest.parent)
            entry.update(status="ok", task=loaded.manifest.task, version=loaded.digest)
        except ByomError as exc:
            entry.update(status="error", error=str(exc))
        found.append(entry)
    return found


class OnnxModel(ControlModel):
    kind = "byom_onnx"
    tag = "Choices"  # or BrushLabels: see matches()
    object_tags = ("Image",)

    @classmethod
    def matches(cls, control: ControlTag, interface: LabelInterface, store: ModelStore) -> bool:
        return (
            control.tag in _TASK_TAGS.values()
            and (store.byom_dir / MANIFEST).is_file()
            and all(readable_object(interface.get_object(name), cls.object_tags) for name in control.to_name)
        )

    def _loaded(self) -> LoadedModel:
        loaded = load_model(self.store.byom_dir)
        manifest = loaded.manifest
        if _TASK_TAGS[manifest.task] != self.control.tag:
            raise ByomError(
                f"{self.store.byom_dir}: a {manifest.task} model cannot serve <{self.control.tag}> "
                f"{self.control.name!r}"
            )
        unknown = [label for label in manifest.labels if label not in self.labels]
        if unknown:
            raise ByomError(
                f"{self.store.byom_dir}: labels {unknown} are not in control {self.control.name!r} ({self.labels})"
            )
        return loaded

    @property
    def version(self) -> str:
        try:
            return self._loaded().digest
        except ByomError:
            return "invalid"

    def describe(self) -> dict[str, Any]:
        try:
            return {**super().describe(), "status": "ok", "task": self._loaded().manifest.task}
        except ByomError as exc:
            return {**super().describe(), "status": "error", "error": str(exc)}

    def predict(self, task: dict[str, Any], context: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        if context:
            return []
        loaded = self._loaded()
        m = loaded.manifest
        path = self.media.local_path(task, self.object)
        image = self.media.image(task, self.object) if m.channels == 1 else _rgb(path)
        height, width = image.shape[:2]
        batch = _tensor(image, m)
        output = loaded.session.run([m.output], {m.input: batch})[0][0]
        if m.task == "classification":
            proba = _activate(np.asarray(output, dtype=np.float64).ravel(), m.activation)
            best = int(np.argmax(proba))
            return [self.region({"choices": [m.labels[best]]}, score=float(proba[best]))]
        return self._masks(np.asarray(output, dtype=np.float64), m, height, width)

    def _masks(self, output: np.ndarray, m: Manifest, height: int, width: int) -> list[dict[str, Any]]:
        proba = _activate(output, m.activation, axis=0)
        regions = []
        for j, label in enumerate(m.labels):
            label_proba = resize(proba[j], (height, width), order=1)
            full = label_proba >= m.threshold
            if not full.any():
                continue
            score = float(label_proba[full].mean())
            rle = mask2rle((full * 255).astype(np.uint8))
            regions.append(
                self.region(
                    {"format": "rle", "rle": rle, "brushlabels": [label]},
                    score=min(max(score, 0.0), 1.0),
                    original_width=width,
                    original_height=height,
                    image_rotation=0,
                )
            )
        return regions


def _rgb(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0


def _tensor(image: np.ndarray, m: Manifest) -> np.ndarray:
    h, w = m.size
    pixels = resize(image, (h, w) + image.shape[2:], anti_aliasing=True)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    pixels = (pixels - np.asarray(m.mean)) / np.asarray(m.std)
    if m.layout == "NCHW":
        pixels = pixels.transpose(2, 0, 1)
    return pixels[None].astype(np.float32)


def _activate(values: np.ndarray, activation: str, axis: int = -1) -> np.ndarray:
    """Model outputs → probabilities as the manifest says; "none" means they already are."""
    if activation == "softmax":
        return softmax(values, axis=axis)
    if activation == "sigmoid":
        return expit(values)
    return np.clip(values, 0.0, 1.0)
