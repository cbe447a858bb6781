"""Registry of control models: one class per Label Studio control tag the backend can pre-annotate.

Empty until the pre-annotation issue adds models (choices, brush, rectangle, time series, NER, ONNX);
`MedlabelBackend` already dispatches through it, so each model is one entry here.
"""

from __future__ import annotations

from ml_backend.control_models.base import ControlModel

CONTROL_MODELS: tuple[type[ControlModel], ...] = ()
