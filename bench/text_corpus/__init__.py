"""A generated bilingual corpus of clinical notes with every identifier and medical term marked, for the scrubber.

Two splits that share no template, no medical sentence and no seed: `dev` (rules development and the name
CRF's training notes) and `heldout` (the bench and the recall test only). Notes come from templates
(`bench.text_corpus.templates`) whose `{SLOT}` fields are filled by `bench.text_corpus.values` and whose
`[[term]]` marks are medical content that must survive scrubbing.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass

from bench.text_corpus.templates import DEV, HELDOUT, Template
from bench.text_corpus.values import Values

SPLITS: dict[str, tuple[tuple[Template, ...], int]] = {"dev": (DEV, 1_000), "heldout": (HELDOUT, 9_000_000)}
_FIELD = re.compile(r"\{(?P<slot>[A-Za-z0-9_]+)\}|\[\[(?P<term>[^\]]+)\]\]")


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: str  # a PHI type (NAME, DATE, AGE, PHONE, ADDRESS, HOSPITAL, ID, CONTACT) or "MEDICAL"


@dataclass(frozen=True)
class Note:
    text: str
    language: str
    template: str
    phi: tuple[Span, ...]
    medical: tuple[Span, ...]


def render(template: Template, values: Values) -> Note:
    """Fill a template; each slot becomes PHI of its kind, each ``[[term]]`` a medical span."""
    parts: list[str] = []
    phi: list[Span] = []
    medical: list[Span] = []
    position = 0
    length = 0

    def add(text: str, kind: str | None) -> None:
        nonlocal length
        # a filled slot may itself carry [[medical]] marks (medical sentences, eponymous diseases)
        for piece in re.split(r"(\[\[[^\]]+\]\])", text):
            if piece.startswith("[["):
                piece = piece[2:-2]
                medical.append(Span(length, length + len(piece), "MEDICAL"))
            elif kind is not None and piece:
                phi.append(Span(length, length + len(piece), kind))
            parts.append(piece)
            length += len(piece)

    for match in _FIELD.finditer(template.text):
        add(template.text[position : match.start()], None)
        if match.group("term"):
            add(f"[[{match.group('term')}]]", None)
        else:
            kind, value = values.fill(match.group("slot"))
            add(value, kind or None)
        position = match.end()
    add(template.text[position:], None)
    return Note("".join(parts), template.language, template.name, tuple(phi), tuple(medical))


def generate(split: str, count: int, seed: int = 0) -> Iterator[Note]:
    """`count` notes of a split, templates in rotation, reproducible from `seed`."""
    templates, base_seed = SPLITS[split]
    rng = random.Random(base_seed + seed)
    for index in range(count):
        template = templates[index % len(templates)]
        yield render(template, Values(rng, split))
