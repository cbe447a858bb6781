"""DICOM ingest: de-identification (PS3.15 Annex E), reading, rendering and the plugin."""
