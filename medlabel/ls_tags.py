"""The labeling-config tags and attributes of the Label Studio we run, read from what Label Studio ships.

Label Studio's server checks configs for structure only (`core/label_config.py`); which tags exist and which
attributes each reads live in its front end. `ls_tags.json` beside this module is generated from the installed
Label Studio by `python -m medlabel.ls_tags [SITE_PACKAGES]` (default: `.ls-venv`'s), never edited by hand:

- the tag reference the config editor embeds (`web/dist/apps/labelstudio/main.js`, `JSON.parse('{"Audio":…}')`:
  documented tags and attributes, what labelstud.io/tags shows);
- the editor's own sources, shipped in the bundle's source maps (`*.js.map`, `sourcesContent`): every tag the
  editor registers (`Registry.addTag("x", …)`) and the MobX-State-Tree properties its model and mixins read,
  which is where undocumented but honoured attributes (`<Labels allowEmpty>`) live;
- the SDK's `LabelInterface` tag classes (label-studio-sdk, the version Label Studio pins), which also knows tags
  the Community editor does not render (`Chat`, `OcrLabels`: Enterprise).

The editor lowercases tag and attribute names (`core/Tree.tsx`), so lookups here are case-insensitive.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

DATA_FILE = Path(__file__).with_name("ls_tags.json")

#: Attributes Label Studio accepts on every tag (visibility rules, styling) plus the ML backend's own
#: tuning attributes, which label-studio-ml reads from the config (`model_score_threshold` …).
COMMON_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "className",
        "model_path",
        "model_score_threshold",
        "model_skip",
        "predicted_values",
        "style",
        "visibleWhen",
        "whenChoiceValue",
        "whenLabelValue",
        "whenRole",
        "whenTagName",
    }
)


@dataclass(frozen=True)
class TagInfo:
    """One config tag: its spelling in the docs, the attributes Label Studio reads, who knows it."""

    name: str
    #: None when neither the docs nor the editor describe the tag (known to the SDK only).
    attributes: frozenset[str] | None
    #: The installed Community editor can render it (a tag only the SDK knows is Enterprise-only).
    rendered: bool

    def accepts(self, attribute: str) -> bool:
        """Whether Label Studio reads `attribute` on this tag (True when nothing is known to say otherwise)."""
        if self.attributes is None:
            return True
        lowered = attribute.lower()
        return any(a.lower() == lowered for a in self.attributes | COMMON_ATTRIBUTES)


@cache
def tags() -> dict[str, TagInfo]:
    """Lowercased tag name → TagInfo, from the generated `ls_tags.json`."""
    document = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    return {
        name.lower(): TagInfo(
            name,
            None if info["attributes"] is None else frozenset(info["attributes"]),
            info["rendered"],
        )
        for name, info in document["tags"].items()
    }


def tag_info(tag: str) -> TagInfo | None:
    """The tag as Label Studio knows it, or None for a tag it does not have."""
    return tags().get(tag.lower())


# ------------------------------------------------------------------ generating ls_tags.json


def _js_string(source: str, start: int) -> tuple[str, int]:
    """The JS string literal starting at `start` (a quote) as Python text, and the index after it."""
    quote, index = source[start], start + 1
    while source[index] != quote:
        index += 2 if source[index] == "\\" else 1
    return ast.literal_eval(source[start : index + 1]), index + 1


def documented_tags(main_js: str) -> dict[str, Any]:
    """The tag reference the config editor embeds (the same data as labelstud.io/tags)."""
    start = main_js.index('JSON.parse(\'{"Audio":{"name":"Audio"') + len("JSON.parse(")
    text, _ = _js_string(main_js, start)
    return dict(json.loads(text))


_ADD_TAG = re.compile(r"""Registry\.addTag\(\s*["'](\w+)["']""")
_IMPORT = re.compile(r"""from\s+["'](\.[^"']+)["']""")
_MODEL = re.compile(r"types\s*\.model\(\s*(?:[\"'][^\"']*[\"']\s*,\s*)?\{|\.props\(\s*\{")


def _object_keys(source: str, brace: int) -> set[str]:
    """Keys at the top level of the JS object literal whose `{` is at `brace`, spread literals included
    (`...(flag ? { id, name } : { name })`)."""
    keys: set[str] = set()
    depth, index, expect_key, spread = 0, brace, False, False
    while index < len(source):
        char = source[index]
        if char in "\"'`":
            end = source.find(char, index + 1)
            while end > 0 and source[end - 1] == "\\":
                end = source.find(char, end + 1)
            index = (end if end > 0 else len(source)) + 1
            continue
        if source.startswith("//", index):
            index = source.find("\n", index)
            index = len(source) if index < 0 else index
            continue
        if source.startswith("/*", index):
            index = source.find("*/", index) + 2
            continue
        if char == "{" and spread and depth > 1:
            keys |= _object_keys(source, index)
        if char in "{([":
            depth += 1
            expect_key = depth == 1
        elif char in "})]":
            depth -= 1
            if depth == 0:
                break
        elif char == "," and depth == 1:
            expect_key, spread = True, False
        elif expect_key and not char.isspace():
            spread = source.startswith("...", index)
            match = re.match(r"(\w+)\s*:", source[index:])
            if match:
                keys.add(match.group(1))
            expect_key = False
        index += 1
    return keys


def editor_tags(sources: dict[str, str]) -> dict[str, set[str]]:
    """Registered tag → MST properties of its file and of the tag and mixin modules it imports, transitively."""

    def resolve(importer: str, spec: str) -> str | None:
        base = PurePosixPath(importer).parent / spec
        parts: list[str] = []
        for part in base.parts:
            if part == "..":
                parts.pop()
            elif part != ".":
                parts.append(part)
        stem = "/".join(parts)
        for candidate in (stem, *(stem + ext for ext in (".js", ".jsx", ".ts", ".tsx"))):
            for suffix in ("", "/index.js", "/index.ts"):
                if candidate + suffix in sources:
                    return candidate + suffix
        return None

    def properties(path: str, seen: set[str]) -> set[str]:
        if path in seen or not path.startswith(("tags/", "mixins/")):
            return set()
        seen.add(path)
        source = sources[path]
        found = {
            key.lower()
            for m in _MODEL.finditer(source)
            for key in _object_keys(source, m.end() - 1)
            if not key.startswith("_")  # MST internals (`_child`), never written in a config
        }
        for spec in _IMPORT.findall(source):
            target = resolve(path, spec)
            if target:
                found |= properties(target, seen)
        return found

    registered: dict[str, set[str]] = {}
    for path, source in sources.items():
        for name in _ADD_TAG.findall(source):
            if not name.endswith("region"):  # result regions, registered for the editor's own use
                registered.setdefault(name, set()).update(properties(path, set()))
    return registered


def sdk_tags() -> dict[str, str]:
    """Lowercased tag → its name, for every tag class of the SDK's LabelInterface."""
    from label_studio_sdk.label_interface import control_tags, object_tags

    return {
        key: class_name.removesuffix("Tag")
        for module in (control_tags, object_tags)
        for key, class_name in module._TAG_TO_CLASS.items()
    }


def editor_sources(dist: Path) -> dict[str, str]:
    """Editor source files (path under `libs/editor/src/`) from the bundle's source maps."""
    sources: dict[str, str] = {}
    for source_map in sorted(dist.glob("*.js.map")):
        document = json.loads(source_map.read_text(encoding="utf-8"))
        for name, text in zip(document["sources"], document.get("sourcesContent") or [], strict=False):
            if "/libs/editor/src/" in name and text:
                sources[name.split("/libs/editor/src/", 1)[1].split("?", 1)[0]] = text
    return sources


def generate(site_packages: Path) -> dict[str, Any]:
    """The content of ls_tags.json, from a Label Studio installation's site-packages."""
    from importlib.metadata import PathDistribution

    dist = site_packages / "web" / "dist" / "apps" / "labelstudio"
    main_js = dist / "main.js"
    documented = documented_tags(main_js.read_text(encoding="utf-8"))
    registered = editor_tags(editor_sources(dist))
    sdk = sdk_tags()
    spelled = {name.lower(): name for name in documented}
    for key, name in sdk.items():
        spelled.setdefault(key, name)
    result: dict[str, dict[str, Any]] = {}
    for key in sorted(set(spelled) | set(registered) | set(sdk)):
        doc = documented.get(spelled.get(key, ""), {})
        attributes = {a.lower(): a for a in registered.get(key, set())}
        attributes.update({a.lower(): a for a in doc.get("attrs", {})})  # documented spelling wins
        result[spelled.get(key, key)] = {
            "attributes": sorted(attributes.values(), key=str.lower) if attributes else None,
            "rendered": key in registered,
        }
    [info] = [d for d in site_packages.glob("label_studio-*.dist-info")]
    maps = sorted(dist.glob("*.js.map"))
    return {
        "generated_by": "python -m medlabel.ls_tags",
        "label_studio": PathDistribution(info).version,
        "sources": {
            str(path.relative_to(site_packages)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in [main_js, *maps]
        },
        "tags": result,
    }


def main(argv: list[str]) -> None:
    """Regenerate ls_tags.json from the Label Studio installed in .ls-venv (or the site-packages given)."""
    from medlabel.settings import PROJECT_ROOT

    site_packages = (
        Path(argv[0]) if argv else next((PROJECT_ROOT / ".ls-venv" / "lib").glob("python3*/site-packages"))
    )
    document = generate(site_packages)
    DATA_FILE.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{DATA_FILE}: {len(document['tags'])} tags from Label Studio {document['label_studio']}")


if __name__ == "__main__":
    main(sys.argv[1:])
