"""Validate a Label Studio labeling-config XML and say exactly what is wrong, with tag and line.

`LabelInterface.validate()` (label-studio-sdk) checks structure, unique names and toName targets but
not tag or attribute names, duplicate labels, or where a problem sits; those checks run first here so
a manager gets a one-line error that points at the offending line.
"""

from __future__ import annotations

from collections.abc import Iterator

from label_studio_sdk.label_interface import LabelInterface
from lxml import etree

from medlabel.errors import LabelingConfigError
from medlabel.ls_tags import TAG_ATTRIBUTES, allowed_attributes

_CANONICAL_TAG = {name.lower(): name for name in TAG_ATTRIBUTES}
#: Tags whose children are the label set of a control.
LABEL_CHILD_TAGS = frozenset({"Label", "Choice"})


def _elements(root: etree._Element) -> Iterator[etree._Element]:
    for element in root.iter():
        if isinstance(element.tag, str):  # skip comments and processing instructions
            yield element


def parse(xml: str) -> etree._Element:
    """Parse XML, turning a syntax error into a LabelingConfigError with its line."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=False)
    try:
        root = etree.fromstring(xml.encode("utf-8"), parser)
    except etree.XMLSyntaxError as exc:
        raise LabelingConfigError(f"malformed XML: {exc.msg}", line=exc.lineno) from exc
    if root is None:
        raise LabelingConfigError("empty labeling config")
    return root


def validate(xml: str) -> LabelInterface:
    """Validate a labeling config; return its parsed LabelInterface or raise LabelingConfigError."""
    root = parse(xml)
    if root.tag.lower() != "view":
        raise LabelingConfigError("the root element must be <View>", tag=root.tag, line=root.sourceline)
    names: dict[str, int] = {}
    for element in _elements(root):
        tag = _CANONICAL_TAG.get(element.tag.lower())
        if tag is None:
            raise LabelingConfigError("unknown tag", tag=element.tag, line=element.sourceline)
        allowed = allowed_attributes(tag) or frozenset()
        allowed_lower = {a.lower() for a in allowed}
        for attribute in element.attrib:
            if attribute.lower() not in allowed_lower:
                raise LabelingConfigError(
                    f"unknown attribute {attribute!r}", tag=tag, line=element.sourceline
                )
        name = element.get("name")
        if name is not None and tag not in LABEL_CHILD_TAGS:
            if name in names:
                raise LabelingConfigError(
                    f"name {name!r} is already used at line {names[name]}", tag=tag, line=element.sourceline
                )
            names[name] = element.sourceline or 0
    for element in _elements(root):
        to_name = element.get("toName")
        if to_name is None:
            continue
        for target in to_name.split(","):
            if target not in names:
                raise LabelingConfigError(
                    f"toName {target!r} names no object in this config",
                    tag=element.tag,
                    line=element.sourceline,
                )
        _check_duplicate_labels(element)
    try:
        interface = LabelInterface(xml)
        interface.validate()
    except Exception as exc:  # the SDK raises several unrelated exception types
        raise LabelingConfigError(str(exc).splitlines()[0]) from exc
    if not list(interface.controls):
        raise LabelingConfigError("the config has no control tag: nothing to label")
    return interface


def _check_duplicate_labels(control: etree._Element) -> None:
    seen: dict[str, int] = {}
    for child in _elements(control):
        if child is control or _CANONICAL_TAG.get(child.tag.lower()) not in LABEL_CHILD_TAGS:
            continue
        value = child.get("value")
        if value is None:
            continue
        if value in seen and child.getparent() is not None:
            # Taxonomy may repeat a leaf name under different parents; only siblings must differ.
            siblings = [c.get("value") for c in child.getparent() if isinstance(c.tag, str)]
            if siblings.count(value) > 1 or child.getparent() is control:
                raise LabelingConfigError(
                    f"duplicate label {value!r} (first at line {seen[value]})",
                    tag=child.tag,
                    line=child.sourceline,
                )
        seen.setdefault(value, child.sourceline or 0)
