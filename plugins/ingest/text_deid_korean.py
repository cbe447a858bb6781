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
    #: In Kiwi's dictionary: a common noun there (진통제) is no name, an unknown one (김빈온) may be.
    known: bool


@cache
def _kiwi() -> Kiwi:
    return Kiwi()


def tokenize(text: str) -> list[Token]:
    """Morphemes with their offsets in `text` (a morpheme that Kiwi rewrote keeps its surface range)."""
    return [
        Token(t.form, t.tag, t.start, t.start + t.len, t.id >= _FIRST_DICTIONARY_ID)
        for t in _kiwi().tokenize(text)
    ]
