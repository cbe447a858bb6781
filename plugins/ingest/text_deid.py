"""Scrub identifiers from English and Korean clinical notes: each becomes a typed placeholder like ``[NAME]``
(an age over 89 becomes "90+", HIPAA Safe Harbor's aggregate).

Ranges are painted in priority order (a character belongs to the first layer that claims it), so overlapping
finders never leave part of an identifier behind:
1. protected medical phrases ("Graves disease", "Heart Failure Clinic"), painted to be kept;
2. the rules (`plugins.ingest.text_deid_rules`), minus Korean "names" that Kiwi reads as a common noun
   ("환자 진통제 요청함");
3. names the CRF (`plugins.ingest.text_deid_crf`) tags over Kiwi tokens, a Korean name stretched to its
   particle (송채혁|은);
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
from plugins.ingest.text_deid_korean import EOJEOL, Token, is_trailing, name_shaped_words, tokenize
from plugins.ingest.text_deid_rules import EN_NAME_STOPWORDS, PROTECTED, RULES, Rule

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


def _common_korean_word(tokens: list[Token], start: int, end: int) -> bool:
    """A Hangul "name" from a cue rule that Kiwi knows as a common noun of 2+ syllables (환자 진통제)."""
    first = next((t for t in tokens if t.start <= start < t.end), None)
    return (
        first is not None
        and first.tag == "NNG"
        and first.known
        and first.end - first.start >= 2
        and first.start == start
        and first.end >= end  # 이하|은 is a name (이하은), 진통제 is not
    )


def _name_shaped(form: str, token: Token) -> bool:
    """What a name can look like: a capitalised Latin word, or a Hangul word of 2-4 syllables that Kiwi calls a
    proper noun or that starts with a surname (a CRF hit on anything else is noise)."""
    if _HANGUL.fullmatch(form):
        surname_first = form[0] in ko_surnames() or form[:2] in ko_surnames()
        word_class = (
            token.tag.startswith("NN") or not token.known
        )  # not a verb or adverb Kiwi knows (마시|지)
        return 2 <= len(form) <= 4 and word_class and (token.tag == "NNP" or surname_first)
    if re.fullmatch(r"[A-Z][A-Za-z'’-]*", form) is None or form.lower() in EN_NAME_STOPWORDS:
        return False
    # an everyday English word ("There", "Alert") only when it is also a name ("Mark", "Grant")
    return form.lower() not in en_common_words() or form in en_first_names() or form in en_last_names()


def _extent(text: str, tokens: list[Token], scores: list[float], i: int) -> tuple[int, int, float]:
    """Where a name that starts at token i ends (exclusive token index), and its lowest score: a Korean name is
    one word up to its particle (송채혁|은, 김|태|숙); English name words join across spaces and apostrophes."""
    token = tokens[i]
    j, low = i + 1, scores[i]
    if _HANGUL.fullmatch(token.form):
        word_end = token.end
        while word_end < len(text) and "가" <= text[word_end] <= "힣":
            word_end += 1
        core = EOJEOL.fullmatch(text, token.start, word_end)
        core_end = core.end("core") if core else word_end  # Kiwi may tag a particle as a noun (강정호|은/NNG)
        while j < len(tokens) and tokens[j].start == tokens[j - 1].end and not is_trailing(tokens[j]):
            if (
                not _HANGUL.fullmatch(tokens[j].form)
                or tokens[j].end - token.start > 4
                or tokens[j].end > core_end
            ):
                break
            low = min(low, scores[j])
            j += 1
        return j, j, low
    while j < len(tokens) and text[tokens[j - 1].end : tokens[j].start].strip(" '’-") == "":
        if scores[j] < THRESHOLD or not _name_shaped(tokens[j].form, tokens[j]):
            break
        low = min(low, scores[j])
        j += 1
    return j, j, low


def _plausible(tokens: list[Token], scores: list[float], start_index: int, end_index: int) -> bool:
    """Whether a CRF hit may be replaced outright, or only reported: an English hit needs a gazetteer first or
    last name among its words, or two words scored sure (a capitalised "Troponin" at a sentence start is none);
    a Korean hit must start with a surname and hold no multi-syllable noun Kiwi knows (신부전, 심박|수)."""
    inside = tokens[start_index:end_index]
    if _HANGUL.fullmatch(inside[0].form):
        core = "".join(t.form for t in inside)
        surname_first = core[0] in ko_surnames() or core[:2] in ko_surnames()
        if inside[0].known and inside[0].tag == "NNG" and len(inside[0].form) >= 2:
            return False  # starts with a common noun (원인|균)
        known_noun = any(t.known and t.tag.startswith("NN") and len(t.form) >= 2 for t in inside)
        if len(inside) == 1 and known_noun:
            # a proper noun in Kiwi's dictionary: person names (윤건용) but medical words too (신|부전), told
            # apart by what follows the surname
            given = tokenize(core[2:] if core[:2] in ko_surnames() else core[1:])
            if len(given) == 1 and given[0].known and given[0].tag == "NNG":
                return False
        # common words inside names (김|다소) need a confident CRF
        return surname_first and (not known_noun or min(scores[start_index:end_index]) >= SURE)
    in_gazetteer = any(t.form in en_first_names() or t.form in en_last_names() for t in inside)
    return in_gazetteer or (len(inside) >= 2 and min(scores[start_index:end_index]) >= SURE)


def _crf_names(
    text: str, tokens: list[Token], scores: list[float]
) -> tuple[list[tuple[int, int]], list[Uncertain]]:
    """Name ranges from the CRF's token scores, each checked for the shape of a name; a hit without the
    support of a gazetteer or of Kiwi is kept and reported as uncertain rather than replaced."""
    names: list[tuple[int, int]] = []
    unsure: list[Uncertain] = []
    i = 0
    while i < len(tokens):
        token, score = tokens[i], scores[i]
        end_index, _, low = _extent(text, tokens, scores, i)
        start, end = token.start, tokens[end_index - 1].end
        hangul = _HANGUL.fullmatch(token.form) is not None
        if not _name_shaped(text[start:end] if hangul else token.form, token):
            score = 0.0
        elif token.tag == "NNG" and token.known and end - start == len(token.form) and len(token.form) >= 2:
            score = min(score, THRESHOLD - 0.01)  # a noun in Kiwi's dictionary (유방암): at most uncertain
        elif score >= THRESHOLD and not _plausible(tokens, scores, i, end_index):
            unsure.append(Uncertain(start, end, "NAME", round(score, 3), False))
            i = end_index
            continue
        if score < THRESHOLD:
            if score >= UNSURE:
                unsure.append(Uncertain(token.start, token.end, "NAME", round(score, 3), False))
            i += 1
            continue
        names.append((start, end))
        if low < CERTAIN:
            unsure.append(Uncertain(start, end, "NAME", round(low, 3), True))
        i = end_index
    return names, unsure


def _propagated_names(text: str, names: list[Replacement]) -> Iterator[tuple[int, int, str]]:
    """Once a name is found, its other mentions are names too ("Dr. Smith … Smith agreed"), and so is the
    given name of a Korean full name (이예진 … 예진이가)."""
    tokens: set[str] = set()
    for name in names:
        for word in re.findall(r"[A-Za-z][A-Za-z'-]+|[가-힣]{2,4}", text[name.start : name.end]):
            if _HANGUL.fullmatch(word):
                tokens.add(word)
                if len(word) == 3 and word[0] in ko_surnames():
                    tokens.add(word[1:])
            elif (
                word.lower() not in EN_NAME_STOPWORDS
                and word.lower() not in en_common_words()
                and len(word) >= 3
                and word[:1].isupper()
            ):
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
    for start, end, kind in _candidates(text):
        if kind == "NAME" and _HANGUL.match(text[start:end]) and _common_korean_word(tokens, start, end):
            continue
        painting.paint(start, end, kind)
    names, unsure = _crf_names(text, tokens, name_probabilities(text, tokens))
    for start, end in names + name_shaped_words(text, tokens):
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
