"""Train the scrubber's name CRF on the corpus's dev split and write `plugins/ingest/text_deid_names.crfsuite`.

    .venv/bin/python -m bench.train_text_crf [--notes 5000]

Only dev notes are used (their templates, sentences and seeds are not the held-out ones the bench scores).
"""

from __future__ import annotations

import argparse
import time

from bench.text_corpus import generate
from plugins.ingest.text_deid_crf import MODEL_PATH, train
from plugins.ingest.text_deid_korean import tokenize


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=5000)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    examples = (
        (note.text, tokenize(note.text), [(s.start, s.end) for s in note.phi if s.kind == "NAME"])
        for note in generate("dev", args.notes, seed=1)
    )
    train(examples, MODEL_PATH)
    print(
        f"{MODEL_PATH.name}: {MODEL_PATH.stat().st_size / 1e3:.0f} kB, {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
