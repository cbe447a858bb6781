"""Clinical-text ingest: identifiers in English and Korean notes become typed placeholders, clinical content and
span offsets survive, and unreadable files are quarantined."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from config_templates import list_templates
from plugins.ingest.base import IngestContext, IngestOptions, Quarantine, SourceFile, TaskDraft
from plugins.ingest.text import TextPlugin
from plugins.ingest.text_deid import _Painting, scrub

SECRET = b"text-test-project-secret-32bytes"


def _context(tmp_path: Path, **options: object) -> IngestContext:
    return IngestContext(7, SECRET, tmp_path, lambda p: str(p), IngestOptions(**options))  # type: ignore[arg-type]


def _memory(display_name: str, data: bytes) -> SourceFile:
    return SourceFile(display_name, lambda: data, len(data))


def _rrn(front: str, back6: str) -> str:
    """A resident registration number with a valid check digit (weights 2..9,2..5, mod 11)."""
    digits = front + back6
    total = sum(int(d) * w for d, w in zip(digits, (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5), strict=True))
    return f"{front}-{back6}{(11 - total % 11) % 10}"


VALID_RRN = _rrn("800101", "123456")
INVALID_RRN = VALID_RRN[:-1] + str((int(VALID_RRN[-1]) + 1) % 10)

# (note, [(identifier as written, placeholder kind)], [clinical text that must survive verbatim])
NOTES: list[tuple[str, list[tuple[str, str]], list[str]]] = [
    (
        "DISCHARGE SUMMARY\nPatient: John Smith    MRN: 00123456    DOB: 03/05/1948\n"
        "Admitted 03/01/2024 to Massachusetts General Hospital, discharged March 5, 2024.\n"
        "Hospital course: 75-year-old man with CHF (I50.9). Hb 10.2 g/dL, BP 120/80, Na 138 mEq/L.\n"
        "Started furosemide 40 mg IV BID, then metoprolol 25 mg PO daily. Mr. Smith improved.\n"
        "Signed: Emily Chen, MD",
        [
            ("John Smith", "NAME"),
            ("00123456", "MRN"),
            ("03/05/1948", "DATE"),
            ("03/01/2024", "DATE"),
            ("Massachusetts General Hospital", "HOSPITAL"),
            ("March 5, 2024", "DATE"),
            ("Smith improved", "NAME"),
            ("Emily Chen", "NAME"),
        ],
        [
            "75-year-old",
            "I50.9",
            "Hb 10.2 g/dL",
            "BP 120/80",
            "Na 138 mEq/L",
            "furosemide 40 mg IV BID",
            "Hospital course",
        ],
    ),
    (
        "Referred by Dr. Sarah O'Brien (tel 617-555-0199, fax +1 617 555 0100, sobrien@clinic.example.org).\n"
        "Home address: 221 Baker Street, Apt 4B, Springfield, IL 62704.\n"
        "SSN 123-45-6789, insurance no. XK-99812345. Visit 2024-03-05 14:30. INR 2.5, eGFR 45 mL/min/1.73m2.",
        [
            ("Sarah O'Brien", "NAME"),
            ("617-555-0199", "PHONE"),
            ("+1 617 555 0100", "PHONE"),
            ("sobrien@clinic.example.org", "EMAIL"),
            ("221 Baker Street, Apt 4B, Springfield, IL 62704", "ADDRESS"),
            ("123-45-6789", "ID"),
            ("XK-99812345", "ID"),
            ("2024-03-05 14:30", "DATE"),
        ],
        ["INR 2.5", "eGFR 45 mL/min/1.73m2"],
    ),
    (
        "퇴원 요약\n환자 홍길동 (남, 72세), 등록번호: 12345678\n"
        f"주민등록번호 {VALID_RRN}, 연락처 010-1234-5678, 보호자 김영희 님 02-123-4567.\n"
        "2024년 3월 5일 서울대학교병원 응급실 내원. 고혈압 환자로 2019년부터 치료 중.\n"
        "주소: 서울특별시 종로구 대학로 101\n"
        "혈압 120/80 mmHg, Hb 10.2 g/dL, 아스피린 100mg 1일 1회. 홍길동은 흉통 호소. 담당의: 박민수",
        [
            ("홍길동", "NAME"),
            ("12345678", "MRN"),
            (VALID_RRN, "RRN"),
            ("010-1234-5678", "PHONE"),
            ("김영희", "NAME"),
            ("02-123-4567", "PHONE"),
            ("2024년 3월 5일", "DATE"),
            ("서울대학교병원", "HOSPITAL"),
            ("서울특별시 종로구 대학로 101", "ADDRESS"),
            ("홍길동은", "NAME"),
            ("박민수", "NAME"),
        ],
        [
            "72세",
            "고혈압 환자",
            "2019년부터",
            "혈압 120/80 mmHg",
            "Hb 10.2 g/dL",
            "아스피린 100mg 1일 1회",
            "흉통 호소",
        ],
    ),
    (
        "성명: 김철수  생년월일: 1955.03.05  전화: +82 10 9876 5432  병록번호 A-0099123\n"
        f"RRN {INVALID_RRN} (check digit wrong), 8001011234567 bare.\n"
        "경기도 성남시 분당구 판교역로 235 거주. 2024.03.05 삼성서울병원에서 전원됨. 이메일 cs.kim@example.co.kr\n"
        "판독의: 이서연 교수. 2024-03-07 외래 예약. 심전도 정상 동리듬, 좌심실 박출률 45%.",
        [
            ("김철수", "NAME"),
            ("1955.03.05", "DATE"),
            ("+82 10 9876 5432", "PHONE"),
            ("A-0099123", "MRN"),
            (INVALID_RRN, "RRN"),
            ("8001011234567", "RRN"),
            ("경기도 성남시 분당구 판교역로 235", "ADDRESS"),
            ("2024.03.05", "DATE"),
            ("삼성서울병원", "HOSPITAL"),
            ("cs.kim@example.co.kr", "EMAIL"),
            ("이서연", "NAME"),
            ("2024-03-07", "DATE"),
        ],
        ["심전도 정상 동리듬", "좌심실 박출률 45%", "에서 전원됨"],
    ),
    (
        "Pt seen at Samsung Medical Center on 5 Mar 2024; prior records from St. Mary's Hospital (Seoul).\n"
        "Contact: Kim Min-jun, son, 010 2222 3333. Nurse: Park Ji-yeon. Chart # 7788-1234.\n"
        "Dx: type 2 DM (E11.9), HTN (I10). HbA1c 7.8%. Plan: metformin 1000 mg BID, recheck in 3 months.",
        [
            ("Samsung Medical Center", "HOSPITAL"),
            ("5 Mar 2024", "DATE"),
            ("St. Mary's Hospital", "HOSPITAL"),
            ("Kim Min-jun", "NAME"),
            ("010 2222 3333", "PHONE"),
            ("Park Ji-yeon", "NAME"),
            ("7788-1234", "MRN"),
        ],
        ["type 2 DM (E11.9)", "HTN (I10)", "HbA1c 7.8%", "metformin 1000 mg BID", "recheck in 3 months"],
    ),
    (
        "Seen by Dr Lee today. Patient name: LEE, JUNG-HO. Call 555-0123 or (02) 3010-3114. Next visit Jan 3rd, "
        "2025.\nHer husband, David Miller, accompanied her. David reports fever. Electronically signed by: "
        "Robert K. Johnson, M.D. on 11/02/2023 09:15. cc: Maria Garcia RN. Labs 2024/03/05: WBC 11.2. "
        "Admitted on 3/5/24. Discharged 05.03.2024. Visit on 12-MAR-2024. Transferred from Asan Medical Center.",
        [
            ("Lee today", "NAME"),
            ("LEE, JUNG-HO", "NAME"),
            ("555-0123", "PHONE"),
            ("(02) 3010-3114", "PHONE"),
            ("Jan 3rd, 2025", "DATE"),
            ("David Miller", "NAME"),
            ("David reports", "NAME"),
            ("Robert K. Johnson", "NAME"),
            ("11/02/2023", "DATE"),
            ("Maria Garcia", "NAME"),
            ("2024/03/05", "DATE"),
            ("3/5/24", "DATE"),
            ("05.03.2024", "DATE"),
            ("12-MAR-2024", "DATE"),
            ("Asan Medical Center", "HOSPITAL"),
        ],
        ["WBC 11.2", "09:15"],
    ),
    (
        "소아청소년과 외래. 환아 이하은(7세, 여) 발열 3일. 모친 정수진 010-5555-6666. H.P: 01098765432\n"
        "주소지: 대구광역시 수성구 범어동 123-45\n부산광역시 해운대구 센텀중앙로 79 거주. 보호자 이OO, 김 모씨(45/F).\n"
        "세브란스병원 및 서울아산병원 진료. 환자 박지성은 3월 2일 입원. 정형외과 이재훈 교수 협진.",
        [
            ("이하은", "NAME"),
            ("정수진", "NAME"),
            ("010-5555-6666", "PHONE"),
            ("01098765432", "PHONE"),
            ("대구광역시 수성구 범어동 123-45", "ADDRESS"),
            ("부산광역시 해운대구 센텀중앙로 79", "ADDRESS"),
            ("이OO", "NAME"),
            ("김 모씨", "NAME"),
            ("세브란스병원", "HOSPITAL"),
            ("서울아산병원", "HOSPITAL"),
            ("박지성", "NAME"),
            ("3월 2일", "DATE"),
            ("이재훈", "NAME"),
        ],
        ["소아청소년과 외래", "(7세, 여) 발열 3일", "정형외과", "교수 협진"],
    ),
]

# Notes without any identifier: every replacement here is a false positive.
CLEAN_NOTES = [
    "Hospital course: 68-year-old woman with Parkinson disease and atrial fibrillation. INR 2.5, "
    "warfarin 5 mg daily. May consider DOAC. Take 1/2 tablet q8h. Na 138, K 4.1, Cr 1.2 mg/dL, BNP 450 pg/mL.",
    "Chest X-ray: no pneumothorax. ECG: sinus rhythm 72 bpm, PR 160 ms, QRS 90 ms, QTc 440 ms. NYHA class II. "
    "Follow up at the cardiology clinic in 2 weeks. Patient denies chest pain. Brief Hospital Course: uneventful.",
    "Troponin I 0.03 ng/mL, CK-MB 2.1, WBC 12,300/uL, Hgb 9.8 g/dL, Plt 250 K/uL. BMI 27.4 kg/m2. "
    "Dose range 2.5-5 mg; titrate to 10 mg. ECOG 1. Grade 3 toxicity. SpO2 98% on RA. T 36.8 C.",
    "환자 정상 소견. 이상 소견 없음. 우측 하엽 폐렴 의심. 3개월 후 추적 관찰. 1일 2회 복용. 신부전 환자로 투석 중. "
    "고혈압 환자. 당뇨 환자. 타 병원에서 전원. 대학병원 진료 권유. 병원균 배양 음성.",
    "백혈구 12,000/μL, 호중구 이동 관찰. 혈압 측정시 변동 있음. 수술 후 2일째 보행 시작. 좌심실 박출률 55%. "
    "심전도 정상 동리듬, 심박수 72회/분. 아스피린 100 mg 1일 1회, 아토르바스타틴 20 mg 취침 전.",
    "CT: 2.3 cm mass in the right upper lobe, SUV max 8.2. Lugano stage II. R-CHOP cycle 3 of 6 given. "
    "Echo: EF 35-40%, moderate MR. Holter: 1,234 PVCs/24 h. eGFR 45 mL/min/1.73m2, HbA1c 7.1%.",
    # Written after the rules, run once: one false positive ("경구 항생제로" read as an address), since fixed.
    "Assessment and Plan: Acute on chronic systolic heart failure, EF 25%. Continue carvedilol 12.5 mg BID, "
    "sacubitril/valsartan 49/51 mg BID, spironolactone 25 mg daily. Daily weights; call if gain > 2 kg in 3 days. "
    "Cardiac rehab referral. Return to clinic in 1 month.",
    "Operative note: Laparoscopic cholecystectomy. Findings: distended gallbladder with multiple stones, Critical "
    "View of Safety obtained. EBL 20 mL. Specimen to Pathology. Drains: none. Patient tolerated procedure well and "
    "was transferred to PACU in stable condition.",
    "Radiology: MRI brain with and without contrast. 1.2 x 0.9 cm enhancing lesion in left frontal lobe with "
    "surrounding vasogenic edema. No midline shift. Impression: Metastasis favored over primary glioma. Recommend "
    "correlation with PET-CT. Lung-RADS 4A nodule on prior CT.",
    "주호소: 3일 전부터 발생한 발열 및 기침. 현병력: 평소 건강하던 자로 내원 3일 전부터 38.5도 발열, 가래 동반 기침 "
    "있어 본원 응급실 내원함. 흉부 X선상 우하엽 경화 소견. CRP 12.3 mg/dL, 프로칼시토닌 0.8 ng/mL. 세프트리악손 2 g "
    "정주 시작.",
    "경과기록: 입원 2일째. 해열됨. 산소포화도 실내공기 96%. 식사량 양호. 혈당 140-180 mg/dL로 조절 중, 인슐린 글라진 "
    "10단위 취침 전 유지. 내일 경구 항생제로 변경 후 퇴원 예정. 외래 추적 2주 후.",
    "판독소견: 위내시경상 위체부 소만에 2 cm 크기의 궤양 병변 관찰, 생검 시행(CLO test 양성). 식도 및 십이지장 특이 "
    "소견 없음. 결론: 위궤양(A1 stage), H. pylori 양성. 제균 치료 권고.",
]


def _kind_at(scrubbed: object, original: str, needle: str) -> set[str]:
    start = original.index(needle)
    end = start + len(needle)
    return {r.kind for r in scrubbed.replacements if r.start < end and r.end > start}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("note", "identifiers", "clinical"), NOTES, ids=[f"note{i}" for i in range(len(NOTES))]
)
def test_identifiers_become_typed_placeholders(note: str, identifiers: list, clinical: list[str]) -> None:
    scrubbed = scrub(note)

    for identifier, kind in identifiers:
        core = identifier.removesuffix("은").removesuffix(" improved")
        assert core not in scrubbed.text, f"{identifier!r} survived"
        assert _kind_at(scrubbed, note, identifier) == {kind}, identifier
    for phrase in clinical:
        assert phrase in scrubbed.text, f"clinical text {phrase!r} was altered"


def test_false_positives_on_identifier_free_notes() -> None:
    replaced = [(r.kind, note[r.start : r.end]) for note in CLEAN_NOTES for r in scrub(note).replacements]

    assert replaced == []


def test_template_sample_notes_lose_only_their_dates() -> None:
    """The catalog's sample notes (written by others, ~7k characters, English and Korean, a dialogue transcript)
    carry made-up dates but no names: before the Korean stop-list covered "의사: 기분은…" speaker lines, 5 words
    there were taken for names."""
    texts = [
        value
        for template in list_templates()
        for value in template.sample_task.values()
        if isinstance(value, str) and not value.startswith("sample:") and len(value) > 40
    ]
    assert len(texts) >= 8

    kinds = {r.kind for text in texts for r in scrub(text).replacements}

    assert kinds == {"DATE"}


def test_rrn_with_and_without_a_valid_check_digit() -> None:
    for rrn in (VALID_RRN, INVALID_RRN, VALID_RRN.replace("-", ""), "991399-1234567", "800101-1******"):
        assert scrub(f"주민번호 {rrn} 확인").text == "주민번호 [RRN] 확인", rrn


def test_spans_keep_their_text_after_replacement(tmp_path: Path) -> None:
    note = "Mr. John Smith (MRN 1234567) started metformin 500 mg on 2024-03-05 for type 2 diabetes."
    spans = [
        {"start": note.index("metformin"), "end": note.index("metformin") + 9, "label": "medication"},
        {"start": note.index("500 mg"), "end": note.index("500 mg") + 6, "label": "dosage"},
        {"start": note.index("type 2"), "end": len(note) - 1, "label": "problem", "text": "type 2 diabetes"},
        {"start": note.index("John"), "end": note.index("John") + 10, "label": "person"},
        {"start": note.index("on 2024"), "end": note.index("on 2024") + 13, "label": "date"},
        {"start": 0, "end": 3, "label": "stale", "text": "Mrs"},
        {"start": 80, "end": 400, "label": "outside"},
    ]
    predictions = [
        {
            "result": [
                {
                    "from_name": "entities",
                    "to_name": "text",
                    "type": "labels",
                    "value": {
                        "start": note.index("metformin"),
                        "end": note.index("metformin") + 9,
                        "labels": ["drug"],
                    },
                }
            ]
        }
    ]
    lines = [
        {"text": note, "spans": spans, "note_type": "progress", "patient_name": "John Smith"},
        {"data": {"text": note}, "predictions": predictions},
    ]
    source = _memory("notes.jsonl", "\n".join(json.dumps(line) for line in lines).encode())
    plugin = TextPlugin()
    assert plugin.claims(source)

    first, second = list(plugin.convert([source], _context(tmp_path)))

    assert isinstance(first, TaskDraft) and isinstance(second, TaskDraft)
    text = first.data["text"]
    assert "John" not in text and "1234567" not in text and "2024-03-05" not in text
    kept = {s["label"]: text[s["start"] : s["end"]] for s in first.facts["spans"]}
    assert kept == {"medication": "metformin", "dosage": "500 mg", "problem": "type 2 diabetes"}
    assert {(d["label"], d["reason"]) for d in first.facts["dropped_spans"]} == {
        ("person", "overlaps [NAME]"),
        ("date", "overlaps [DATE]"),
        ("stale", "offsets do not match its text"),
        ("outside", "offsets out of range"),
    }
    assert first.data["note_type"] == "progress" and "patient_name" not in first.data
    assert "John" not in json.dumps(first.facts)
    [drug] = second.facts["spans"]
    assert second.data["text"][drug["start"] : drug["end"]] == "metformin" and drug["origin"] == "predictions"
    assert first.content_key == second.content_key  # same scrubbed note


def test_odd_jsonl_structures_are_ignored_not_fatal(tmp_path: Path) -> None:
    line = {
        "text": "Stable angina, aspirin 100 mg.",
        "spans": "not a list",
        "predictions": [{"result": 5}, "x"],
        "annotations": [{"result": [{"value": "abc"}, {"value": {"start": "0", "end": 6, "labels": "x"}}]}],
    }
    source = _memory("odd.jsonl", json.dumps(line).encode())

    [draft] = list(TextPlugin().convert([source], _context(tmp_path)))

    assert isinstance(draft, TaskDraft) and draft.data["text"] == line["text"]
    assert draft.facts["spans"] == []
    assert [d["reason"] for d in draft.facts["dropped_spans"]] == ["offsets out of range"]


def test_painting_gives_each_character_to_the_first_rule() -> None:
    """The interval painter against the obvious per-character version, on random overlapping ranges."""
    rng = random.Random(5)
    for _ in range(500):
        painting, reference = _Painting(), [None] * 60
        for _ in range(rng.randint(1, 10)):
            start = rng.randrange(60)
            end, kind = rng.randint(start + 1, 60), rng.choice("AB")
            painting.paint(start, end, kind)
            reference[start:end] = [old or kind for old in reference[start:end]]
        painted: list[str | None] = [None] * 60
        for start, end, kind in painting.ranges:
            assert painted[start:end] == [None] * (end - start)  # disjoint
            painted[start:end] = [kind] * (end - start)
        assert painted == reference


def test_csv_notes_drop_identifying_columns(tmp_path: Path) -> None:
    rows = (
        "patient_name,mrn,note_type,text\n"
        'Hong Gildong,99887766,discharge,"환자 홍길동 님, 2024년 3월 5일 퇴원. 혈압 120/80."\n'
        'Jane Roe,11223344,progress,"Dr. Jane Roe reviewed labs: Hb 10.2 g/dL."\n'
        "Nobody,55555555,progress,\n"
    )
    source = _memory("export.csv", rows.encode())
    plugin = TextPlugin()
    assert plugin.claims(source)

    outcomes = list(plugin.convert([source], _context(tmp_path, data_key="note")))

    drafts = [o for o in outcomes if isinstance(o, TaskDraft)]
    assert [o.reason for o in outcomes if isinstance(o, Quarantine)] == ["text_empty"]
    assert [d.data["note"] for d in drafts] == [
        "환자 [NAME] 님, [DATE] 퇴원. 혈압 120/80.",
        "Dr. [NAME] reviewed labs: Hb 10.2 g/dL.",
    ]
    assert [set(d.data) for d in drafts] == [{"note", "note_type"}] * 2
    everything = json.dumps([(d.data, d.facts) for d in drafts], ensure_ascii=False)
    for value in ("Hong", "Gildong", "99887766", "Roe", "11223344"):
        assert value not in everything


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("latin1.txt", "Patient: José Müller, résumé, café".encode("latin-1"), "text_encoding_unknown"),
        ("scan.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "text_unreadable"),
        ("blank.txt", b"  \n", "text_empty"),
        ("table.csv", b"id,score\n1,3\n", "text_no_column"),
        ("broken.jsonl", b'{"text": "fine note"}\n{not json\n', "text_malformed"),
    ],
)
def test_unreadable_files_are_quarantined(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    outcomes = list(TextPlugin().convert([_memory(name, data)], _context(tmp_path)))

    assert reason in [o.reason for o in outcomes if isinstance(o, Quarantine)]
    assert all(name.split(".")[0] not in o.detail for o in outcomes if isinstance(o, Quarantine))


def test_plain_text_note_becomes_one_task(tmp_path: Path) -> None:
    note = b"Patient: Jane Doe\nAssessment: community-acquired pneumonia, CURB-65 score 1.\n"
    plugin = TextPlugin()
    source = _memory("jane_doe_2024.txt", note)
    assert plugin.claims(source) and not plugin.claims(_memory("image.png", b"\x89PNG"))

    [draft] = list(plugin.convert([source], _context(tmp_path)))

    assert isinstance(draft, TaskDraft)
    assert draft.data == {
        "text": "Patient: [NAME]\nAssessment: community-acquired pneumonia, CURB-65 score 1.\n"
    }
    assert draft.facts["identifiers"] == {"NAME": 1}
    assert "jane" not in json.dumps(draft.facts).lower()
