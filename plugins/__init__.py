"""Ingest plugins: one per kind of hospital data (contract in `plugins.base`)."""

from __future__ import annotations

import importlib

from plugins.base import Plugin

#: Asked in this order: the ECG plugin must see DICOM waveforms and ECG CSVs before the image and text ones.
#: Imported on demand so that `medlabel --help` does not pay for pydicom, wfdb and their dependencies.
PLUGIN_CLASSES = (
    ("plugins.ecg", "EcgPlugin"),
    ("plugins.dicom.plugin", "DicomPlugin"),
    ("plugins.text", "TextPlugin"),
)


def load_plugins() -> list[Plugin]:
    return [getattr(importlib.import_module(module), name)() for module, name in PLUGIN_CLASSES]
