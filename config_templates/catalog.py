"""The medical template catalog: load each template (config.xml + meta.toml), apply overrides, validate.

A template folder is `config_templates/<specialty>/<template id>/`. Label sets live only in meta.toml
(stable code + English + Korean name) and are written into the empty controls of config.xml when the
template is rendered, so one template serves every display language and every label-set override.
Options are `{{name}}` placeholders in attribute values, typed and defaulted in meta.toml.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lxml import etree

from medlabel import labeling_config
from medlabel.errors import LabelingConfigError, TemplateError, UnknownTemplateError
from medlabel.specialties import SPECIALTIES, Tier

if TYPE_CHECKING:
    from label_studio_sdk.label_interface import LabelInterface

CATALOG_ROOT = Path(__file__).resolve().parent

DATA_TYPES = frozenset({"image", "time_series", "text", "video", "llm_evaluation"})
TASK_TYPES = frozenset(
    {
        "classification",
        "detection",
        "segmentation",
        "keypoints",
        "grading",
        "ner",
        "relation_extraction",
        "coding",
        "event_segmentation",
        "phase_segmentation",
        "ranking",
        "rubric",
        "triage",
        "measurement",
    }
)
LANGUAGES = ("en", "ko", "both")
#: Controls whose label set is a list of <Label> children.
LABELS_CONTROLS = frozenset(
    {
        "Labels",
        "RectangleLabels",
        "PolygonLabels",
        "BrushLabels",
        "KeyPointLabels",
        "EllipseLabels",
        "TimeSeriesLabels",
        "ParagraphLabels",
        "HyperTextLabels",
        "TimelineLabels",
        "VideoRectangle",
    }
)
CHOICE_CONTROLS = frozenset({"Choices", "Taxonomy"})
#: Colours for labels that do not set their own: distinct on both light and dark images.
PALETTE = (
    "#e6194b",
    "#3cb44b",
    "#4363d8",
    "#f58231",
    "#911eb4",
    "#46f0f0",
    "#f032e6",
    "#bcf60c",
    "#fabebe",
    "#008080",
    "#e6beff",
    "#9a6324",
    "#fffac8",
    "#800000",
    "#aaffc3",
    "#808000",
)
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")
_ID = re.compile(r"^[a-z][a-z0-9_]{2,63}$")


@dataclass(frozen=True)
class LabelEntry:
    """One label of a label set: `code` is what exports carry, `en`/`ko` what physicians read."""

    code: str
    en: str
    ko: str
    color: str | None = None
    group: str | None = None  # parent node for Taxonomy controls
    hotkey: str | None = None

    def display(self, language: str) -> str:
        if language == "ko":
            return self.ko
        if language == "both":
            return f"{self.en} / {self.ko}"
        return self.en

    def hint(self, language: str) -> str:
        return self.ko if language == "en" else self.en


@dataclass(frozen=True)
class OptionSpec:
    """A template option a manager may set without touching XML."""

    name: str
    type: str  # bool | int | float | str | choice
    default: Any
    description: str
    choices: tuple[str, ...] = ()

    def coerce(self, value: Any) -> str:
        """Check `value` against the option's type; return it as the XML attribute text."""
        try:
            if self.type == "bool":
                if isinstance(value, str):
                    if value.lower() not in ("true", "false", "yes", "no", "1", "0"):
                        raise ValueError(value)
                    value = value.lower() in ("true", "yes", "1")
                return "true" if bool(value) else "false"
            if self.type == "int":
                return str(int(value))
            if self.type == "float":
                return repr(float(value))
            if self.type == "choice":
                if str(value) not in self.choices:
                    raise ValueError(value)
                return str(value)
            return str(value)
        except (TypeError, ValueError) as exc:
            expected = f"one of {', '.join(self.choices)}" if self.type == "choice" else f"a {self.type}"
            raise TemplateError(f"option {self.name!r} must be {expected}, not {value!r}") from exc


@dataclass(frozen=True)
class Template:
    """A catalog entry: XML skeleton plus the metadata that makes it a product."""

    id: str
    version: int
    title: str
    title_ko: str
    specialty: str
    subspecialty: str | None
    modality: str
    data_type: str
    task_type: str
    min_tier: Tier
    reads: int
    complexity: float
    instructions: Mapping[str, str]
    labelsets: Mapping[str, tuple[LabelEntry, ...]]
    options: Mapping[str, OptionSpec]
    sample_task: Mapping[str, Any]
    xml: str
    standard: str | None = None
    tags: tuple[str, ...] = ()
    path: Path | None = None

    def render(self, overrides: Overrides | None = None) -> RenderedTemplate:
        """Apply `overrides` to this template and validate the result."""
        return _render(self, overrides or Overrides())


@dataclass(frozen=True)
class Overrides:
    """What a project manager may change: label sets, display language, instructions, options."""

    labels: Mapping[str, Sequence[LabelEntry | str]] = field(default_factory=dict)
    language: str | None = None
    instructions: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RenderedTemplate:
    """A template ready for Label Studio: the final XML and what the platform needs beside it."""

    template: Template
    xml: str
    language: str
    instructions: str
    labelsets: Mapping[str, tuple[LabelEntry, ...]]

    def label_codes(self) -> dict[str, dict[str, str]]:
        """control name → {value shown in Label Studio → stable code}, for mapping results back."""
        return {
            control: {entry.display(self.language): entry.code for entry in entries}
            for control, entries in self.labelsets.items()
        }


# ---------------------------------------------------------------- loading


def _require(meta: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in meta:
        raise TemplateError(f"{where}: meta.toml lacks {key!r}")
    value = meta[key]
    if not isinstance(value, kind):
        raise TemplateError(f"{where}: {key!r} has the wrong type ({type(value).__name__})")
    return value


def _label_entry(raw: Any, where: str) -> LabelEntry:
    if not isinstance(raw, Mapping):
        raise TemplateError(f"{where}: a label must be a table with code, en and ko")
    missing = [k for k in ("code", "en", "ko") if not isinstance(raw.get(k), str) or not raw.get(k)]
    if missing:
        raise TemplateError(f"{where}: label {raw.get('code', raw)!r} lacks {', '.join(missing)}")
    unknown = set(raw) - {"code", "en", "ko", "color", "group", "hotkey"}
    if unknown:
        raise TemplateError(f"{where}: label {raw['code']!r} has unknown keys {sorted(unknown)}")
    return LabelEntry(
        code=raw["code"],
        en=raw["en"],
        ko=raw["ko"],
        color=raw.get("color"),
        group=raw.get("group"),
        hotkey=raw.get("hotkey"),
    )


def _check_labelset(control: str, entries: Sequence[LabelEntry], where: str) -> None:
    if not entries:
        raise TemplateError(f"{where}: label set {control!r} is empty")
    for attr in ("code", "en", "ko"):
        values = [getattr(e, attr) for e in entries]
        duplicates = sorted({v for v in values if values.count(v) > 1})
        if duplicates:
            raise TemplateError(f"{where}: label set {control!r} repeats {attr} {', '.join(duplicates)}")


def load_template_dir(folder: Path) -> Template:
    """Load and check one template folder (config.xml + meta.toml)."""
    where = folder.name
    try:
        meta = tomllib.loads((folder / "meta.toml").read_text(encoding="utf-8"))
        xml = (folder / "config.xml").read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise TemplateError(f"{where}: missing {Path(exc.filename).name}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise TemplateError(f"{where}: meta.toml is not valid TOML: {exc}") from exc
    template_id = _require(meta, "id", str, where)
    if template_id != folder.name or not _ID.match(template_id):
        raise TemplateError(f"{where}: id {template_id!r} must match the folder name and [a-z0-9_]")
    specialty = _require(meta, "specialty", str, where)
    if specialty not in SPECIALTIES:
        raise TemplateError(f"{where}: unknown specialty {specialty!r}")
    if folder.parent.name != specialty:
        raise TemplateError(f"{where}: lives under {folder.parent.name}/ but its specialty is {specialty}")
    subspecialty = meta.get("subspecialty")
    if subspecialty is not None and subspecialty not in SPECIALTIES[specialty].subspecialties:
        raise TemplateError(f"{where}: unknown subspecialty {subspecialty!r} of {specialty}")
    data_type = _require(meta, "data_type", str, where)
    if data_type not in DATA_TYPES:
        raise TemplateError(f"{where}: data_type must be one of {sorted(DATA_TYPES)}")
    task_type = _require(meta, "task_type", str, where)
    if task_type not in TASK_TYPES:
        raise TemplateError(f"{where}: task_type must be one of {sorted(TASK_TYPES)}")
    try:
        min_tier = Tier(_require(meta, "min_tier", str, where))
    except ValueError as exc:
        raise TemplateError(f"{where}: min_tier must be one of {[t.value for t in Tier]}") from exc
    reads = _require(meta, "reads", int, where)
    complexity = _require(meta, "complexity", (int, float), where)
    if not 1 <= reads <= 10 or not 0 < complexity <= 20:
        raise TemplateError(f"{where}: reads must be 1..10 and complexity in (0, 20]")
    instructions = _require(meta, "instructions", dict, where)
    if not all(isinstance(instructions.get(k), str) and instructions[k].strip() for k in ("en", "ko")):
        raise TemplateError(f"{where}: instructions need non-empty en and ko")
    labelsets: dict[str, tuple[LabelEntry, ...]] = {}
    for control, raw_entries in meta.get("labelsets", {}).items():
        entries = tuple(_label_entry(raw, where) for raw in raw_entries)
        _check_labelset(control, entries, where)
        labelsets[control] = entries
    options: dict[str, OptionSpec] = {}
    for name, raw in meta.get("options", {}).items():
        spec = OptionSpec(
            name=name,
            type=raw.get("type", "str"),
            default=raw.get("default"),
            description=raw.get("description", ""),
            choices=tuple(raw.get("choices", ())),
        )
        if spec.type not in ("bool", "int", "float", "str", "choice") or spec.default is None:
            raise TemplateError(f"{where}: option {name!r} needs a known type and a default")
        spec.coerce(spec.default)
        options[name] = spec
    undeclared = set(_PLACEHOLDER.findall(xml)) - set(options)
    if undeclared:
        raise TemplateError(f"{where}: config.xml uses undeclared options {sorted(undeclared)}")
    sample_task = _require(meta, "sample_task", dict, where)
    return Template(
        id=template_id,
        version=_require(meta, "version", int, where),
        title=_require(meta, "title", str, where),
        title_ko=_require(meta, "title_ko", str, where),
        specialty=specialty,
        subspecialty=subspecialty,
        modality=_require(meta, "modality", str, where),
        data_type=data_type,
        task_type=task_type,
        min_tier=min_tier,
        reads=reads,
        complexity=float(complexity),
        instructions=instructions,
        labelsets=labelsets,
        options=options,
        sample_task=sample_task,
        xml=xml,
        standard=meta.get("standard"),
        tags=tuple(meta.get("tags", ())),
        path=folder,
    )


@cache
def _catalog() -> dict[str, Template]:
    templates: dict[str, Template] = {}
    for meta_path in sorted(CATALOG_ROOT.glob("*/*/meta.toml")):
        template = load_template_dir(meta_path.parent)
        if template.id in templates:
            raise TemplateError(f"template id {template.id!r} is used twice")
        templates[template.id] = template
    return templates


def list_templates(specialty: str | None = None, data_type: str | None = None) -> list[Template]:
    """Catalog entries, filtered by specialty and data type, ordered by specialty then id."""
    if specialty is not None and specialty not in SPECIALTIES:
        raise TemplateError(f"unknown specialty {specialty!r}; known: {', '.join(SPECIALTIES)}")
    if data_type is not None and data_type not in DATA_TYPES:
        raise TemplateError(f"unknown data type {data_type!r}; known: {', '.join(sorted(DATA_TYPES))}")
    return sorted(
        (
            t
            for t in _catalog().values()
            if (specialty is None or t.specialty == specialty)
            and (data_type is None or t.data_type == data_type)
        ),
        key=lambda t: (t.specialty, t.id),
    )


def get_template(template_id: str) -> Template:
    """The catalog entry with this id, or UnknownTemplateError."""
    try:
        return _catalog()[template_id]
    except KeyError:
        raise UnknownTemplateError(
            f"unknown template {template_id!r}; see `medlabel templates list`"
        ) from None


# ---------------------------------------------------------------- rendering


def _resolve_labelset(
    template: Template, control: str, wanted: Sequence[LabelEntry | str]
) -> tuple[LabelEntry, ...]:
    known = {entry.code: entry for entry in template.labelsets[control]}
    entries: list[LabelEntry] = []
    for item in wanted:
        if isinstance(item, LabelEntry):
            entries.append(item)
        elif item in known:
            entries.append(known[item])
        else:
            raise TemplateError(
                f"label set {control!r} of {template.id} has no label {item!r}; known: {', '.join(known)}"
            )
    _check_labelset(control, entries, template.id)
    return tuple(entries)


def _fill_control(control: etree._Element, entries: Sequence[LabelEntry], language: str) -> None:
    tag = control.tag
    if tag in LABELS_CONTROLS:
        for index, entry in enumerate(entries):
            attrs = {
                "value": entry.display(language),
                "background": entry.color or PALETTE[index % len(PALETTE)],
                "hint": entry.hint(language),
            }
            if entry.hotkey:
                attrs["hotkey"] = entry.hotkey
            etree.SubElement(control, "Label", attrs)
    elif tag == "Taxonomy":
        groups: dict[str, etree._Element] = {}
        for entry in entries:
            parent = control
            if entry.group:
                if entry.group not in groups:
                    groups[entry.group] = etree.SubElement(control, "Choice", {"value": entry.group})
                parent = groups[entry.group]
            etree.SubElement(
                parent, "Choice", {"value": entry.display(language), "hint": entry.hint(language)}
            )
    else:  # Choices
        for entry in entries:
            attrs = {"value": entry.display(language), "hint": entry.hint(language)}
            if entry.hotkey:
                attrs["hotkey"] = entry.hotkey
            etree.SubElement(control, "Choice", attrs)


def _render(template: Template, overrides: Overrides) -> RenderedTemplate:
    language = overrides.language or "en"
    if language not in LANGUAGES:
        raise TemplateError(f"language must be one of {', '.join(LANGUAGES)}, not {language!r}")
    unknown_sets = set(overrides.labels) - set(template.labelsets)
    if unknown_sets:
        raise TemplateError(
            f"{template.id} has no label set {', '.join(sorted(unknown_sets))}; "
            f"its label sets: {', '.join(template.labelsets) or 'none'}"
        )
    unknown_options = set(overrides.options) - set(template.options)
    if unknown_options:
        raise TemplateError(
            f"{template.id} has no option {', '.join(sorted(unknown_options))}; "
            f"its options: {', '.join(template.options) or 'none'}"
        )
    values = {
        name: spec.coerce(overrides.options.get(name, spec.default))
        for name, spec in template.options.items()
    }
    xml = _PLACEHOLDER.sub(lambda m: values[m.group(1)], template.xml)
    labelsets = {
        control: _resolve_labelset(template, control, overrides.labels[control])
        if control in overrides.labels
        else entries
        for control, entries in template.labelsets.items()
    }
    root = labeling_config.parse(xml)
    controls = {el.get("name"): el for el in root.iter() if isinstance(el.tag, str) and el.get("toName")}
    for control_name, entries in labelsets.items():
        control = controls.get(control_name)
        if control is None:
            raise TemplateError(f"{template.id}: label set {control_name!r} names no control in config.xml")
        if control.tag not in LABELS_CONTROLS | CHOICE_CONTROLS:
            raise TemplateError(f"{template.id}: <{control.tag}> {control_name!r} cannot take a label set")
        if len(control):
            raise TemplateError(f"{template.id}: control {control_name!r} must be empty in config.xml")
        _fill_control(control, entries, language)
    final = etree.tostring(root, encoding="unicode", pretty_print=True)
    try:
        # the SDK's full parse waits for check_template: it costs seconds
        labeling_config.check(final).strict()
    except LabelingConfigError as exc:
        raise TemplateError(f"{template.id}: {exc}") from exc
    instructions = overrides.instructions or template.instructions["ko" if language == "ko" else "en"]
    return RenderedTemplate(
        template=template, xml=final, language=language, instructions=instructions, labelsets=labelsets
    )


# ---------------------------------------------------------------- checking a whole template


def sample_prediction(rendered: RenderedTemplate, interface: LabelInterface | None = None) -> dict[str, Any]:
    """A prediction Label Studio would accept for this config, generated by label-studio-sdk."""
    interface = interface or labeling_config.validate(rendered.xml)
    prediction = interface.generate_sample_prediction()
    if prediction is None or not prediction.get("result"):
        raise TemplateError(f"{rendered.template.id}: no valid sample prediction can be generated")
    return prediction


def check_template(template: Template, *, deep: bool = True) -> None:
    """Everything a template must satisfy: renders in every language, sample task (and prediction) fit.

    Rendering already gives Label Studio's own verdict on each language's XML (`labeling_config.check`: tags,
    attributes, names, `toName`, the server's schema), and the sample task's keys are read from the XML; that
    is milliseconds. `deep` adds the SDK round trip: label-studio-sdk parses the config, generates a sample
    prediction and validates it, which proves the ML backend's kind of output fits. Its import alone costs
    ~1.5 s, so `medlabel templates validate` runs it only with `--deep`: every shipped template gets the deep
    check in the test suite (tests/test_catalog.py), and a manager asking whether a template is valid gets an
    answer at once.
    """
    for language in LANGUAGES:
        rendered = template.render(Overrides(language=language))
    keys = labeling_config.data_keys(labeling_config.parse(rendered.xml))
    missing = sorted(k for k in keys if template.sample_task.get(k) is None)
    if missing:
        raise TemplateError(f"{template.id}: sample_task lacks data key(s) {', '.join(missing)}")
    if not deep:
        return
    interface = labeling_config.validate(rendered.xml)
    if not interface.validate_prediction(sample_prediction(rendered, interface)):
        raise TemplateError(f"{template.id}: the generated sample prediction does not validate")
