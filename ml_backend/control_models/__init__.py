"""Registry of control models: one class per kind of Label Studio control the backend can pre-annotate.

`MedlabelBackend` serves each control of a project's config with the FIRST class here whose `matches()`
accepts it, so a client's own ONNX model (BYOM) comes first and overrides the built-in model of its control.
"""

from __future__ import annotations

from ml_backend.control_models.base import ControlModel
from ml_backend.control_models.ecg import EcgBeatsModel, EcgRhythmModel, EcgWavesModel
from ml_backend.control_models.head_ct import HeadCtHemorrhageModel
from ml_backend.control_models.image_choices import ImageChoicesModel
from ml_backend.control_models.image_regions import BrushLabelsModel, PolygonLabelsModel, RectangleLabelsModel
from ml_backend.control_models.onnx_model import OnnxModel
from ml_backend.control_models.text_ner import ClinicalNerModel

CONTROL_MODELS: tuple[type[ControlModel], ...] = (
    OnnxModel,
    ImageChoicesModel,
    HeadCtHemorrhageModel,
    BrushLabelsModel,
    PolygonLabelsModel,
    RectangleLabelsModel,
    EcgBeatsModel,
    EcgWavesModel,
    EcgRhythmModel,
    ClinicalNerModel,
)
