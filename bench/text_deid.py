"""Clinical-text de-identification: medlabel's scrubber against presidio-analyzer and philter-lite on the
held-out split of the generated bilingual corpus (`bench.text_corpus`), in the same run.

    .venv/bin/python -m bench.text_deid [--notes 1200]

Prints span recall per PHI type × language and the share of medical terms destroyed, for each system, then
the totals and medlabel's total recall over the best peer's. presidio runs its pattern recognizers with the
NoOp NLP engine (no spaCy model: none may be downloaded). philter-lite needs NLTK's perceptron tagger data,
which is not on PyPI; when it is missing the bench prints why instead of a column.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections.abc import Callable

from bench.text_corpus import Note, generate
from bench.text_corpus.metrics import Ranges, Score, evaluate
from plugins.ingest.text_deid import scrub

KINDS = ("NAME", "AGE", "DATE", "PHONE", "ADDRESS", "HOSPITAL", "ID", "CONTACT")


def medlabel() -> Callable[[str], Ranges]:
    return lambda text: [(r.start, r.end) for r in scrub(text).replacements]


def presidio() -> Callable[[str], Ranges]:
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NoOpNlpEngine

    logging.getLogger("tldextract").setLevel(logging.CRITICAL)  # it tries to refresh its suffix list online
    engine = AnalyzerEngine(
        nlp_engine=NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "noop"}]),
        supported_languages=["en"],
    )
    return lambda text: [(r.start, r.end) for r in engine.analyze(text, language="en")]


def philter() -> Callable[[str], Ranges]:
    """philter-lite's default configuration; raises LookupError when NLTK's tagger data is absent."""
    import philter_lite

    config = os.path.join(os.path.dirname(philter_lite.__file__), "configs", "philter_delta.toml")
    filters = philter_lite.load_filters(config)

    def run(text: str) -> Ranges:
        include_map, _, _ = philter_lite.detect_phi(text, filters)
        return [(start, end) for start, end in include_map.scan()]

    run("John Smith was seen on 03/05/2024.")  # fails here, not mid-run, without the tagger
    return run


def _table(scores: dict[str, Score], seconds: dict[str, float]) -> str:
    names = list(scores)
    rows = [["type", "lang", *names]]
    for kind in KINDS:
        for language in ("en", "ko"):
            if scores[names[0]].total.get((kind, language)):
                n = scores[names[0]].total[(kind, language)]
                rows.append(
                    [kind, f"{language} (n={n})", *(f"{scores[s].recall(kind, language):.3f}" for s in names)]
                )
    for language in ("en", "ko"):
        rows.append(["recall", language, *(f"{scores[s].recall(language=language):.3f}" for s in names)])
    rows.append(["recall", "all", *(f"{scores[s].recall():.3f}" for s in names)])
    for language in ("en", "ko"):
        rows.append(["over-scrub", language, *(f"{scores[s].overscrub(language):.3f}" for s in names)])
    rows.append(["over-scrub", "all", *(f"{scores[s].overscrub():.3f}" for s in names)])
    rows.append(["seconds", "", *(f"{seconds[s]:.1f}" for s in names)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |" for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=1200)
    args = parser.parse_args(argv)
    began = time.perf_counter()
    notes: list[Note] = list(generate("heldout", args.notes))
    phi = sum(len(n.phi) for n in notes)
    medical = sum(len(n.medical) for n in notes)
    print(f"held-out corpus: {len(notes)} notes, {phi} identifiers, {medical} medical terms")
    systems = {"medlabel": medlabel, "presidio": presidio, "philter-lite": philter}
    scores: dict[str, Score] = {}
    seconds: dict[str, float] = {}
    for name, make in systems.items():
        try:
            run = make()
        except LookupError as exc:
            resource = str(exc).split("Resource", 1)[-1].split("not found", 1)[0].strip(" \n*'\"")
            print(
                f"{name}: cannot run here: NLTK data {resource!r} is missing; it is not on PyPI and this bench "
                "downloads nothing"
            )
            continue
        started = time.perf_counter()
        scores[name] = evaluate(notes, run)
        seconds[name] = time.perf_counter() - started
    print(_table(scores, seconds))
    peers = {name: s.recall() for name, s in scores.items() if name != "medlabel"}
    if peers:
        best = max(peers, key=peers.__getitem__)
        ratio = scores["medlabel"].recall() / peers[best] if peers[best] else float("inf")
        print(f"total recall medlabel/{best} = {ratio:.2f}x")
    print(f"bench runtime {time.perf_counter() - began:.0f} s (corpus generation and model loading included)")


if __name__ == "__main__":
    main()
