"""The clinical-text ingest plugin: notes in .txt, .csv and .jsonl become scrubbed Label Studio text tasks.

- .txt: one note per file.
- .csv / .tsv: one note per row, from the first column named like a note (`text`, `note`, `report`, …);
  other columns are dropped unless allow-listed (`ALLOWED_FIELDS`: they are scrubbed too).
- .jsonl: one object per line with `text` (or Label Studio's `{"data": {"text": …}}`) and optional spans:
  `spans: [{start, end, label}]` or Label Studio `predictions`/`annotations` with labels results.

Spans that came with a note are moved past the placeholders (`text[start:end]` still reads the same words);
a span that overlaps an identifier is dropped and reported in `facts["dropped_spans"]` (label and reason only).
Input is UTF-8 (a BOM is fine), BOM-marked UTF-16, or CP949/EUC-KR (Korean hospital exports), tried in that
order; anything else is quarantined as "text_encoding_unknown" rather than guessed into mojibake.
A note whose scrubber was unsure of a name-like token gets the review reason "uncertain_name".
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from plugins.ingest.base import (
    IngestContext,
    Outcome,
    Quarantine,
    SourceFile,
    SourceRejected,
    TaskDraft,
    source_key,
)
from plugins.ingest.text_deid import Replacement, Scrubbed, scrub

TXT_SUFFIXES = (".txt", ".text", ".note")
CSV_SUFFIXES = (".csv", ".tsv")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
TEXT_FIELDS = (
    "text",
    "note",
    "notes",
    "note_text",
    "report",
    "report_text",
    "content",
    "body",
    "narrative",
    "내용",
    "본문",
    "판독문",
    "기록",
    "소견",
)
# Columns/keys that describe a note without identifying anyone; their values are scrubbed all the same.
ALLOWED_FIELDS = ("note_type", "document_type", "category", "section", "department", "specialty", "language")
DEFAULT_DATA_KEY = "text"


@dataclass(frozen=True)
class _Span:
    start: object  # as found in the source: checked before use
    end: object
    label: str
    origin: str  # "spans", "predictions" or "annotations"
    expected: object = None  # the text the source says the span covers, when it says


def _plausible_korean(text: str) -> bool:
    """CP949 decodes many byte pairs of other 8-bit encodings into rare characters ("résumé" in Latin-1 gives a
    Hangul syllable): accept it only when its non-ASCII characters are mostly Hangul of the common KS X 1001
    set (what EUC-KR can write), as real Korean notes are."""
    wide = [c for c in text if ord(c) > 127]
    hangul = [c for c in wide if "가" <= c <= "힣"]
    # two bytes: CPython's euc_kr also writes other syllables as 8-byte KS X 1001 Annex 3 sequences
    common = sum(1 for c in hangul if len(c.encode("euc_kr", errors="ignore")) == 2)
    return len(hangul) >= 0.8 * len(wide) and common >= 0.95 * len(hangul)


def decode(data: bytes) -> str:
    """UTF-8, BOM-marked UTF-16, then CP949 (a superset of EUC-KR), each strict and checked; never replaced.

    Why a strict try-order and not a detector such as charset-normalizer: hospitals send one of these three,
    UTF-8 cannot be mistaken for the others (its multi-byte shapes are strict), and a detector's best guess on a
    short note can be a wrong 8-bit code page whose mojibake hides names from the scrubber. A file that is none
    of them is refused with a reason a person can act on.
    """
    if not data.strip():
        raise SourceRejected("text_empty", "the file has no text")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return _checked(data.decode("utf-16"))
        except UnicodeDecodeError:
            raise SourceRejected("text_unreadable", "UTF-16 byte order mark but invalid UTF-16") from None
    if b"\x00" in data:
        raise SourceRejected("text_unreadable", "binary content (NUL bytes), not a text file")
    try:
        return _checked(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        utf8_error = exc.start
    try:
        text = data.decode("cp949")
    except UnicodeDecodeError:
        text = ""
    if text and _plausible_korean(text):
        return _checked(text)
    if any(32 > b not in (9, 10, 12, 13) for b in data[:4096]):
        raise SourceRejected("text_unreadable", "binary content (control characters), not a text file")
    raise SourceRejected(
        "text_encoding_unknown",
        f"neither UTF-8 (invalid at byte {utf8_error}) nor CP949/EUC-KR Korean; convert it to UTF-8 with iconv",
    )


def _checked(text: str) -> str:
    controls = sum(1 for c in text if ord(c) < 32 and c not in "\t\n\r\f")
    if controls > len(text) // 100:
        raise SourceRejected("text_unreadable", "binary content (control characters), not a text file")
    return text


def _text_column(fields: Iterable[str]) -> str | None:
    by_key = {field.strip().lower(): field for field in fields if field}
    return next((by_key[name] for name in TEXT_FIELDS if name in by_key), None)


def _csv_reader(text: str) -> csv.DictReader[str]:
    first = text.split("\n", 1)[0]
    delimiter = max((",", "\t", ";"), key=first.count)
    return csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _spans(obj: dict[str, Any]) -> list[_Span]:
    """Spans from `spans` or from Label Studio predictions/annotations (labels results with start/end)."""
    found: list[_Span] = []
    for item in _list(obj.get("spans")):
        if isinstance(item, dict):
            found.append(
                _Span(
                    item.get("start"), item.get("end"), str(item.get("label", "")), "spans", item.get("text")
                )
            )
    for origin in ("predictions", "annotations"):
        for entry in _list(obj.get(origin)):
            for result in _list(entry.get("result")) if isinstance(entry, dict) else []:
                value = result.get("value") if isinstance(result, dict) else None
                if isinstance(value, dict) and "start" in value and "end" in value:
                    labels = _list(value.get("labels")) or _list(value.get("hypertextlabels")) or [""]
                    found.append(
                        _Span(value["start"], value["end"], str(labels[0]), origin, value.get("text"))
                    )
    return found


def _map_spans(
    original: str, scrubbed: Scrubbed, spans: list[_Span]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Spans that avoid every identifier, moved onto the scrubbed text; the others, reported without text."""
    kept: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []
    for span in spans:
        start, end = span.start, span.end
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(original)):
            dropped.append({"label": span.label, "origin": span.origin, "reason": "offsets out of range"})
            continue
        if span.expected is not None and original[start:end] != span.expected:
            dropped.append(
                {"label": span.label, "origin": span.origin, "reason": "offsets do not match its text"}
            )
            continue
        mapped = scrubbed.map_span(start, end)
        if isinstance(mapped, Replacement):
            dropped.append(
                {"label": span.label, "origin": span.origin, "reason": f"overlaps {mapped.placeholder}"}
            )
            continue
        new_start, new_end = mapped
        kept.append(
            {
                "start": new_start,
                "end": new_end,
                "label": span.label,
                "text": scrubbed.text[new_start:new_end],
                "origin": span.origin,
            }
        )
    return kept, dropped


class TextPlugin:
    """Clinical notes → one scrubbed text task per note.

    Example:
        >>> plugin = TextPlugin()
        >>> outcomes = list(plugin.convert([s for s in sources if plugin.claims(s)], context))
    """

    name: ClassVar[str] = "text"

    def claims(self, source: SourceFile) -> bool:
        suffix = Path(source.display_name).suffix.lower()
        if suffix in TXT_SUFFIXES + JSONL_SUFFIXES:
            return True  # claimed whatever the content, so an unreadable note is quarantined with a reason
        if suffix not in CSV_SUFFIXES:
            return False
        head = source.head(4096)
        try:
            first = head.decode("utf-8-sig").split("\n", 1)[0]
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:
                return True  # not UTF-8: ours to refuse with "text_unreadable" (ECG CSVs are plain ASCII)
            first = head[: exc.start].decode("utf-8-sig").split("\n", 1)[0]
        return _text_column(_csv_reader(first).fieldnames or []) is not None

    def convert(self, sources: Iterable[SourceFile], context: IngestContext) -> Iterator[Outcome]:
        for source in sources:
            data = source.read_bytes()
            key = source_key(context.project_secret, data)
            suffix = Path(source.display_name).suffix.lower()
            try:
                text = decode(data)
                if suffix in CSV_SUFFIXES:
                    yield from self._csv(text, key, context)
                elif suffix in JSONL_SUFFIXES:
                    yield from self._jsonl(text, key, context)
                else:
                    yield self._draft(text, {}, [], "txt", key, context)
            except SourceRejected as exc:
                yield Quarantine(key, exc.reason, str(exc))

    def _csv(self, text: str, key: str, context: IngestContext) -> Iterator[Outcome]:
        reader = _csv_reader(text)
        column = _text_column(reader.fieldnames or [])
        if column is None:
            raise SourceRejected(
                "text_no_column", f"CSV has no note column (one of: {', '.join(TEXT_FIELDS)})"
            )
        try:
            for number, row in enumerate(reader, start=2):
                note = row.get(column) or ""
                if not note.strip():
                    yield Quarantine(key, "text_empty", f"CSV line {number} has no note text")
                    continue
                extras = {
                    name: row[field]
                    for field in row
                    if field and (name := field.strip().lower()) in ALLOWED_FIELDS
                }
                yield self._draft(note, extras, [], "csv", key, context)
        except csv.Error as exc:
            raise SourceRejected(
                "text_malformed", f"CSV cannot be parsed at line {reader.line_num} ({exc.__class__.__name__})"
            ) from None

    def _jsonl(self, text: str, key: str, context: IngestContext) -> Iterator[Outcome]:
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                yield Quarantine(key, "text_malformed", f"JSONL line {number} is not valid JSON")
                continue
            fields = obj.get("data", obj) if isinstance(obj, dict) else None
            note = fields.get(_text_column(fields) or "") if isinstance(fields, dict) else None
            if not isinstance(note, str):
                yield Quarantine(key, "text_malformed", f"JSONL line {number} has no text field")
                continue
            if not note.strip():
                yield Quarantine(key, "text_empty", f"JSONL line {number} has an empty text")
                continue
            extras = {
                name: value
                for name, value in fields.items()
                if name in ALLOWED_FIELDS and isinstance(value, str)
            }
            yield self._draft(note, extras, _spans(obj), "jsonl", key, context)

    def _draft(
        self,
        note: str,
        extras: dict[str, str],
        spans: list[_Span],
        fmt: str,
        key: str,
        context: IngestContext,
    ) -> TaskDraft:
        scrubbed = scrub(note)
        data_key = context.options.data_key if context.options.data_key != "image" else DEFAULT_DATA_KEY
        scrubbed_extras = {name: scrub(value) for name, value in extras.items()}
        data: dict[str, Any] = {name: value.text for name, value in scrubbed_extras.items()}
        data[data_key] = scrubbed.text
        kept, dropped = _map_spans(note, scrubbed, spans)
        facts: dict[str, Any] = {"source_format": fmt, "identifiers": scrubbed.counts(), "spans": kept}
        if dropped:
            facts["dropped_spans"] = dropped
        unsure = len(scrubbed.uncertain) + sum(len(value.uncertain) for value in scrubbed_extras.values())
        if unsure:
            facts["uncertain_names"] = unsure  # a count only: the tokens themselves may be PHI
        content_key = context.pseudonym("text", hashlib.sha256(scrubbed.text.encode()).hexdigest(), 32)
        return TaskDraft(
            data=data,
            content_key=content_key,
            source_keys=[key],
            facts=facts,
            review_reasons=["uncertain_name"] if unsure else [],
        )
