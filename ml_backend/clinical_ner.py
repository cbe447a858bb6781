"""Clinical entity spans: curated dictionaries and patterns, plus a learner fitted on physicians' spans.

The rules cover what is regular in Korean and English notes (doses, routes, frequencies, lab values, vital
signs) and a small curated vocabulary (common drugs with their Korean names, common diagnoses, tests and
procedures). The learner adds what physicians teach it: a gazetteer of the surface forms they labelled
and a logistic regression on character n-grams of candidate spans (1-3 tokens) with their neighbouring
words, so unseen names that look like labelled ones ("-olol", "-statin", "…itis") are found too.
Entity types use the codes of the clinical_ner_relations template (problem, medication, strength, …).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str
    code: str
    score: float


# ------------------------------------------------------------------ curated vocabulary

MEDICATIONS = (
    "acetaminophen", "paracetamol", "aspirin", "ibuprofen", "naproxen", "tramadol", "morphine", "oxycodone",
    "metformin", "glimepiride", "sitagliptin", "dapagliflozin", "insulin", "amlodipine", "nifedipine",
    "losartan", "valsartan", "sacubitril/valsartan", "lisinopril", "ramipril", "enalapril", "bisoprolol",
    "carvedilol", "metoprolol", "atenolol", "furosemide", "torsemide", "hydrochlorothiazide", "atorvastatin",
    "rosuvastatin", "simvastatin", "clopidogrel", "ticagrelor", "warfarin", "apixaban", "edoxaban", "dabigatran",
    "heparin", "enoxaparin", "digoxin", "amiodarone", "omeprazole", "pantoprazole", "esomeprazole",
    "famotidine", "ceftriaxone", "cefazolin", "amoxicillin", "amoxicillin/clavulanate", "azithromycin",
    "levofloxacin", "ciprofloxacin", "vancomycin", "metronidazole", "prednisolone", "prednisone",
    "dexamethasone", "hydrocortisone", "potassium chloride", "salbutamol", "albuterol", "tiotropium",
    "levothyroxine", "allopurinol", "gabapentin", "sertraline", "escitalopram", "lorazepam", "quetiapine",
    "아스피린", "아세트아미노펜", "타이레놀", "이부프로펜", "메트포르민", "인슐린", "암로디핀", "로사르탄",
    "발사르탄", "비소프롤롤", "카르베딜롤", "푸로세미드", "아토르바스타틴", "로수바스타틴", "클로피도그렐",
    "와파린", "아픽사반", "헤파린", "디곡신", "아미오다론", "오메프라졸", "판토프라졸", "세프트리악손",
    "반코마이신", "아목시실린", "프레드니솔론", "덱사메타손", "레보티록신",
)  # fmt: skip
PROBLEMS = (
    "hypertension", "diabetes mellitus", "type 2 diabetes mellitus", "type 1 diabetes mellitus", "diabetes",
    "heart failure", "atrial fibrillation", "coronary artery disease", "myocardial infarction", "angina",
    "stroke", "pneumonia", "sepsis", "COPD", "asthma", "chronic kidney disease", "acute kidney injury",
    "anemia", "hypokalemia", "hyperkalemia", "hyponatremia", "hyperlipidemia", "dyslipidemia",
    "cardiomyopathy", "pleural effusion", "pulmonary embolism", "deep vein thrombosis", "cirrhosis",
    "urinary tract infection", "cellulitis", "gastroesophageal reflux", "hypothyroidism", "obesity",
    "dyspnea", "chest pain", "fever", "cough", "edema", "leg edema", "syncope", "palpitations", "nausea",
    "vomiting", "diarrhea", "abdominal pain", "headache", "dizziness", "fatigue",
    "고혈압", "당뇨병", "심부전", "심방세동", "폐렴", "패혈증", "만성 신장병", "빈혈", "뇌졸중", "협심증",
    "심근경색", "호흡곤란", "흉통", "발열", "기침", "부종",
)  # fmt: skip
TESTS = (
    "echocardiography", "echocardiogram", "chest X-ray", "CXR", "CT", "MRI", "ECG", "EKG", "ultrasound",
    "coronary angiography", "colonoscopy", "endoscopy", "blood culture", "urinalysis", "polysomnography",
    "BMP", "CBC", "심전도", "심초음파", "흉부 X선", "혈액검사",
)  # fmt: skip
TREATMENTS = (
    "PCI", "CABG", "thoracentesis", "paracentesis", "hemodialysis", "dialysis", "intubation",
    "mechanical ventilation", "transfusion", "oxygen therapy", "low-salt diet", "투석", "수혈",
)  # fmt: skip
LAB_TESTS = (
    "Hb", "Hgb", "hemoglobin", "Hct", "WBC", "PLT", "platelet", "Cr", "creatinine", "BUN", "eGFR", "Na",
    "K", "Cl", "sodium", "potassium", "glucose", "HbA1c", "CRP", "ESR", "ALT", "AST", "ALP", "bilirubin",
    "albumin", "INR", "PT", "aPTT", "troponin", "troponin I", "troponin T", "BNP", "NT-proBNP", "LDL",
    "HDL", "TSH", "lactate", "procalcitonin", "ferritin", "혈색소", "크레아티닌", "혈당",
)  # fmt: skip
VITALS = ("BP", "HR", "PR", "RR", "SpO2", "BT", "Temp", "혈압", "맥박", "체온", "산소포화도")

_NUMBER = r"\d+(?:,\d{3})*(?:\.\d+)?"
_LAB_UNIT = (
    r"(?:g/dL|mg/dL|mmol/L|mEq/L|pg/mL|ng/mL|ng/L|U/L|IU/L|mg/L|mL/min(?:/1\.73\s?m2)?|x\s?10\^?\d+/u?L"
    r"|/uL|/mm3|sec|%)"
)
_DOSE_UNIT = r"(?:mg|mcg|µg|g|mL|units?|IU|mEq|mmol)(?![/\w])"
_ROUTE = (
    r"PO|p\.o\.|IV|IM|SC|SQ|SL|orally|intravenously|subcutaneously|inhaled|경구|정맥주사|정맥|피하주사|피하"
)
_FREQUENCY = (
    r"qd|q\.d\.|bid|b\.i\.d\.|tid|t\.i\.d\.|qid|qhs|prn|q\d+h|once daily|twice daily|three times daily|"
    r"once a day|twice a day|daily|at bedtime|every \d+ hours|1일\s?\d+회|하루\s?\d+\s?(?:번|회)|매일|필요시"
)
_DURATION = r"for \d+ (?:days?|weeks?|months?)|x \d+ (?:days?|weeks?)|\d+\s?일간|\d+\s?주간"
_DOSAGE = r"\d+(?:\.\d+)? (?:tabs?|tablets?|caps?|capsules?|puffs?|drops?|vials?)|\d+\s?(?:정|캡슐|앰플)"
_FORM = r"tablets?|capsules?|patch|solution|injection|inhaler|suspension|syrup|정제|캡슐|주사제|패치"

# (pattern, code, score): the capture group "span" (or the whole match) is the entity.
_PATTERNS: tuple[tuple[re.Pattern[str], str, float], ...] = (
    (re.compile(rf"(?<![\w/.])(?P<span>{_NUMBER}(?:/{_NUMBER})?\s?{_DOSE_UNIT})"), "strength", 0.9),
    (re.compile(rf"(?<!\w)(?P<span>{_ROUTE})(?!\w)", re.IGNORECASE), "route", 0.85),
    (re.compile(rf"(?<!\w)(?P<span>{_FREQUENCY})(?!\w)", re.IGNORECASE), "frequency", 0.85),
    (re.compile(rf"(?<!\w)(?P<span>{_DURATION})(?!\w)", re.IGNORECASE), "duration", 0.8),
    (re.compile(rf"(?<!\w)(?P<span>{_DOSAGE})(?!\w)", re.IGNORECASE), "dosage", 0.8),
    (re.compile(rf"(?<!\w)(?P<span>{_FORM})(?!\w)", re.IGNORECASE), "form", 0.6),
)


def _alternation(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


def _dictionary_pattern(words: Sequence[str]) -> re.Pattern[str]:
    # Korean nouns take particles directly (고혈압이, 아스피린을), so only the start needs a boundary there.
    return re.compile(rf"(?<![\w-])(?:{_alternation(words)})(?:(?![\w-])|(?<=[가-힣]))", re.IGNORECASE)


_DICTIONARIES: tuple[tuple[re.Pattern[str], str, float], ...] = (
    (_dictionary_pattern(MEDICATIONS), "medication", 0.9),
    (_dictionary_pattern(PROBLEMS), "problem", 0.75),
    (_dictionary_pattern(TESTS), "test", 0.75),
    (_dictionary_pattern(TREATMENTS), "treatment", 0.75),
)
_MEASUREMENT = re.compile(
    rf"(?<![\w-])(?P<test>{_alternation(LAB_TESTS + VITALS)})(?![\w-])"
    rf"(?:\s*(?:was|of|is|:|=|fell to|rose to)?\s*)"
    rf"(?P<value>{_NUMBER}(?:/{_NUMBER})?(?:\s?{_LAB_UNIT}|\s?mmHg|\s?bpm|\s?/min|\s?°C)?)(?![\w/])",
    re.IGNORECASE,
)


def rule_spans(text: str) -> list[Span]:
    """Entities the curated rules find, overlaps resolved (longer and higher-scoring first)."""
    found: list[Span] = []
    for match in _MEASUREMENT.finditer(text):
        for group, code, score in (("test", "test", 0.85), ("value", "lab_value", 0.85)):
            start, end = match.span(group)
            found.append(Span(start, end, text[start:end], code, score))
    for pattern, code, score in _DICTIONARIES + _PATTERNS:
        for match in pattern.finditer(text):
            start, end = match.span("span") if "span" in pattern.groupindex else match.span()
            found.append(Span(start, end, text[start:end], code, score))
    return sorted(resolve_overlaps(found), key=lambda s: s.start)


def resolve_overlaps(spans: Iterable[Span], kept: Sequence[Span] = ()) -> list[Span]:
    """Add `spans` to `kept` best first (higher score, then longer, then earlier), skipping overlaps."""
    kept = list(kept)
    for span in sorted(spans, key=lambda s: (-s.score, -(s.end - s.start), s.start)):
        if all(span.end <= k.start or span.start >= k.end for k in kept):
            kept.append(span)
    return kept


# ------------------------------------------------------------------ learning from physicians' spans

_TOKEN = re.compile(r"[\w][\w/.+-]*[\w%]|[\w%]", re.UNICODE)
_OUTSIDE = "O"


@dataclass(frozen=True)
class TrainingNote:
    text: str
    spans: tuple[tuple[int, int, str], ...]  # (start, end, code)


def _candidates(text: str, max_tokens: int = 3) -> list[tuple[int, int]]:
    tokens = [m.span() for m in _TOKEN.finditer(text)]
    out = []
    for i in range(len(tokens)):
        for j in range(i, min(i + max_tokens, len(tokens))):
            if "\n" in text[tokens[i][0] : tokens[j][1]]:
                break
            out.append((tokens[i][0], tokens[j][1]))
    return out


def _features(text: str, start: int, end: int) -> str:
    """The span's own characters plus its neighbouring words, as one document for the n-gram vectorizer."""
    before = text[max(0, start - 20) : start].split()
    after = text[end : end + 20].split()
    left = before[-1].lower() if before else "<s>"
    right = after[0].lower() if after else "</s>"
    return f"{text[start:end].lower()} \x01L{left} \x01R{right}"


class SpanLearner:
    """Gazetteer + character n-gram logistic regression, rebuilt from the stored training notes."""

    def __init__(self, notes: Sequence[TrainingNote]) -> None:
        self.gazetteer: dict[str, Counter[str]] = defaultdict(Counter)
        for note in notes:
            for start, end, code in note.spans:
                form = note.text[start:end].lower()
                if not any(ch.isdigit() for ch in form):  # numbers generalise by pattern, not by surface
                    self.gazetteer[form][code] += 1
        self.classifier = self._fit_classifier(notes)

    @staticmethod
    def _fit_classifier(notes: Sequence[TrainingNote]):  # noqa: ANN205 - a sklearn Pipeline or None
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        documents, targets = [], []
        rng = np.random.default_rng(0)
        for note in notes:
            gold = {(s, e): c for s, e, c in note.spans}
            for start, end, code in note.spans:
                documents.append(_features(note.text, start, end))
                targets.append(code)
            negatives = [c for c in _candidates(note.text) if c not in gold]
            for index in rng.permutation(len(negatives))[: 4 * max(1, len(note.spans))]:
                start, end = negatives[index]
                documents.append(_features(note.text, start, end))
                targets.append(_OUTSIDE)
        if len(set(targets) - {_OUTSIDE}) < 1 or len(set(targets)) < 2:
            return None
        model = make_pipeline(
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=1),
            LogisticRegression(max_iter=1000, C=5.0, class_weight="balanced"),
        )
        model.fit(documents, targets)
        return model

    def gazetteer_spans(self, text: str) -> list[Span]:
        """Occurrences of the surface forms physicians labelled, with their majority label."""
        found: list[Span] = []
        for form, counts in self.gazetteer.items():
            code, count = counts.most_common(1)[0]
            share = count / sum(counts.values())
            score = min(0.97, share * (0.8 + 0.05 * min(count, 3)))
            for match in re.finditer(rf"(?<![\w-]){re.escape(form)}(?![\w-])", text, re.IGNORECASE):
                found.append(Span(match.start(), match.end(), match.group(), code, score))
        return found

    def classifier_spans(self, text: str, threshold: float = 0.6) -> list[Span]:
        """Candidate spans the n-gram classifier labels as an entity with probability >= threshold."""
        found: list[Span] = []
        if self.classifier is not None:
            candidates = _candidates(text)
            if candidates:
                probabilities = self.classifier.predict_proba([_features(text, s, e) for s, e in candidates])
                classes = list(self.classifier.classes_)
                for (start, end), row in zip(candidates, probabilities, strict=True):
                    best = int(np.argmax(row))
                    if classes[best] != _OUTSIDE and row[best] >= threshold:
                        found.append(
                            Span(start, end, text[start:end], str(classes[best]), float(row[best]) * 0.9)
                        )
        return found


def predict_spans(text: str, learner: SpanLearner | None = None) -> list[Span]:
    """Physicians' own surface forms first, then the rules, then the classifier where neither found anything.

    That order lets physicians correct a rule (their labelled form wins over it), while the classifier,
    which can cut a span wrongly, only fills gaps.
    """
    if learner is None:
        return rule_spans(text)
    kept = resolve_overlaps(learner.gazetteer_spans(text))
    kept = resolve_overlaps(rule_spans(text), kept)
    return sorted(resolve_overlaps(learner.classifier_spans(text), kept), key=lambda s: s.start)
