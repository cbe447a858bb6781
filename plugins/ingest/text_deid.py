"""Scrub identifiers from English and Korean clinical notes: each becomes a typed placeholder like ``[NAME]``
(an age over 89 becomes "90+", HIPAA Safe Harbor's aggregate).

Ranges are painted in priority order (a character belongs to the first layer that claims it), so overlapping
finders never leave part of an identifier behind:
1. protected medical phrases (`plugins.ingest.text_deid_protected`: "Graves disease", "Heart Failure Clinic"),
   painted to be kept;
2. the rules (`plugins.ingest.text_deid_rules`), minus Korean "names" after a cue that are rather a medical
   word ("환자 진통제 요청함");
3. names the CRF (`plugins.ingest.text_deid_crf`) scores over Kiwi tokens, when they are plausible (a
   gazetteer word in an English run; a Korean word less its particle, 송채혁|은, with no verb or known noun);
4. every other mention of a name found so far, and the given name of a Korean full name (이예진 … 예진이).
Each painted run becomes one placeholder; `Scrubbed.map_span` moves offsets of spans that came with the note
past the replacements. Name-like tokens scored near the threshold are reported in `Scrubbed.uncertain`.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from plugins.ingest.text_deid_crf import name_probabilities
from plugins.ingest.text_deid_gazetteer import en_common_words, en_first_names, en_last_names, ko_surnames
from plugins.ingest.text_deid_korean import EOJEOL, Token, tokenize
from plugins.ingest.text_deid_protected import PROTECTED
from plugins.ingest.text_deid_rules import EN_NAME_STOPWORDS, RULES, Rule

KEEP = "KEEP"
#: A CRF name score at or above this is replaced; between `UNSURE` and `CERTAIN` it is also reported.
THRESHOLD, UNSURE, CERTAIN = 0.5, 0.15, 0.8
SURE = 0.95  # what a Korean hit that holds a dictionary word needs
_HANGUL = re.compile("[가-힣]+")
_KO_NAME_END = "(?=[이가은는을를의와과야아도께에씨님]|[^가-힣]|$)"


@dataclass(frozen=True)
class Replacement:
    """One replaced identifier: its range in the original text and the placeholder kind."""

    start: int
    end: int
    kind: str

    @property
    def placeholder(self) -> str:
        return "90+" if self.kind == "AGE" else f"[{self.kind}]"


@dataclass(frozen=True)
class Uncertain:
    """A name-like token the scrubber was unsure of: kept (`replaced` False) or replaced with a low score."""

    start: int
    end: int
    kind: str
    score: float
    replaced: bool


@dataclass(frozen=True)
class Scrubbed:
    """The scrubbed text and what was replaced (original offsets, ascending, non-overlapping)."""

    text: str
    replacements: tuple[Replacement, ...]
    uncertain: tuple[Uncertain, ...] = ()

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


def _candidates(text: str, rules: tuple[Rule, ...] = RULES) -> Iterator[tuple[int, int, str]]:
    for rule in rules:
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


def _doubtful_korean(text: str, tokens: list[Token], scores: list[float], start: int, end: int) -> bool:
    """A Hangul "name" from a cue rule that is rather a medical word after 환자 (환자 진통제, 환자 도뇨관):
    Kiwi knows it as a common noun, or the CRF gives it no chance and no honorific or bracket follows."""
    inside = [i for i, t in enumerate(tokens) if start <= t.start < end]
    if not inside:
        return False
    first = tokens[inside[0]]
    if first.tag == "NNG" and first.known and first.end - first.start >= 2 and first.start == start:
        if first.end >= end:  # 이하|은 is a name (이하은), 진통제 is not
            return True
    honorific = re.match(r"[ \t]?(?:님|씨|교수|선생|원장|과장|\()", text[end:]) is not None
    return max(scores[i] for i in inside) < UNSURE and not honorific


def _english_shaped(form: str) -> bool:
    """A capitalised Latin word that is no stopword, and no everyday English word unless it is also a name
    ("There", "Alert" are not; "Mark", "Grant" may be)."""
    if re.fullmatch(r"[A-Z][A-Za-z'’-]*", form) is None or form.lower() in EN_NAME_STOPWORDS:
        return False
    return form.lower() not in en_common_words() or form in en_first_names() or form in en_last_names()


def _english_names(
    text: str, tokens: list[Token], scores: list[float]
) -> tuple[list[tuple[int, int]], list[Uncertain]]:
    """Runs of capitalised words the CRF scores as a name, joined across spaces and apostrophes. One is
    replaced when a word is a gazetteer first or last name or when two or more words are all scored sure;
    otherwise it is kept and reported (a capitalised "Troponin" at a sentence start is neither)."""
    names: list[tuple[int, int]] = []
    unsure: list[Uncertain] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if _HANGUL.fullmatch(token.form) or not _english_shaped(token.form) or scores[i] < UNSURE:
            i += 1
            continue
        if scores[i] < THRESHOLD:
            unsure.append(Uncertain(token.start, token.end, "NAME", round(scores[i], 3), False))
            i += 1
            continue
        j = i + 1
        while (
            j < len(tokens)
            and text[tokens[j - 1].end : tokens[j].start].strip(" '’-") == ""
            and scores[j] >= THRESHOLD
            and _english_shaped(tokens[j].form)
        ):
            j += 1
        start, end, low = token.start, tokens[j - 1].end, min(scores[i:j])
        in_gazetteer = any(t.form in en_first_names() or t.form in en_last_names() for t in tokens[i:j])
        if in_gazetteer or (j - i >= 2 and low >= SURE):
            names.append((start, end))
            if low < CERTAIN:
                unsure.append(Uncertain(start, end, "NAME", round(low, 3), True))
        else:
            unsure.append(Uncertain(start, end, "NAME", round(low, 3), False))
        i = j
    return names, unsure


def _korean_plausible(core: str, particle: bool, inside: list[Token], low: float) -> bool:
    """Whether a Korean word core the CRF scores as a name may be replaced outright. Kiwi often splits a rare
    name oddly (양|명|숙), so its tags only veto: a core that starts with a common noun it knows (원인|균), or
    a known proper noun whose given part is a common noun (신|부전), or a verb or adverb, is not replaced. A
    core with a known word inside (김|다소), or without a surname (a given name alone: 소율이), needs a sure CRF
    score."""
    first = inside[0]
    if first.known and first.tag == "NNG" and len(first.form) >= 2:
        return False
    if any(
        t.tag.startswith(("E", "XSV", "XSA")) or (t.known and t.tag in ("MAG", "MAJ", "VA", "VX"))
        for t in inside
    ):
        return False  # a verb or adverb with its ending (마시|지, 어떻|게, 경미|하|ㄴ, 차라리)
    surname = 2 if core[:2] in ko_surnames() else 1 if core[0] in ko_surnames() else 0
    if len(inside) == 1 and first.known and surname:
        given = tokenize(core[surname:])
        if len(given) == 1 and given[0].known and given[0].tag == "NNG":
            return False
    known_noun = any(t.known and t.tag.startswith("NN") and len(t.form) >= 2 for t in inside)
    if not surname:  # a given name alone comes with a particle or honorific (예진|이가, 소율|에게, 지훈|씨)
        return particle and low >= SURE and (first.tag == "NNP" or not first.known)
    return not known_noun or low >= SURE


def _korean_names(
    text: str, tokens: list[Token], scores: list[float]
) -> tuple[list[tuple[int, int]], list[Uncertain]]:
    """Korean word cores (the word less its particle: 송채혁|은, 예진|이가) of 2-4 syllables whose morphemes
    the CRF all scores as a name."""
    names: list[tuple[int, int]] = []
    unsure: list[Uncertain] = []
    starts = [t.start for t in tokens]
    for run in _HANGUL.finditer(text):
        match = EOJEOL.fullmatch(text, run.start(), run.end())
        start, end = match.span("core") if match else run.span()
        first = bisect.bisect_left(starts, start)
        inside = [i for i in range(first, len(tokens)) if tokens[i].start < end]
        if not inside or not 2 <= end - start <= 4 or tokens[inside[0]].start != start:
            continue
        low = min(scores[i] for i in inside)
        if low < UNSURE:
            continue
        particle = match is not None and match.group("particle") is not None
        if low >= THRESHOLD and _korean_plausible(
            text[start:end], particle, [tokens[i] for i in inside], low
        ):
            names.append((start, end))
            if low < CERTAIN:
                unsure.append(Uncertain(start, end, "NAME", round(low, 3), True))
        else:
            unsure.append(Uncertain(start, end, "NAME", round(low, 3), False))
    return names, unsure


def _propagated_names(text: str, names: list[Replacement]) -> Iterator[tuple[int, int, str]]:
    """Once a name is found, its other mentions are names too ("Dr. Smith … Smith agreed"), and so is the
    given name of a Korean full name (이예진 … 예진이가)."""
    tokens: set[str] = set()
    for name in names:
        words = re.findall(r"[A-Za-z][A-Za-z'-]+|[가-힣]{2,4}", text[name.start : name.end])
        for index, word in enumerate(words):
            if _HANGUL.fullmatch(word):
                tokens.add(word)
                if len(word) == 3 and word[0] in ko_surnames():
                    tokens.add(word[1:])
            elif word.lower() not in EN_NAME_STOPWORDS and len(word) >= 3 and word[:1].isupper():
                # an everyday word travels only as the surname of a full name (Eleanor Young … Young agrees),
                # not as a given name (May Lee … May consider)
                surname = index == len(words) - 1 and len(words) >= 2
                if word.lower() not in en_common_words() or surname:
                    tokens.add(word)
    for token in sorted(tokens, key=len, reverse=True):
        hangul = _HANGUL.fullmatch(token) is not None
        pattern = rf"(?<![가-힣]){re.escape(token)}{_KO_NAME_END}" if hangul else rf"\b{re.escape(token)}\b"
        for match in re.finditer(pattern, text):
            yield match.start(), match.end(), "NAME"


def scrub(text: str) -> Scrubbed:
    """Replace every identifier found by its placeholder; report the name-like tokens scored near the line."""
    painting = _Painting()
    for candidate in _candidates(text, PROTECTED):
        painting.paint(*candidate)
    tokens = tokenize(text)
    scores = name_probabilities(text, tokens)
    for start, end, kind in _candidates(text):
        hangul = _HANGUL.fullmatch(text[start:end]) is not None  # not a masked name (이OO)
        if kind == "NAME" and hangul and _doubtful_korean(text, tokens, scores, start, end):
            continue
        painting.paint(start, end, kind)
    english, english_unsure = _english_names(text, tokens, scores)
    korean, korean_unsure = _korean_names(text, tokens, scores)
    unsure = english_unsure + korean_unsure
    for start, end in english + korean:
        painting.paint(start, end, "NAME")
    found = painting.merged()
    for candidate in _propagated_names(text, [r for r in found if r.kind == "NAME"]):
        painting.paint(*candidate)
    replacements = [r for r in painting.merged() if r.kind != KEEP]
    replaced = bytearray(len(text))
    for r in replacements:
        replaced[r.start : r.end] = b"\x01" * (r.end - r.start)
    # a kept token that another layer replaced after all is not uncertain any more
    uncertain = [u for u in unsure if u.replaced or not any(replaced[u.start : u.end])]
    parts: list[str] = []
    position = 0
    for replacement in replacements:
        parts += [text[position : replacement.start], replacement.placeholder]
        position = replacement.end
    parts.append(text[position:])
    return Scrubbed("".join(parts), tuple(replacements), tuple(uncertain))
