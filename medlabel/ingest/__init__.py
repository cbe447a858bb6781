"""Ingest: hospital files → de-identified Label Studio tasks (driver; the per-format work is in `plugins/ingest/`)."""
