"""Span recall per PHI type and language, and the share of medical terms a scrubber destroyed.

A PHI span counts as found when every non-space character of it lies inside ranges the scrubber replaced,
whatever type it called them (a leak is a leak; a name called a hospital still hides the name). A medical
term counts as destroyed when any of its characters was replaced.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from bench.text_corpus import Note

Ranges = list[tuple[int, int]]


@dataclass
class Score:
    found: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    total: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    destroyed: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    medical: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    misses: list[tuple[str, str, str]] = field(default_factory=list)  # (type, language, text) for debugging

    def recall(self, kind: str | None = None, language: str | None = None) -> float:
        keys = [k for k in self.total if (kind in (None, k[0])) and (language in (None, k[1]))]
        total = sum(self.total[k] for k in keys)
        return sum(self.found[k] for k in keys) / total if total else 1.0

    def overscrub(self, language: str | None = None) -> float:
        keys = [k for k in self.medical if language in (None, k)]
        total = sum(self.medical[k] for k in keys)
        return sum(self.destroyed[k] for k in keys) / total if total else 0.0


def _covered(text: str, start: int, end: int, mask: bytearray) -> bool:
    return all(mask[i] or text[i].isspace() for i in range(start, end))


def evaluate(notes: Iterable[Note], scrubber: Callable[[str], Ranges]) -> Score:
    score = Score()
    for note in notes:
        mask = bytearray(len(note.text))
        for start, end in scrubber(note.text):
            mask[start:end] = b"\x01" * (end - start)
        for span in note.phi:
            key = (span.kind, note.language)
            score.total[key] += 1
            if _covered(note.text, span.start, span.end, mask):
                score.found[key] += 1
            else:
                score.misses.append((span.kind, note.language, note.text[span.start : span.end]))
        for span in note.medical:
            score.medical[note.language] += 1
            if any(mask[span.start : span.end]):
                score.destroyed[note.language] += 1
    return score
