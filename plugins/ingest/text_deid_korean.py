"""Korean morphological analysis for the scrubber: kiwipiepy tags proper nouns (NNP) and splits particles
(김민수 + 는), so a name is found without a cue word and its particle stays in the text.

Kiwi's model ships on PyPI (kiwipiepy-model), so nothing is downloaded; it loads once per process (~1 s).
Kiwi also tokenises the Latin and digit parts of a note (tags SL, SN, SP…), so one token stream serves both
languages.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from kiwipiepy import Kiwi

#: Morpheme tags that end a name: particles, endings, copula and suffixes (김민수|는, 예진|이가).
TRAILING_TAGS = ("J", "E", "VCP", "XSN", "XSV", "XSA")


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
