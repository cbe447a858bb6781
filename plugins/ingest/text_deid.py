"""Scrub identifiers from English and Korean clinical notes: each becomes a typed placeholder like ``[NAME]``.

The rules (`plugins.ingest.text_deid_rules`) propose character ranges with a kind; ranges are painted in rule
priority order (a character belongs to the first rule that claims it), so overlapping rules never leave part of
an identifier behind. Each painted run becomes one placeholder; `Scrubbed.map_span` moves offsets of spans that
came with the note past the replacements.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from plugins.ingest.text_deid_rules import EN_NAME_STOPWORDS, RULES


@dataclass(frozen=True)
class Replacement:
    """One replaced identifier: its range in the original text and the placeholder kind."""

    start: int
    end: int
    kind: str

    @property
    def placeholder(self) -> str:
        return f"[{self.kind}]"


@dataclass(frozen=True)
class Scrubbed:
    """The scrubbed text and what was replaced (original offsets, ascending, non-overlapping)."""

    text: str
    replacements: tuple[Replacement, ...]

    def counts(self) -> dict[str, int]:
        return dict(Counter(r.kind for r in self.replacements))

    def map_span(self, start: int, end: int) -> tuple[int, int] | Replacement:
        """New offsets of an original span, or the replacement it overlaps (such a span cannot be kept)."""
        shift = 0
        for replacement in self.replacements:
            if replacement.start >= end:
                break
            if replacement.end > start:
                return replacement
            shift += len(replacement.placeholder) - (replacement.end - replacement.start)
        return start + shift, end + shift


def _candidates(text: str) -> Iterator[tuple[int, int, str]]:
    for rule in RULES:
        for match in rule.pattern.finditer(text):
            if rule.accept is not None and not rule.accept(match):
                continue
            start, end = match.span("id") if "id" in rule.pattern.groupindex else match.span()
            while end > start and text[end - 1] in " \t,":
                end -= 1
            if end > start:
                yield start, end, rule.kind


class _Painting:
    """Disjoint, sorted ranges with a kind; a new range only fills the gaps earlier ones left."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ranges: list[tuple[int, int, str]] = []

    def paint(self, start: int, end: int, kind: str) -> None:
        index = bisect.bisect_right(self.starts, start) - 1
        if index >= 0 and self.ranges[index][1] > start:
            start = self.ranges[index][1]  # the range to the left covers our beginning
        index += 1
        gaps: list[tuple[int, int, str]] = []
        while start < end:
            next_start = self.ranges[index][0] if index < len(self.ranges) else end
            if next_start > start:
                gaps.append((start, min(end, next_start), kind))
            if index >= len(self.ranges) or next_start >= end:
                break
            start = self.ranges[index][1]
            index += 1
        for gap in gaps:
            at = bisect.bisect_left(self.starts, gap[0])
            self.starts.insert(at, gap[0])
            self.ranges.insert(at, gap)

    def merged(self) -> list[Replacement]:
        """Touching ranges of one kind become one replacement (one placeholder for "John Smith")."""
        merged: list[Replacement] = []
        for start, end, kind in self.ranges:
            if merged and merged[-1].end == start and merged[-1].kind == kind:
                merged[-1] = Replacement(merged[-1].start, end, kind)
            else:
                merged.append(Replacement(start, end, kind))
        return merged


def _propagated_names(text: str, names: list[Replacement]) -> Iterator[tuple[int, int, str]]:
    """Once a name is found in context, its other mentions are names too ("Dr. Smith … Smith agreed")."""
    tokens: set[str] = set()
    for name in names:
        for word in re.findall(r"[A-Za-z][A-Za-z'-]+|[가-힣]{2,4}", text[name.start : name.end]):
            if word.lower() not in EN_NAME_STOPWORDS and (len(word) >= 3 or re.match("[가-힣]", word)):
                tokens.add(word)
    for token in sorted(tokens, key=len, reverse=True):
        hangul = re.match("[가-힣]", token) is not None
        pattern = r"(?<![가-힣])" + re.escape(token) if hangul else rf"\b{re.escape(token)}\b"
        for match in re.finditer(pattern, text):
            yield match.start(), match.end(), "NAME"


def scrub(text: str) -> Scrubbed:
    """Replace every identifier the rules find by its typed placeholder."""
    painting = _Painting()
    for candidate in _candidates(text):
        painting.paint(*candidate)
    found = painting.merged()
    for candidate in _propagated_names(text, [r for r in found if r.kind == "NAME"]):
        painting.paint(*candidate)
    replacements = painting.merged()
    parts: list[str] = []
    position = 0
    for replacement in replacements:
        parts += [text[position : replacement.start], replacement.placeholder]
        position = replacement.end
    parts.append(text[position:])
    return Scrubbed("".join(parts), tuple(replacements))
