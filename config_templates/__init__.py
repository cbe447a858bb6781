"""Medical labeling templates for Label Studio, as data: one folder per template under its specialty."""

from config_templates.catalog import (
    LabelEntry,
    Overrides,
    RenderedTemplate,
    Template,
    get_template,
    list_templates,
    load_template_dir,
)

__all__ = [
    "LabelEntry",
    "Overrides",
    "RenderedTemplate",
    "Template",
    "get_template",
    "list_templates",
    "load_template_dir",
]
