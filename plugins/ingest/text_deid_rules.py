"""The identifier rules of the clinical-text scrubber: patterns, their context words and plausibility checks.

Why hand-written regexes: the trusted de-identification tools are either model-based (Philter, presidio with
spaCy/transformer NER, which need model downloads at run time — ruled out here) or English-only (scrubadub,
presidio's own regexes know neither Korean names, addresses, phone formats nor resident registration numbers).
Rules are deterministic, reviewable and fast; they find every structured identifier and the names that
follow a cue ("Dr.", "환자", "배우자(…)"). Names without a cue are the name CRF's (`plugins.ingest.text_deid_crf`).

A rule's `id` group, when present, is the identifier; the rest of its match is context that stays
("MRN: [MRN]", "Dr. [NAME]"). `RULES` is in priority order: `plugins.ingest.text_deid` gives a character to the first
rule that claims it.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass

from faker.providers.address.en_AU import Provider as _AuAddress
from faker.providers.address.en_GB import Provider as _GbAddress
from faker.providers.address.en_US import Provider as _EnAddress

from plugins.ingest.text_deid_gazetteer import en_common_words, en_first_names, en_last_names

# ------------------------------------------------------------------ building blocks

_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?"
    r"|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_MONTH_UPPER = r"(?:JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)"
_YEAR = r"(?:19|20)\d{2}"
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_MON = r"(?:0?[1-9]|1[0-2])"
_TIME = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?"

# Korean surnames covering >99% of the population (Statistics Korea census), compound surnames first.
_KO_SURNAMES = (
    "남궁|황보|제갈|선우|독고|사공|서문|"
    "[김이박최정강조윤장임한오서신권황안송류유전홍고문양손배백허남심노하곽성차주우구민나진지엄채원천방공현"
    "함변염여추도소석선설마길연위표명기반라왕금옥육인맹제모탁국어은편용예경봉]"
)
_KO_NAME = rf"(?:{_KO_SURNAMES})[가-힣]{{1,2}}"
# Common words that begin with a surname syllable and can sit where a name would (after "환자", before "씨").
_KO_NOT_NAMES = frozenset(
    """정상 이상 이후 이전 이번 이송 이름 이미 이외 이하 이내 이틀 이유 이완 이명 이식 이동 이뇨 이물 이학 이차
    조영 조직 조절 조기 조금 조사 조치 조언 신장 신경 신체 신규 신부전 신생아 고혈압 고지혈증 고열 고령 고위험
    전원 전신 전체 전반 전에 전혀 전후 전날 주사 주의 주요 주로 주기 주간 진료 진단 진행 진통 진찰 진술 진정
    경과 경우 경련 경구 경미 경향 한쪽 한번 한달 양측 양성 양호 우측 우상 우하 우심 하지 하루 하복부 하엽 안정
    안과 안면 안압 성인 성별 성장 성격 기침 기저 기관 기능 기간 기록 기존 명치 심장 심전도 심근 심부전 심해
    심한 심하 소견 소변 소아 소량 배뇨 배변 배액 구토 구강 구역 공복 반복 반응 반대 변비 변화 여부 여성 여전
    노인 노력 위장 위암 위험 위치 유방 유지 유무 유사 유의 임상 임신 임의 장기 장애 장염 최근 최대 최소 최종
    추가 추적 추후 표준 허리 허혈 현재 현상 황달 홍반 권고 문진 문제 민감 방사선 방문 백혈구 서맥 손상 손목
    송곳 연하 염증 예정 예방 오른쪽 오심 오한 오후 오전 용량 원인 원발 은 인슐린 인후 제외 제거 지속 지난
    지역 차도 차이 천식 편도 통증 남성 남자 모든 모두 모친 부친 나이 나중 마취 마비 마지막 방광 석회 선천
    설사 연령 연속 육안 강도 강직 곽란 탁함 금식 금일 왕복 정도 정기 정맥 정밀 정신 정확 장시간 도움 도중
    채혈 어지럼 엄지 국소 명확 명시 구분 길이 현병력 당일 부작용 지혈 우울 우려 신고 신청 신속 오늘 기분 신문
    이런 이것 이게 이거 이제 이렇게 이야기 조금 정말 전화 최선 우선 우리 안녕 하고 하는 하지 한다 마음 기억 기운
    노래 나가 나는 나도 나의 나를 지금 진짜 주변 주말 장소 방법 성공 공부 공간 문의 문자 연락 연세 인사 인생
    여기 여러 원래 유일 은행 서로 선택 설명 송금 양쪽 어디 어떤 어제 엄마 예전 예약 용서 천천 현실 허락 홍보
    구체 국내 금방 기다 남편 도와 마치 명절 민원 변경 봉사 이해 이야 정리 정해 주위 주무 하면 하게 하다 하여""".split()
)
_TC = r"(?:[A-Z]'|Ma?c)?[A-Z][a-z]+(?:[-'][A-Za-z][a-z]+)?"  # Smith, O'Brien, McKendry, MacGee, Min-jun
_UC = r"[A-Z]{2,}(?:[-'][A-Z]{2,})?"
_EN_NAME = (
    rf"(?:{_TC}(?:[ \t](?:[A-Z]\.[ \t]*)?{_TC}){{0,2}}|{_UC}(?:,[ \t]*|\^|[ \t]+){_UC}(?:[ \t]+{_UC})?)"
)
EN_NAME_STOPWORDS = frozenset(
    """male female man woman unknown none anonymous patient inpatient outpatient mrn dob id sex age the and of
    to in on at for with no yes md rn do np phd signed dictated reviewed seen attending physician name date
    admission discharge hospital history exam report note summary left right chief complaint er ed icu dear re
    mr mrs ms dr prof sincerely regards thanks thank kind best yours cc pt rn""".split()
)

_KO_REGION = (
    r"(?:서울|부산|대구|인천|광주|대전|울산|세종|경기|강원|충북|충남|충청북|충청남|전북|전남|전라북|전라남|경북|경남"
    r"|경상북|경상남|제주)(?:특별시|광역시|특별자치시|특별자치도|도|시)?"
)
_KO_UNIT = r"[가-힣]{1,8}\d{0,3}(?:시|군|구|읍|면|동|리|가|마을)"
_KO_ROAD = (
    r"[가-힣\d]{1,12}(?:로|길|거리)(?:[ \t]?\d{1,4}(?:번길|길))?[ \t]?(?:지하[ \t]?)?\d{1,5}(?:-\d{1,5})?"
)
_KO_LOT = r"(?:지하[ \t]?)?\d{1,5}(?:-\d{1,5})?(?:[ \t]?번지)?"
_KO_DETAIL = (
    r"(?:,?[ \t]?[가-힣A-Za-z\d]{0,12}(?:아파트|빌라|오피스텔|빌딩|타워|APT))?"
    r"(?:,?[ \t]?\d{1,4}[ \t]?동)?(?:,?[ \t]?\d{1,5}[ \t]?호)?(?:[ \t]?\([가-힣\d, ]{1,20}\))?"
)
_KO_UNIT_NOT_ADDRESS = frozenset(
    """경구 백혈구 적혈구 호중구 림프구 단핵구 호산구 호염구 입구 출구 도구 요구 연구 추구 측정시 투약시 내원시 필요시
    당시 동시 수시 즉시 임시 평시 항시 무시 적시 이동 활동 운동 행동 변동 진동 감동 자동 수동 구동 연동""".split()
)

# Every street type faker knows for the US (USPS: Row, Mews, Crossing, Spur…), the UK and Australia, and the
# usual abbreviations.
_STREET_TYPES = {*_EnAddress.street_suffixes, *_GbAddress.street_suffixes, *_AuAddress.street_suffixes}
_STREET_TYPES |= {"St", "Ave", "Rd", "Blvd", "Ln", "Dr", "Ct", "Pl", "Pkwy", "Hwy", "Sq"}
_EN_STREET = "(?:" + "|".join(sorted(_STREET_TYPES, key=len, reverse=True)) + ")"
# Romanized Korean road addresses: "43, Olympic-ro 12-gil, Songpa-gu, Seoul".
_RO_ROAD = (
    r"(?:\d{1,4}(?:-\d{1,4})?,?[ \t]+)?[A-Z][a-z]+(?:-[a-z]+)?-(?:ro|gil|daero|daegil)\b(?:[ \t]+\d{1,4}(?:beon)?-gil)?"
    r"(?:,?[ \t]+\d{1,4}(?:-\d{1,4})?)?(?:,[ \t]*[A-Z][a-z]+-(?:gu|si|gun|dong|eup|myeon))*"
    r"(?:,[ \t]*(?:Seoul|Busan|Daegu|Incheon|Gwangju|Daejeon|Ulsan|Sejong|[A-Z][a-z]+-do))?"
)
# Hospitals known by abbreviation or by a name without a hospital word (a gazetteer, not a pattern).
_HOSPITAL_ABBREVIATIONS = (
    "SNUH|SNUBH|AMC|SMC|MGH|BWH|BIDMC|MSKCC|UCSF|UCLA|CCF|NIH|KUMC|CMC|SNUBH|KCCH|NCC|CHA|MDACC|UPMC|OHSU|NYU"
)
_HOSPITAL_KO_NAMES = "국립암센터|국립중앙의료원|원자력병원|세브란스|아산병원|삼성서울"
_HOSPITAL_EN = (
    r"(?:Hospital|Medical Cent(?:er|re)|Health Cent(?:er|re)|Health System|Health Care|Cancer Cent(?:er|re)"
    r"|Infirmary|Clinic|Hospice|Health)"
)
HOSPITAL_GENERIC_EN = frozenset(
    """the a an this our that outside local referring previous prior same other another brief admitting
    admission post pre day internal medicine cardiology outpatient emergency pain sleep family pediatric
    primary care urgent dermatology psychiatry surgery surgical oncology dental eye general community
    university teaching district regional county state public private veterans walk-in walk in mental behavioral
    heart failure memory anticoagulation diabetes lipid sleep wound care pain headache epilepsy movement disorders
    transplant dialysis fertility travel vaccine allergy asthma hypertension obesity weight bone breast lung liver
    kidney thyroid stroke spine hand foot vein vascular continence geriatric neurology rheumatology hepatology
    nephrology endocrinology urology gastroenterology infectious disease hematology cancer occupational home
    women's men's children's student employee travel""".split()
)
_HOSPITAL_GENERIC_KO = frozenset(
    """타 본 상급 대학 종합 개인 요양 동네 지역 인근 전문 협력 외부 해당 다른 큰 일반 로컬 입원 같은 이 그 전 동일
    상급종합 대형 소형 지방 시립 도립 국립 공공 사립 치과 한방 정신 재활 아동 여성 어린이 소아 외래 인접 근처
    가까운 모 당 귀 전원 방문한 다니던 대학교 동물 의""".split()
)


@dataclass(frozen=True)
class Rule:
    kind: str
    pattern: re.Pattern[str]
    accept: Callable[[re.Match[str]], bool] | None = None


def rule(
    kind: str, pattern: str, accept: Callable[[re.Match[str]], bool] | None = None, flags: int = 0
) -> Rule:
    return Rule(kind, re.compile(pattern, flags), accept)


def _rrn_plausible(match: re.Match[str]) -> bool:
    """13 bare digits are an RRN when the check digit holds or the birth date and sex digit are plausible."""
    digits = match.group("id")
    weights = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
    check = (11 - sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11) % 10
    return check == int(digits[12]) or (
        digits[6] in "12345678" and _valid_date(digits[:6], two_digit_year=True)
    )


def _valid_date(digits: str, two_digit_year: bool = False) -> bool:
    try:
        if two_digit_year:
            datetime.date(2000 + int(digits[:2]), int(digits[2:4]), int(digits[4:6]))
        else:
            datetime.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return False
    return True


def _numeric_date(match: re.Match[str]) -> bool:
    """a/b/yy(yy): accept when it reads as month/day or day/month."""
    a, b = int(match.group("a")), int(match.group("b"))
    return (1 <= a <= 12 and 1 <= b <= 31) or (1 <= b <= 12 and 1 <= a <= 31)


def _eight_digit_date(match: re.Match[str]) -> bool:
    return _valid_date(match.group("id")) and match.group("id")[:2] in ("19", "20")


def _long_id(match: re.Match[str]) -> bool:
    digits = sum(c.isdigit() for c in match.group("id"))
    return digits >= (9 if "-" in match.group("id") else 8)


def _phone_digits(match: re.Match[str]) -> bool:
    """A labelled number may be a 7-digit local one; an unlabelled one needs at least 8 digits."""
    labelled = match.start("id") > match.start()
    return (7 if labelled else 8) <= sum(c.isdigit() for c in match.group("id")) <= 15


def _en_name(match: re.Match[str]) -> bool:
    words = re.split(r"[\s,^.]+", match.group("id"))
    return any(word and word.lower() not in EN_NAME_STOPWORDS for word in words)


def _en_labelled_name(match: re.Match[str]) -> bool:
    """After a label with a colon ("Patient: …") or "name (is)"; without one only a full name ("Patient John
    Smith", "wife, Mary Lee") of words none of which is a stopword ("Patient Denies Pain" stays)."""
    context = match.group(0)[: match.start("id") - match.start()].lower()
    if ":" in context or "：" in context or "name" in context:
        return _en_name(match)
    words = [w for w in re.split(r"[\s,^.]+", match.group("id")) if w]
    if len(words) == 1:  # "niece Amelia", "husband Michael": one word that is not an ordinary English one
        return words[0].lower() not in EN_NAME_STOPWORDS and words[0].lower() not in en_common_words()
    return all(w.lower() not in EN_NAME_STOPWORDS for w in words)


def _first_name_pair(match: re.Match[str]) -> bool:
    """A gazetteer first name and a capitalised word ("Glenn Field", "Amy Brown"): a name unless the second
    word is an ordinary English one that is no surname ("Grace Period")."""
    last = match.group("last")
    return last.lower() not in EN_NAME_STOPWORDS and (
        last.lower() not in en_common_words() or last in en_last_names()
    )


def _signature(match: re.Match[str]) -> bool:
    words = re.split(r"[ \t.]+", match.group("id"))
    return all(w.lower() not in EN_NAME_STOPWORDS and w.lower() not in en_common_words() for w in words if w)


def _ko_name(match: re.Match[str]) -> bool:
    """After a strong right context ("님", "(72세"): reject only common words that start with a surname."""
    return match.group("id") not in _KO_NOT_NAMES


def _ko_name_after_label(match: re.Match[str]) -> bool:
    """After a label the next word may be anything ("의사: 기분은…"): also reject such a word + particle.

    The price: a name whose first two syllables are such a word, followed by a particle ("이상은"), is missed.
    """
    name = match.group("id")
    stem = name[:-1] if len(name) == 3 and name[-1] in "은는이가을를의와과도로에" else name
    return name not in _KO_NOT_NAMES and stem not in _KO_NOT_NAMES


def _en_hospital(match: re.Match[str]) -> bool:
    words = [w for w in match.group("id").split()[:-1] if w not in ("and", "of", "the", "&")]
    words = [w for w in words if w.lower() not in ("medical", "health", "centre", "center", "system")]
    return any(w.lower().strip(".'") not in HOSPITAL_GENERIC_EN for w in words)


def _ko_hospital(match: re.Match[str]) -> bool:
    return match.group("prefix").strip() not in _HOSPITAL_GENERIC_KO


def _ko_address_unanchored(match: re.Match[str]) -> bool:
    return (
        match.group("first") not in _KO_UNIT_NOT_ADDRESS and match.group("second") not in _KO_UNIT_NOT_ADDRESS
    )


_LABEL_END = r"[ \t]*(?:[:：#=]{1,2}|No\.?|번호)?[ \t]*"
_AGE90 = r"(?:9\d|1[01]\d)"

RULES: tuple[Rule, ...] = (
    rule("EMAIL", r"(?P<id>[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})"),
    rule("URL", r"(?P<id>\b(?:https?://|www\.)[^\s<>\"')\]]+)", flags=re.I),
    # Resident registration number ######-#######: any such shape, valid check digit or not (post-2020 RRNs
    # no longer carry one), masked forms too; bare 13 digits only when they look like one.
    rule("RRN", r"(?<![\d-])(?P<id>\d{6}[ \t]?[-–][ \t]?(?:\d{7}|[1-8*][*\d]{6}))(?![\d*])"),
    rule("RRN", r"(?<!\d)(?P<id>\d{13})(?!\d)", _rrn_plausible),
    rule(
        "MRN",
        r"(?i:\bMRN|\bM\.R\.N\.?|\bmed(?:ical)?[ \t]*rec(?:ord)?s?(?:[ \t]*(?:no\.?|number|#))?|\bhospital[ \t]*"
        r"(?:no\.?|number|#)|\bchart[ \t]*(?:no\.?|number|#)|\bunit[ \t]*(?:no\.?|number)|\bpatient[ \t]*"
        r"(?:id|no\.?|number)|\bpt\.?[ \t]*id|등록[ \t]?번호|병록[ \t]?번호|환자[ \t]?번호|차트[ \t]?번호"
        r"|진료[ \t]?번호|병원[ \t]?번호|환자[ \t]?ID)"
        + _LABEL_END
        + r"(?P<id>[A-Za-z]{0,3}-?\d[\d-]{2,}[A-Za-z\d]*)",
    ),
    rule(
        "ID",
        r"(?i:\bSSN|\bsocial[ \t]+security(?:[ \t]+(?:no\.?|number))?|\binsurance(?:[ \t]+(?:no\.?|number|id))?"
        r"|\bpolicy[ \t]*(?:no\.?|number)|\baccount[ \t]*(?:no\.?|number)|\bacct\.?(?:[ \t]*no\.?)?"
        r"|\bacc\.?(?=[ \t]*[#:])|\baccession(?:[ \t]*(?:no\.?|number))?|\bpassport(?:[ \t]*(?:no\.?|number))?|\blicen[cs]e"
        r"(?:[ \t]*(?:no\.?|number))?|\bspecimen[ \t]*(?:no\.?|id)|보험증?[ \t]?번호|건강보험[ \t]?번호|여권[ \t]?번호"
        r"|계좌[ \t]?번호|검사[ \t]?번호|접수[ \t]?번호|면허[ \t]?번호|사원[ \t]?번호|학번)"
        + _LABEL_END
        + r"(?P<id>[A-Za-z\d][A-Za-z\d-]{3,}\d[A-Za-z\d]*)",
    ),
    rule("ID", r"(?<![\d-])(?P<id>\d{3}-\d{2}-\d{4})(?![\d-])"),  # US SSN shape
    rule(
        "ID",
        r"(?i:\bserial(?:[ \t]*(?:number|no\.?|#))?|\bS/N|\bSN|\blot(?:[ \t]*(?:number|no\.?|#))?|\bUDI|\bdevice[ \t]*id"
        r"|일련[ \t]?번호|시리얼(?:[ \t]?번호)?|제조[ \t]?번호|로트[ \t]?번호)"
        + _LABEL_END
        + r"(?P<id>[A-Za-z\d][A-Za-z\d-]{2,}\d[A-Za-z\d-]*)",
    ),
    rule(
        "PHONE",
        r"(?i:\btel|\bphone|\bph|\bcall|\bmobile|\bcell|\bfax|\bcontact|연락처|전화(?:번호)?|휴대폰|휴대전화|핸드폰|팩스"
        r"|\bH\.?P)\.?[ \t]*(?:no\.?|번호)?[ \t]*[:#]?[ \t]*(?P<id>\+?\d[\d \t().-]{6,}\d)",
        _phone_digits,
    ),
    rule(
        "PHONE",
        r"(?<!\d)(?<!\d\.)(?P<id>\(?0(?:2|[3-6][1-5]|70|50\d?|1[016789])\)?[-. \t]?\d{3,4}[-. \t]\d{4})(?!\d|\.\d)",
    ),
    rule("PHONE", r"(?<!\d)(?P<id>01[016789]\d{7,8})(?!\d)"),
    rule("PHONE", r"(?P<id>\+82[-. \t]?\(?0?\)?[ \t]?\d{1,2}[-. \t]?\d{3,4}[-. \t]?\d{4})(?!\d)"),
    rule(
        "PHONE",
        r"(?<![\d-])(?P<id>(?:\+?1[-. \t]?)?\(?[2-9]\d{2}\)?[-. \t]\d{3}[-. \t]\d{4})(?![\d-])",
    ),
    rule("PHONE", r"(?<!\w)(?P<id>\+\d{1,3}(?:[-. \t]?\(?\d{1,4}\)?){2,4}\d)(?!\d)", _phone_digits),
    rule(
        "PHONE",
        r"(?<![A-Za-z\d])(?P<id>(?:x|ext\.?[ \t]?|extension[ \t]|내선[ \t]?)\d{2,6})(?!\d)",
        flags=re.I,
    ),
    rule(
        "AGE",
        rf"(?<![\d.])(?P<id>{_AGE90})(?=[ \t]*(?:-[ \t]?|[ \t])?(?:years?|yrs?|yo\b|y/o|y\.o\.|세|살))",
        flags=re.I,
    ),
    rule(
        "AGE",
        rf"(?i:\bage[ds]?|\bat[ \t]+age|나이|연령)[ \t]*[:：]?[ \t]*(?:만[ \t]*)?(?P<id>{_AGE90})(?![\d.])",
    ),
    rule("AGE", rf"(?<![\d.])(?:만[ \t]*)?(?P<id>{_AGE90})[ \t]*(?=/[ \t]*[MF남여]\b|[ \t]*[MF]\b\)|세)"),
    rule(
        "AGE",
        rf"\b(?:[A-Z][A-Za-z'’-]+|[Hh]e|[Ss]he)[ \t]+(?:is|was|turned)[ \t]+(?P<id>{_AGE90})\b"
        r"(?![.,]\d|[ \t]*(?:%|mg|bpm|mmHg|/|kg|cm|beats|breaths))",
    ),
    rule(
        "DATE",
        r"(?i:\bDOB|\bD\.O\.B\.?|\bdate[ \t]+of[ \t]+birth|\bbirth[ \t]*date|생년월일|생일)[ \t]*[:：]?[ \t]*"
        r"(?P<id>\d[\d./\- 년월일]*\d[일.]?)",
    ),
    rule(
        "DATE", rf"(?<![\d.])(?P<id>{_YEAR}[ \t]?[-./][ \t]?{_MON}[ \t]?[-./][ \t]?{_DAY}\.?{_TIME})(?![\d])"
    ),
    rule("DATE", rf"(?<![\d.])(?P<id>{_YEAR}[-./](?:0[1-9]|1[0-2]))(?![\d.-])"),
    rule(
        "DATE",
        rf"(?<!\d)(?P<id>(?:(?:19|20)?\d{{2}}[ \t]*년[ \t]*)?{_MON}[ \t]*월(?:[ \t]*{_DAY}[ \t]*일)?)",
    ),
    rule("DATE", rf"(?<!\d)(?P<id>{_DAY}[ \t]*일)(?=[ \t]*(?:\([월화수목금토일]\)|에|부터|까지|경))"),
    rule(
        "DATE",
        r"(?<![\d/.])(?P<id>(?P<a>\d{1,2})(?P<sep>[/-])(?P<b>\d{1,2})(?P=sep)(?:(?:19|20)\d{2}|\d{2}))(?![\d/])",
        _numeric_date,
    ),
    rule("DATE", rf"(?<![\d.])(?P<id>{_DAY}\.{_MON}\.{_YEAR})(?![\d])"),
    rule("DATE", r"(?<![\d.])(?P<id>\d{2}\.(?:0[1-9]|1[0-2])\.(?:0[1-9]|[12]\d|3[01]))\.?(?![\d])"),
    rule("DATE", r"(?<![\d.])(?P<id>\d{2}\.(?:[1-9]|1[0-2])\.(?:[1-9]|[12]\d|3[01]))(?!\d|\.\d)"),
    rule(
        "DATE",
        rf"\b(?P<id>{_MONTH}[ \t]+\d{{1,2}}(?:st|nd|rd|th)?(?:,?[ \t]+{_YEAR})?|\d{{1,2}}(?:st|nd|rd|th)?"
        rf"[ \t]+(?:of[ \t]+)?{_MONTH}(?:,?[ \t]+{_YEAR})?|{_MONTH},?[ \t]+{_YEAR})\b",
    ),
    rule(
        "DATE", rf"(?<![\d\w])(?P<id>\d{{1,2}}[- ]?{_MONTH_UPPER}[- ]?(?:{_YEAR}|\d{{2}}))(?!\w)", flags=re.I
    ),
    rule("DATE", r"(?<!\d)(?P<id>\d{8})(?!\d)", _eight_digit_date),
    rule(
        "ADDRESS",
        r"(?i:\baddress|\baddr\.?|주소지?|거주지|자택)[ \t]*[:：][ \t]*(?P<id>[^\n;|]{3,80}?)"
        r"(?=[ \t]*(?:\n|$|;|\||[ \t]{2,}|,?[ \t]*[^\s:：]{1,12}[ \t]*[:：]))",
    ),
    rule(
        "ADDRESS",
        rf"(?<![가-힣])(?P<id>{_KO_REGION}(?:[ \t]+{_KO_UNIT}){{0,4}}[ \t]+(?:{_KO_ROAD}|{_KO_UNIT}|{_KO_LOT})"
        rf"(?:[ \t]+(?:{_KO_ROAD}|{_KO_LOT}))?{_KO_DETAIL})",
    ),
    rule(
        "ADDRESS",
        rf"(?<![가-힣])(?P<id>(?P<first>[가-힣]{{1,8}}(?:시|군|구))[ \t]+(?P<second>{_KO_ROAD}|[가-힣\d]{{1,8}}(?:구|군|동|읍|면))"
        rf"(?:[ \t]+{_KO_UNIT})?(?:[ \t]+(?:{_KO_ROAD}|{_KO_LOT}))?{_KO_DETAIL})",
        _ko_address_unanchored,
    ),
    rule(
        "ADDRESS",
        rf"(?<!\w)(?P<id>\d{{1,6}}[ \t]+(?:[NSEW]\.?[ \t]+)?(?:[A-Z][A-Za-z\d.'-]*[ \t]+){{1,4}}{_EN_STREET}\b\.?"
        r"(?:,?[ \t]*(?:Apt|Apartment|Suite|Ste|Unit|Room|Rm|#)\.?[ \t]*#?[\w-]+)?"
        r"(?:,[ \t]*(?:St\.[ \t])?[A-Z][a-zA-Z]+(?:[ \t][A-Z][a-zA-Z]+){0,2})?(?:,[ \t]*[A-Z]{2}\b)?"
        r"(?:,?[ \t]+(?:\d{4,5}(?:-\d{4})?|[A-Z]\d{2}[A-Z\d]{4}|[A-Z]{1,2}\d[A-Z\d]?[ \t]?\d[A-Z]{2}|[A-Z]\d{2}[ \t]?[A-Z\d]{4})\b)?)",
    ),
    rule("ADDRESS", r"\b(?P<id>P\.?[ \t]?O\.?[ \t]+Box[ \t]+\d+)", flags=re.I),
    rule("ADDRESS", rf"(?<![\w-])(?P<id>{_RO_ROAD})"),
    rule(
        "HOSPITAL",
        rf"(?P<id>[A-Z][A-Za-z.'&-]*[ \t]+(?:(?:[A-Z][A-Za-z.'&-]*|and|of|the|&)[ \t]+){{0,5}}{_HOSPITAL_EN})\b"
        r"(?![ \t]+(?:[Cc]ourse|[Ss]tay|[Dd]ays?|[Aa]dmission|[Dd]ischarge|[Vv]isit|[Ff]ollow))",
        _en_hospital,
    ),
    rule(
        "HOSPITAL",
        r"(?<![A-Za-z])(?P<id>(?:Hospital|Medical[ \t]+Cent(?:er|re))[ \t]+of[ \t]+(?:the[ \t]+)?[A-Z][A-Za-z.'-]*"
        r"(?:[ \t]+[A-Z][A-Za-z.'-]*){0,3})",
    ),
    rule("HOSPITAL", rf"(?<![A-Za-z])(?P<id>{_HOSPITAL_ABBREVIATIONS})(?![A-Za-z])"),
    rule("HOSPITAL", rf"(?<![가-힣])(?P<id>{_HOSPITAL_KO_NAMES})"),
    rule(
        "HOSPITAL",
        r"(?<![가-힣A-Za-z\d])(?P<id>(?:[가-힣]{2,10}(?:보험|공단|재단|법인)[ \t])?(?P<prefix>(?:[가-힣A-Za-z]{1,12}대학교[ \t]?(?:의과대학[ \t]?)?(?:부속[ \t]?)?)?"
        r"[가-힣A-Za-z\d]{1,12})(?:병원|의료원|의원|요양원|보건소|메디컬센터|의료센터|암센터))(?![체균성])",
        _ko_hospital,
    ),
    rule(
        "NAME",
        rf"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Professor|Sister|Nurse)\.?[ \t]+(?P<id>{_EN_NAME})",
        _en_name,
    ),
    rule(
        "NAME",
        r"(?i:\bpatient(?:'s)?[ \t]*name|\bname|\bpatient|\bpt|\battending(?:[ \t]+physician)?|\bphysician|\bsurgeon"
        r"|\bresident|\bintern|\bnurse|\breferring(?:[ \t]+(?:physician|doctor|md))?|\bprimary[ \t]+care(?:[ \t]+"
        r"physician)?|\bpcp|\bsigned(?:[ \t]+by)?|\bdictated[ \t]+by|\btranscribed[ \t]+by|\belectronically[ \t]+"
        r"signed[ \t]+by|\bseen[ \t]+by|\breviewed[ \t]+by|\bauthor|\bprovider|\bguardian|\bemergency[ \t]+contact"
        r"|\bcontact(?:[ \t]+person)?|\bnext[ \t]+of[ \t]+kin|\bmother|\bfather|\bson|\bdaughter|\bwife|\bhusband"
        r"|\bspouse|\bcc|\bname[ \t]+is|\bnamed|\bre|\bdear|\bsister|\bbrother|\bniece|\bnephew|\bcousin|\baunt"
        r"|\buncle|\bgrand(?:daughter|son|mother|father)|\b(?:daughter|son|mother|father|brother|sister)-in-law"
        r"|\bpartner|\bcompanion|\bproxy|\bfriend|\bmom|\bdad|\bspoke[ \t]+with|\bcalled|\bsigned[ \t]+out[ \t]+by"
        r"|\bpatient[ \t]+seen|\bsincerely|\bregards|\bbest[ \t]+wishes|\bthanks)"
        rf"[ \t]*[:：,]?[ \t]*(?P<id>{_TC},[ \t]*{_TC}(?![ \t]*[a-z])|{_EN_NAME})",
        _en_labelled_name,
    ),
    rule(
        "NAME",
        r"\b(?P<id>(?:"
        + "|".join(sorted(en_first_names(), key=len, reverse=True))
        + r")(?:[ \t]+[A-Z]\.)?[ \t]+"
        rf"(?P<last>{_TC}))\b",
        _first_name_pair,
    ),
    rule(  # a signature: two or three capitalised words alone on the note's last line
        "NAME",
        rf"\n[ \t]*(?P<id>{_TC}(?:[ \t](?:[A-Z]\.[ \t])?{_TC}){{1,2}})[ \t]*\Z",
        _signature,
    ),
    rule(  # the signature under a letter's closing
        "NAME",
        r"(?i:\bsincerely|\bregards|\bbest[ \t]+wishes|\bthanks|\bthank[ \t]+you|\byours(?:[ \t]+(?:truly|faithfully))?)"
        rf",?[ \t]*\n[ \t]*(?P<id>{_EN_NAME})",
        _en_name,
    ),
    rule(
        "NAME",
        rf"\b(?P<id>{_TC}(?:[ \t]+(?:[A-Z]\.[ \t]*)?{_TC}){{1,2}}),?[ \t]+(?:MD|M\.D\.|DO|D\.O\.|RN|R\.N\.|PhD|Ph\.D\."
        r"|NP|PA-C|MBBS)(?![A-Za-z])",
        _en_name,
    ),
    rule(
        "NAME",
        r"(?:성명|이름|환자명|환자[ \t]?성명|수진자명?|보호자명?|담당[ \t]?의사|담당의|주치의|전공의|의사|간호사|작성자"
        r"|판독의|판독자|기록자|검사자|처방의|집도의|의뢰의|신청자|서명)[ \t]*[:：][ \t]*(?P<id>"
        + _KO_NAME
        + r")",
        _ko_name_after_label,
    ),
    rule(
        "NAME",
        r"(?:환자|환아|보호자|담당의|주치의|전공의|간호사|작성자|작성|판독의|판독|집도의|의뢰의|의뢰인|수진자|성명|모친|부친|어머니|아버지|남편|아내|부인"
        r"|배우자|아들|딸|동생|언니|누나|오빠|형|손자|손녀|며느리|사위)[ \t]*[ \t(][ \t]*(?P<id>"
        + _KO_NAME
        + r")(?=[은는이가을를의와과도께에]|님|씨|[ \t\n,.()]|$)",
        _ko_name_after_label,
    ),
    rule(
        "NAME",
        r"(?<![가-힣])(?P<id>"
        + _KO_NAME
        + r")[ \t]?(?=님|씨|교수|선생|원장|과장|간호사|전공의|레지던트|인턴|보호자)",
        _ko_name,
    ),
    rule(
        "NAME",
        r"(?<![가-힣])(?P<id>"
        + _KO_NAME
        + r")[ \t]?(?=\([ \t]*(?:남|여|[MF]\b|\d{1,3}[ \t]*세|\d{1,3}[ \t]*/[ \t]*[MF남여]))",
        _ko_name,
    ),
    rule("NAME", r"(?<![가-힣])(?P<id>(?:" + _KO_SURNAMES + r")[*○●◯Ｏ◇xXO]{1,2}[가-힣]?)(?![A-Za-z])"),
    rule(
        "NAME",
        r"(?<![가-힣])[가-힣]{0,7}(?:과|센터|팀|병동)[ \t]+(?P<id>"
        + _KO_NAME
        + r")(?=[ \t]*(?:$|\n|드림|\(|/|교수|선생|올림|\.))",
        _ko_name,
    ),
    rule("NAME", r"(?<![가-힣])(?P<id>(?:" + _KO_SURNAMES + r")[ \t]?모[ \t]?(?:씨|군|양))"),
    rule("ID", r"(?<![\w.-])(?P<id>\d[\d-]{6,}\d)(?![\w.])", _long_id),
    rule("ID", r"\b(?P<id>[A-Z]{1,3}\d{6,})\b"),
)
