"""Benchmarks: each `.venv/bin/python -m bench.<name>` prints a ratio against a baseline measured in the same run."""
