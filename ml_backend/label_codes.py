"""Map a project's label values back to the catalog's stable codes, whatever language or subset it shows.

Projects render labels as English, Korean or "English / Korean" text, and a manager may keep a subset;
models reason in codes ("aami_v", "atrial_fibrillation", "medication"), so they look values up here and
skip the codes a project lacks.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from config_templates import list_templates
from config_templates.catalog import LANGUAGES


@cache
def _catalog_index() -> dict[str, str]:
    """Every display form (and the code itself) of every catalog label → its code."""
    index: dict[str, str] = {}
    for template in list_templates():
        for entries in template.labelsets.values():
            for entry in entries:
                index.setdefault(entry.code, entry.code)
                for language in LANGUAGES:
                    index.setdefault(entry.display(language), entry.code)
    return index


def value_by_code(values: Iterable[str]) -> dict[str, str]:
    """For a control's label values, code → the value to send; values the catalog doesn't know are left out."""
    index = _catalog_index()
    mapping: dict[str, str] = {}
    for value in values:
        code = index.get(value)
        if code is not None:
            mapping.setdefault(code, value)
    return mapping
