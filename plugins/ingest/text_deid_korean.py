"""Korean morphological analysis for the scrubber: kiwipiepy tags proper nouns (NNP) and splits particles
(김민수 + 는), so a name is found without a cue word and its particle stays in the text.

Kiwi's model ships on PyPI (kiwipiepy-model), so nothing is downloaded; it loads once per process (~1 s).
Kiwi also tokenises the Latin and digit parts of a note (tags SL, SN, SP…), so one token stream serves both
languages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from kiwipiepy import Kiwi

from plugins.ingest.text_deid_gazetteer import ko_surnames

#: Morpheme tags that end a name: particles, endings, copula and suffixes (김민수|는, 예진|이가).
TRAILING_TAGS = ("J", "E", "VCP", "XSN", "XSV", "XSA")


#: A Korean word (eojeol) is a core plus an optional particle or honorific: 김민수|는, 예진|이가.
EOJEOL = re.compile(
    "(?P<core>[가-힣]+?)(?P<particle>에게서|에게|께서|이가|이는|이를|이랑|이와|이의|이도|이에게|은|는|이|가|을|를|의|와|과"
    "|도|에|께|랑|야|아|씨|님)?"
)
#: Kiwi gives a word outside its dictionary one of its first ids (one per tag); dictionary words come later.
_FIRST_DICTIONARY_ID = 64


@dataclass(frozen=True)
class Token:
    form: str
    tag: str
    start: int
    end: int
    known: (
        bool  # in Kiwi's dictionary: a common noun there (진통제) is no name, an unknown one (김빈온) may be
    )


@cache
def _kiwi() -> Kiwi:
    return Kiwi()


def tokenize(text: str) -> list[Token]:
    """Morphemes with their offsets in `text` (a morpheme that Kiwi rewrote keeps its surface range)."""
    return [
        Token(t.form, t.tag, t.start, t.start + t.len, t.id >= _FIRST_DICTIONARY_ID)
        for t in _kiwi().tokenize(text)
    ]


def is_trailing(token: Token) -> bool:
    return token.tag.startswith(TRAILING_TAGS)


def name_shaped_words(text: str, tokens: list[Token]) -> list[tuple[int, int]]:
    """Three-syllable word cores that start with a surname and that Kiwi reads as one proper noun outside its
    dictionary (송채혁|은; its dictionary's own proper nouns include medical words such as 신부전) or
    as a one-syllable surname followed by loose syllables it cannot place (송|린|희): the shape of a Korean full
    name that its dictionary does not hold."""
    found: list[tuple[int, int]] = []
    for run in re.finditer("[가-힣]+", text):
        match = EOJEOL.fullmatch(text, run.start(), run.end())
        if match is None or len(match.group("core")) != 3 or match.group("core")[0] not in ko_surnames():
            continue
        start, end = match.span("core")
        inside = [t for t in tokens if start <= t.start and t.end <= end]
        if not inside or inside[0].start != start or inside[-1].end != end:
            continue  # Kiwi's morphemes cross the core's edge: it read the word otherwise
        one_proper_noun = len(inside) == 1 and inside[0].tag == "NNP" and not inside[0].known
        surname_then_syllables = (
            len(inside) == 3
            and inside[0].tag == "NNP"
            and all(t.end - t.start == 1 and t.tag.startswith("NN") for t in inside)
        )
        if one_proper_noun or surname_then_syllables:
            found.append((start, end))
    return found
