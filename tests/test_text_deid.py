"""The clinical-text scrubber on the miss and over-scrub classes of issue 15, the held-out corpus targets, the
name CRF's training step, uncertain names and non-UTF-8 notes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.text_corpus import generate
from bench.text_corpus.metrics import Score, evaluate
from plugins.ingest.base import IngestContext, IngestOptions, Quarantine, SourceFile, TaskDraft
from plugins.ingest.text import TextPlugin
from plugins.ingest.text_deid import scrub
from plugins.ingest.text_deid_crf import name_probabilities, train
from plugins.ingest.text_deid_korean import tokenize

SECRET = b"text-deid-test-project-secret-32"

# (note, identifiers that must be gone, text that must stay)
MISSES = {
    "en_age_over_89": ("A 92-year-old woman, aged 97 per her son.", ["92", "97"], ["-year-old woman"]),
    "ko_age_over_89": ("환자는 만 93세 남자로, 나이 95세라고도 함.", ["93", "95"], ["세 남자로"]),
    "en_name_without_cue": ("John Smith was admitted for chest pain.", ["John", "Smith"], ["was admitted"]),
    "en_re_line": ("Re: Laura Whitfield\nDear Dr. Okafor,\nthank you.", ["Laura", "Whitfield", "Okafor"], []),
    "en_surname_alone_later": (
        "Patient: Mary Jones. Jones tolerated the procedure.",
        ["Mary", "Jones"],
        ["tolerated the procedure"],
    ),
    "en_given_alone_later": (
        "Mary Jones was seen. Later Mary asked for water.",
        ["Mary", "Jones"],
        ["asked"],
    ),
    "en_kinship": (
        "Her sister Jane visited; brother Tom called.",
        ["Jane", "Tom"],
        ["Her sister", "visited"],
    ),
    "ko_particle": (
        "김민수는 어제 입원함. 송숙자와 면담함.",
        ["김민수", "송숙자"],
        ["는 어제 입원함", "와 면담함"],
    ),
    "ko_department_signature": ("외래 추적 예정.\n응급의학과 한지민", ["한지민"], ["응급의학과"]),
    "ko_given_alone": ("환자 이예진 (7세, 여) 입원. 예진이가 울며 보챔.", ["이예진", "예진"], ["울며 보챔"]),
    "ko_kinship_bracket": ("배우자(이정자) 동의함.", ["이정자"], ["배우자(", ") 동의함"]),
    "en_uncommon_street_types": (
        "Lives at 12 Baker Mews, then 5 Elm Crossing, now 7 Oak Row.",
        ["Baker", "Elm", "Oak"],
        [],
    ),
    "en_romanized_korean_road": (
        "Address 43, Olympic-ro 43-gil, Songpa-gu, Seoul.",
        ["Olympic", "Songpa"],
        [],
    ),
    "en_hospital_abbreviations": ("Transferred from SNUH to AMC.", ["SNUH", "AMC"], ["Transferred from"]),
    "en_multiword_hospital": ("Seen at Brigham and Women's Hospital.", ["Brigham", "Women"], ["Seen at"]),
    "ko_hospitals": (
        "서울대병원, 국민건강보험 일산병원, 365정형외과의원, 국립암센터에서 진료.",
        ["서울대", "일산", "국민건강보험", "365", "국립암센터"],
        ["에서 진료"],
    ),
    "en_device_serial": (
        "Pacemaker serial number PX-4521-0931 interrogated.",
        ["PX-4521-0931"],
        ["interrogated"],
    ),
    "ko_device_serial": ("삽입물 일련번호: AB123456 확인.", ["AB123456"], ["확인"]),
    "ko_short_date": ("24.3.5 외래 방문.", ["24.3.5"], ["외래 방문"]),
    "en_phone_extension": (
        "Call (617) 555-0123 x1234 with questions.",
        ["555-0123", "1234"],
        ["with questions"],
    ),
}
OVERSCRUB = {
    "en_relative_disease": "Mother: Alzheimer's disease. Father: Parkinson disease.",
    "en_clinic_name": "Follow up in the Heart Failure Clinic in 2 weeks.",
    "ko_phrase_after_patient": "환자 진통제 요청함.",
    "ko_relative_disease": "모친: 알츠하이머병. 환자 수면제 요청함.",
}


@pytest.mark.parametrize(("note", "gone", "kept"), MISSES.values(), ids=MISSES.keys())
def test_issue_misses_are_scrubbed(note: str, gone: list[str], kept: list[str]) -> None:
    scrubbed = scrub(note)

    for identifier in gone:
        assert identifier not in scrubbed.text, scrubbed.text
    for phrase in kept:
        assert phrase in scrubbed.text, scrubbed.text


def test_ages_over_89_become_90_plus_and_younger_ones_stay() -> None:
    assert scrub("A 92-year-old and a 45-year-old.").text == "A 90+-year-old and a 45-year-old."


@pytest.mark.parametrize("note", OVERSCRUB.values(), ids=OVERSCRUB.keys())
def test_medical_content_is_not_scrubbed(note: str) -> None:
    assert scrub(note).replacements == ()


def test_an_eponym_survives_a_patient_of_that_name() -> None:
    note = "Patient: Robert Graves. Graves disease treated with methimazole; Graves is improving."

    text = scrub(note).text

    assert text == "Patient: [NAME]. Graves disease treated with methimazole; [NAME] is improving."


@pytest.fixture(scope="module")
def heldout_score() -> Score:
    notes = list(generate("heldout", 240))
    return evaluate(notes, lambda text: [(r.start, r.end) for r in scrub(text).replacements])


TARGETS = [
    (kind, language)
    for kind in ("AGE", "DATE", "PHONE", "ADDRESS", "HOSPITAL", "ID", "CONTACT", "NAME")
    for language in ("en", "ko")
]
BELOW_TARGET = {("NAME", "en"): 0.97, ("NAME", "ko"): 0.95}  # measured 0.978 and 0.958 (docs/ingest.md)


@pytest.mark.parametrize(
    ("kind", "language"),
    [
        pytest.param(
            kind,
            language,
            marks=pytest.mark.xfail(strict=True, reason="names are below the 0.99 target on held-out notes")
            if (kind, language) in BELOW_TARGET
            else (),
        )
        for kind, language in TARGETS
    ],
    ids=[f"{kind}-{language}" for kind, language in TARGETS],
)
def test_heldout_recall_target(heldout_score: Score, kind: str, language: str) -> None:
    assert heldout_score.recall(kind, language) >= 0.99


@pytest.mark.parametrize(("kind", "language"), BELOW_TARGET, ids=[f"{k}-{lang}" for k, lang in BELOW_TARGET])
def test_heldout_name_recall_does_not_fall(heldout_score: Score, kind: str, language: str) -> None:
    assert heldout_score.recall(kind, language) >= BELOW_TARGET[(kind, language)]


def test_heldout_overscrub_target(heldout_score: Score) -> None:
    assert heldout_score.overscrub("en") <= 0.01 and heldout_score.overscrub("ko") <= 0.01


def test_crf_training_step_learns_names(tmp_path: Path) -> None:
    """The build's training step on a few dev notes: it must find most names in other dev notes."""
    model = tmp_path / "names.crfsuite"
    notes = list(generate("dev", 120, seed=3))
    train(
        (
            (n.text, tokenize(n.text), [(s.start, s.end) for s in n.phi if s.kind == "NAME"])
            for n in notes[:100]
        ),
        model,
    )
    found = total = 0
    for note in notes[100:]:
        tokens = tokenize(note.text)
        scores = name_probabilities(note.text, tokens, model)
        for span in (s for s in note.phi if s.kind == "NAME"):
            inside = [p for t, p in zip(tokens, scores, strict=True) if span.start <= t.start < span.end]
            total += 1
            found += bool(inside) and min(inside) >= 0.5

    assert found / total >= 0.8


def _context(tmp_path: Path) -> IngestContext:
    return IngestContext(7, SECRET, tmp_path, lambda p: str(p), IngestOptions())


def _source(name: str, data: bytes) -> SourceFile:
    return SourceFile(name, lambda: data, len(data))


def test_uncertain_names_send_the_note_to_review_without_their_text(tmp_path: Path) -> None:
    note = "Chest X-ray: no pneumothorax. Troponin I 0.03 ng/mL."
    scrubbed = scrub(note)
    assert scrubbed.uncertain and all(0 <= u.score < 1 for u in scrubbed.uncertain)

    [draft] = list(TextPlugin().convert([_source("n.txt", note.encode())], _context(tmp_path)))

    assert isinstance(draft, TaskDraft)
    assert draft.review_reasons == ["uncertain_name"]
    words = {note[u.start : u.end] for u in scrubbed.uncertain}
    assert not any(word in json.dumps([draft.review_reasons, draft.facts]) for word in words)


def test_a_plain_note_needs_no_review(tmp_path: Path) -> None:
    [draft] = list(
        TextPlugin().convert([_source("n.txt", b"BP 120/80, HR 72, afebrile.")], _context(tmp_path))
    )

    assert isinstance(draft, TaskDraft) and draft.review_reasons == []


KOREAN_NOTE = "환자 홍길동 님 2024년 3월 5일 내원. 흉통 호소, 똠양꿍 섭취 후 발생."


@pytest.mark.parametrize(
    ("encoding", "note"),
    [
        ("cp949", KOREAN_NOTE),  # 똠 exists only in CP949's extension, not in EUC-KR
        ("euc_kr", KOREAN_NOTE.replace("똠양꿍", "김치찌개")),
        ("utf-16", KOREAN_NOTE),
    ],
)
def test_korean_encodings_are_decoded_then_scrubbed(tmp_path: Path, encoding: str, note: str) -> None:
    data = note.encode(encoding)
    assert encoding == "utf-16" or data.decode("utf-8", errors="replace") != note  # really not UTF-8

    [draft] = list(TextPlugin().convert([_source("note.txt", data)], _context(tmp_path)))

    assert isinstance(draft, TaskDraft)
    assert draft.data["text"] == note.replace("홍길동", "[NAME]").replace("2024년 3월 5일", "[DATE]")


def test_cp949_csv_rows_become_tasks(tmp_path: Path) -> None:
    data = "번호,내용\n1,환자 김민수는 두통 호소\n2,보호자 박영희 씨 면담\n".encode("cp949")
    plugin = TextPlugin()
    source = _source("export.csv", data)
    assert plugin.claims(source)

    drafts = list(plugin.convert([source], _context(tmp_path)))

    assert [d.data["text"] for d in drafts if isinstance(d, TaskDraft)] == [
        "환자 [NAME]는 두통 호소",
        "보호자 [NAME] 씨 면담",
    ]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("Patient José Müller, résumé attached, café.".encode("latin-1"), "text_encoding_unknown"),
        ("患者は胸痛を訴えた。".encode("shift_jis"), "text_encoding_unknown"),
    ],
    ids=["latin1", "shift_jis"],
)
def test_other_encodings_are_quarantined_not_guessed(tmp_path: Path, data: bytes, reason: str) -> None:
    [outcome] = list(TextPlugin().convert([_source("note.txt", data)], _context(tmp_path)))

    assert isinstance(outcome, Quarantine) and outcome.reason == reason
