"""The scrubber's name tagger: a linear-chain CRF (python-crfsuite) over Kiwi tokens with the name-in-context
features de-identification systems use (word shape, gazetteer hits, the words and tags around a token, line
position), so "John Smith was admitted", "sister Jane" and "김민수는" are found without a cue word.

The model is trained on generated notes of the corpus's dev split (`python -m bench.train_text_crf`) and
committed as `text_deid_names.crfsuite` (a few hundred kB); nothing is downloaded or trained at ingest time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import pycrfsuite

from plugins.ingest.text_deid_gazetteer import (
    en_common_words,
    en_first_names,
    en_last_names,
    ko_given_names,
    ko_surnames,
)
from plugins.ingest.text_deid_korean import EOJEOL, Token

MODEL_PATH = Path(__file__).with_name("text_deid_names.crfsuite")
NAME, OTHER = "N", "O"
_HANGUL = re.compile("[가-힣]+")


def _shape(form: str) -> str:
    if _HANGUL.fullmatch(form):
        return f"H{min(len(form), 5)}"
    shape = re.sub("[A-Z]+", "A", re.sub("[a-z]+", "a", re.sub(r"\d+", "0", form)))
    return shape[:6]


@cache
def _given_syllables() -> frozenset[str]:
    return frozenset("".join(ko_given_names()))


def _eojeol(text: str, token: Token) -> list[str]:
    """Features of the Hangul word a morpheme sits in, so a name Kiwi splits oddly (정하|ㄴ|결과) is still seen
    as a surname + given-name syllables + particle."""
    start = token.start
    while start > 0 and "가" <= text[start - 1] <= "힣":
        start -= 1
    end = token.end
    while end < len(text) and "가" <= text[end] <= "힣":
        end += 1
    match = EOJEOL.fullmatch(text, start, end)
    if match is None:
        return []
    core = match.group("core")
    given = sum(1 for c in core[1:] if c in _given_syllables())
    features = [f"ej_len={min(len(core), 6)}", f"ej_given={given}/{len(core) - 1}"]
    if match.group("particle"):
        features.append(f"ej_particle={match.group('particle')}")
    if core[0] in ko_surnames() or core[:2] in ko_surnames():
        features.append("ej_surname")
    if token.start == start:
        features.append("ej_first")
    return features


def _word(text: str, tokens: list[Token], i: int) -> list[str]:
    """What a token is, irrespective of where it stands. A name's own spelling is no feature (a capitalised
    word, a Hangul word outside Kiwi's dictionary): the model must learn what names look like and where they
    stand, not the names of its training notes."""
    token = tokens[i]
    form, low = token.form, token.form.lower()
    hangul = _HANGUL.fullmatch(form) is not None
    features = [f"tag={token.tag}", f"shape={_shape(form)}", "known" if token.known else "unknown"]
    if not (form[:1].isupper() or (hangul and not token.known)):
        features.append(f"w={low}")
    if form[:1].isupper() and form[1:].islower():
        features += ["title", f"suffix={low[-3:]}"]  # -ogy, -ine, -al: medical words, rarely names
        if low in en_common_words():
            features.append("common")
        if form in en_first_names():
            features.append("en_first")
        if form in en_last_names():
            features.append("en_last")
    if hangul:
        features += _eojeol(text, token)
        if 2 <= len(form) <= 4 and (form[0] in ko_surnames() or form[:2] in ko_surnames()):
            features.append("ko_surname_first")
        if form in ko_given_names() or form[1:] in ko_given_names():
            features.append("ko_given")
    return features


def features(text: str, tokens: list[Token]) -> list[list[str]]:
    """Per token: its own features plus its neighbours' (±2) and whether it starts or ends a line."""
    own = [_word(text, tokens, i) for i in range(len(tokens))]
    rows: list[list[str]] = []
    for i, token in enumerate(tokens):
        row = list(own[i])
        for offset in (-2, -1, 1, 2):
            j = i + offset
            if 0 <= j < len(tokens):
                if not tokens[j].form[:1].isupper():
                    row.append(f"{offset}:w={tokens[j].form.lower()}")
                row.append(f"{offset}:tag={tokens[j].tag}")
                if abs(offset) == 1:
                    row += [f"{offset}:{f}" for f in own[j] if not f.startswith(("w=", "tag=", "ej_"))]
            else:
                row.append(f"{offset}:edge")
        before = text[tokens[i - 1].end if i else 0 : token.start]
        after = text[token.end : tokens[i + 1].start if i + 1 < len(tokens) else len(text)]
        if i == 0 or "\n" in before:
            row.append("line_start")
        if i + 1 == len(tokens) or "\n" in after:
            row.append("line_end")
        rows.append(row)
    return rows


def labels(tokens: list[Token], names: Iterable[tuple[int, int]]) -> list[str]:
    spans = list(names)
    return [NAME if any(s < t.end and t.start < e for s, e in spans) else OTHER for t in tokens]


def train(examples: Iterable[tuple[str, list[Token], list[tuple[int, int]]]], path: Path) -> None:
    """Fit the CRF on (text, tokens, name spans) and write it to `path`; L1 keeps the file small."""
    trainer = pycrfsuite.Trainer(verbose=False)
    for text, tokens, names in examples:
        trainer.append(features(text, tokens), labels(tokens, names))
    trainer.set_params({"c1": 0.1, "c2": 0.05, "max_iterations": 200, "feature.possible_transitions": True})
    trainer.train(str(path))


@cache
def _tagger(path: Path) -> pycrfsuite.Tagger:
    tagger = pycrfsuite.Tagger()
    tagger.open(str(path))
    return tagger


def name_probabilities(text: str, tokens: list[Token], path: Path = MODEL_PATH) -> list[float]:
    """P(token is part of a name) for each token (marginals, so a low score can be sent to review)."""
    if not tokens:
        return []
    tagger = _tagger(path)
    tagger.set(features(text, tokens))
    return [tagger.marginal(NAME, i) for i in range(len(tokens))]
