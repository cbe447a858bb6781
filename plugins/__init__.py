"""The per-kind pieces, grouped by what they plug into: `ingest/` (one per kind of hospital data)."""
