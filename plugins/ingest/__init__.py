"""Ingest plugins: one per kind of hospital data (contract in `plugins.ingest.base`)."""

from __future__ import annotations

import importlib

from plugins.ingest.base import Plugin

#: Asked in this order: the ECG plugin must see DICOM waveforms and ECG CSVs before the image and text ones.
#: Imported on demand so that `medlabel --help` does not pay for pydicom, wfdb and their dependencies.
PLUGIN_CLASSES = (
    ("plugins.ingest.ecg", "EcgPlugin"),
    ("plugins.ingest.dicom.plugin", "DicomPlugin"),
    ("plugins.ingest.text", "TextPlugin"),
)


def load_plugins() -> list[Plugin]:
    return [getattr(importlib.import_module(module), name)() for module, name in PLUGIN_CLASSES]
