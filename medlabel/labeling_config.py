"""Check a Label Studio labeling-config XML the way Label Studio takes it, and say exactly what is wrong.

Label Studio's server refuses a config only on its JSON schema, a duplicate `name` or a `toName` that names
nothing; its editor then needs every tag to be one it knows. Those are errors here, reported with tag and line
(`check`). What Label Studio accepts but probably is not meant (an attribute it ignores, a repeated label, a tag
only Enterprise's editor renders) is a warning. Tags and attributes come from the installed Label Studio
(`medlabel.ls_tags`). `check` needs neither the SDK nor a server, so `medlabel templates validate` answers at
once; `validate` adds the SDK's `LabelInterface` for the paths that need the parsed interface.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lxml import etree

from medlabel.errors import LabelingConfigError
from medlabel.ls_tags import tag_info

if TYPE_CHECKING:
    from label_studio_sdk.label_interface import LabelInterface

#: Tags whose children are the label set of a control.
LABEL_CHILD_TAGS = frozenset({"Label", "Choice"})
#: An object tag's value that names a task data key (label-studio-sdk's `ObjectTag.value_is_variable`).
_VARIABLE = re.compile(r"\$[^, ]+")
#: Tags the SDK reads data for although they carry `toName` (its `_NOT_CONTROL_TAGS`, `_SELF_REFERENCING_TAGS`).
_OBJECTS_WITH_TO_NAME = frozenset({"filter", "chat", "reactcode"})


@dataclass(frozen=True)
class ConfigWarning:
    """Something Label Studio tolerates but that is probably not what the author meant."""

    message: str
    tag: str | None = None
    line: int | None = None

    def as_error(self) -> LabelingConfigError:
        return LabelingConfigError(self.message, tag=self.tag, line=self.line)

    def __str__(self) -> str:
        return str(self.as_error())


@dataclass(frozen=True)
class CheckedConfig:
    """A config that Label Studio accepts, with what it would silently ignore or not render."""

    root: etree._Element
    #: (tag, name) of each control tag, in document order.
    controls: list[tuple[str, str]]
    warnings: list[ConfigWarning] = field(default_factory=list)

    def strict(self) -> CheckedConfig:
        """This config, or its first warning raised as an error (for the configs we ship ourselves)."""
        if self.warnings:
            raise self.warnings[0].as_error()
        return self


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


def check(xml: str) -> CheckedConfig:
    """Check a labeling config as Label Studio would take it; raise LabelingConfigError on an error."""
    root = parse(xml)
    if root.tag.lower() != "view":
        raise LabelingConfigError("the root element must be <View>", tag=root.tag, line=root.sourceline)
    warnings: list[ConfigWarning] = []
    names: dict[str, int] = {}
    for element in _elements(root):
        info = tag_info(element.tag)
        if info is None:
            raise LabelingConfigError("unknown tag", tag=element.tag, line=element.sourceline)
        if not info.rendered:
            warnings.append(
                ConfigWarning(
                    "Label Studio Community's editor cannot render this tag (Enterprise only)",
                    info.name,
                    element.sourceline,
                )
            )
        for attribute in element.attrib:
            if not info.accepts(attribute):
                warnings.append(
                    ConfigWarning(
                        f"unknown attribute {attribute!r} (Label Studio ignores it)",
                        info.name,
                        element.sourceline,
                    )
                )
        name = element.get("name")
        if name is not None and info.name not in LABEL_CHILD_TAGS:
            if name in names:
                raise LabelingConfigError(
                    f"name {name!r} is already used at line {names[name]}",
                    tag=info.name,
                    line=element.sourceline,
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
        warnings += _duplicate_labels(element)
    _server_schema_check(root)
    controls = [
        (tag_info(e.tag).name, e.get("name", ""))  # type: ignore[union-attr]  # every tag is known by now
        for e in _elements(root)
        if e.get("name") and e.get("toName")
    ]
    if not controls:
        raise LabelingConfigError("the config has no control tag: nothing to label")
    return CheckedConfig(root, controls, warnings)


def data_keys(root: etree._Element) -> set[str]:
    """The task data keys a config's object tags read (`value="$csv"` → "csv"), without the SDK.

    Restates how label-studio-sdk's `LabelInterface._parse_config` finds them: an object is a named tag with
    `valueList` or `value` and no `toName` (`Filter` and the self-referencing `Chat` and `ReactCode` are objects
    even with one), and a value like `$csv`, without comma or space, names a key. So the catalog checks a sample
    task in milliseconds; tests/test_labeling_config.py holds both to the same answer on every config we know.
    """
    keys: set[str] = set()
    for element in _elements(root):
        if not element.get("name"):
            continue
        if element.get("toName") and element.tag.lower() not in _OBJECTS_WITH_TO_NAME:
            continue
        value = element.get("valueList") or element.get("value") or ""
        if _VARIABLE.fullmatch(value):
            keys.add(value[1:])
    return keys


def validate(xml: str) -> LabelInterface:
    """Check one of our own configs strictly (a warning is our bug) and parse it with the SDK's LabelInterface.

    Seconds slower than `check`: the SDK's label_interface imports faker, jsf and smart_open.
    """
    from label_studio_sdk.label_interface import LabelInterface

    check(xml).strict()
    try:
        interface = LabelInterface(xml)
        interface.validate()
    except Exception as exc:  # the SDK raises several unrelated exception types
        raise LabelingConfigError(str(exc).splitlines()[0]) from exc
    return interface


@cache
def _server_schema() -> dict[str, Any]:
    """The JSON schema Label Studio's server checks configs with. The SDK ships the same file as the server's
    `core/utils/schema/label_config_schema.json`; it is read by path because importing the SDK module that
    loads it costs seconds (find_spec does not run the package)."""
    spec = importlib.util.find_spec("label_studio_sdk")
    assert spec is not None and spec.submodule_search_locations, "label-studio-sdk is a dependency"
    folder = Path(next(iter(spec.submodule_search_locations)))
    return dict(json.loads((folder / "_legacy" / "schema" / "label_config_schema.json").read_text("utf-8")))


def _server_schema_check(root: etree._Element) -> None:
    """Refuse what Label Studio's server refuses: its JSON schema over the badgerfish form of the XML, built
    as `label_studio.core.label_config.validate_label_config` builds it."""
    import jsonschema
    from xmljson import badgerfish

    config = _wrap_single_choices(badgerfish.data(root))
    try:
        jsonschema.validate(config, _server_schema())
    except jsonschema.ValidationError as exc:
        failed = exc.context[-1] if exc.context else exc
        where = "/".join(map(str, exc.path))
        raise LabelingConfigError(
            f"Label Studio refuses it at {where}: {failed.message.replace('@', '')}"
        ) from exc


def _wrap_single_choices(config: Any) -> Any:
    """The SDK's `_fix_choices` (label_interface/interface.py), restated because importing that module costs
    seconds: a lone <Choice> becomes a one-item list, as the schema expects (label-studio issue #1259)."""
    if "Choices" in config:
        if "Choice" in config["Choices"] and not isinstance(config["Choices"]["Choice"], list):
            config["Choices"]["Choice"] = [config["Choices"]["Choice"]]
        elif isinstance(config["Choices"], list) and all("Choice" in c for c in config["Choices"]):
            for choices in config["Choices"]:
                if not isinstance(choices["Choice"], list):
                    choices["Choice"] = [choices["Choice"]]
    if "View" in config:
        if isinstance(config["View"], OrderedDict):
            config["View"] = _wrap_single_choices(config["View"])
        else:
            config["View"] = [_wrap_single_choices(view) for view in config["View"]]
    return config


def _duplicate_labels(control: etree._Element) -> list[ConfigWarning]:
    """Labels repeated among siblings: Label Studio shows both (its own gallery has one), so a warning."""
    found: list[ConfigWarning] = []
    seen: dict[str, int] = {}
    for child in _elements(control):
        info = tag_info(child.tag)
        if child is control or info is None or info.name not in LABEL_CHILD_TAGS:
            continue
        value = child.get("value")
        if value is None:
            continue
        if value in seen and child.getparent() is not None:
            # Taxonomy may repeat a leaf name under different parents; only siblings must differ.
            siblings = [c.get("value") for c in child.getparent() if isinstance(c.tag, str)]
            if siblings.count(value) > 1 or child.getparent() is control:
                found.append(
                    ConfigWarning(
                        f"duplicate label {value!r} (first at line {seen[value]})",
                        info.name,
                        child.sourceline,
                    )
                )
        seen.setdefault(value, child.sourceline or 0)
    return found
