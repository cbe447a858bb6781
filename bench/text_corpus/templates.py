"""Note templates, one tuple per split. ``{SLOT}`` is an identifier (see `bench.text_corpus.values`),
``[[term]]`` medical content; {MED}/{KMED} add two medical sentences from the split's pool, {EPO} an
eponymous disease (the patient's own surname's when they have one)."""

from __future__ import annotations

from dataclasses import dataclass

from bench.text_corpus.frames import frame_texts


@dataclass(frozen=True)
class Template:
    name: str
    language: str
    text: str


def _t(name: str, language: str, text: str) -> Template:
    return Template(name, language, text)


DEV: tuple[Template, ...] = (
    _t(
        "en_discharge",
        "en",
        "DISCHARGE SUMMARY\nPatient: {P}    MRN: {MRN}\nAdmission Date: {DATE}    Discharge Date: {DATE}\n"
        "Attending: {D}, MD\n\nHISTORY: {P} is a {AGE}-year-old with [[heart failure]] admitted from {HOSP}. "
        "{MED}\nFamily history: {MED}\nHospital course: {Pl} was diuresed with [[furosemide]]. {EPO} noted in "
        "history.\nDisposition: home with daughter {R}, phone {PHONE}.\n{Dl} will follow up.",
    ),
    _t(
        "en_radiology",
        "en",
        "RADIOLOGY REPORT\nExam: CT chest with contrast   Accession: {MRN}\nDate: {DATE}\nPatient {P}, age {AGE}.\n"
        "Scanner serial number {SERIAL}.\nFindings: [[ground-glass opacity]] in the right lower lobe. No "
        "[[pneumothorax]].\nImpression: {MED}\nRead by {D}, MD, {HOSP}. Questions: {PHONEX}.",
    ),
    _t(
        "en_letter",
        "en",
        "{HOSP}\n{ADDR}\n\n{DATE}\n\nRe: {P}\nDOB: {DATE}\n\nDear Dr. {Dl},\nThank you for referring {Pf} {Pl}, a "
        "{AGE}-year-old retired teacher. {MED}\n{Pf} lives with her sister {Rf} at {ADDR}. {MED}\nSincerely,\n{D}\n"
        "Phone {PHONE} {EXT}  Email {EMAIL}",
    ),
    _t(
        "en_nursing",
        "en",
        "Nursing note {DATE} 0800\n{P} was admitted overnight. Pt resting comfortably. {MED}\nSpouse {R} at "
        "bedside, can be reached at {PHONE}.\n{Pf} asked about discharge. Pain 3/10.\nRN: {N}",
    ),
    _t(
        "en_progress",
        "en",
        "PROGRESS NOTE\n{P} was seen on rounds today. {MED} {Pl} reports improved breathing.\nPlan discussed "
        "with {R} (son). {EPO} remains stable.\nInfusion pump serial {SERIAL} replaced.\n{D}",
    ),
    _t(
        "en_ed",
        "en",
        "ED NOTE - {HOSP}\nName: {P}   Age: {AGE}\nAddress: {RADDR}\nArrived by ambulance on {DATE}. {MED}\n"
        "Brother {R} gave the history. {Pf} denies chest pain.\nED physician: {D}",
    ),
    _t(
        "en_consult",
        "en",
        "Consult requested by {D} for {P}, {AGE} y/o. {MED}\nContact the patient's daughter {R} at {PHONEX}. "
        "SSN {SSN}.\n{EPO} is long-standing. Thank you for this consult. {D2}",
    ),
    _t(
        "en_family",
        "en",
        "Family meeting held {DATE} with wife {Rf} and the patient, {P}. {MED}\n{Rf} agrees with hospice "
        "referral to {HOSP}. {MED}\nTime spent 45 minutes. {D}",
    ),
    _t(
        "en_operative",
        "en",
        "OPERATIVE REPORT\nSurgeon: {D}\nAssistant: {D2}\nPatient: {Pl}, {Pf}\nDate of surgery: {DATE}\n"
        "Implant: [[total knee prosthesis]], serial {SERIAL}.\n{MED}\nEBL 200 mL. {Pl} to PACU in stable condition.",
    ),
    _t(
        "en_contact",
        "en",
        "Mailing address: {ADDR}. Alternate: {RADDR}. Phone {PHONE}.\n{P} ({AGE} years) prefers email {EMAIL}. {MED}",
    ),
    _t(
        "ko_discharge",
        "ko",
        "퇴원요약지\n환자명: {KP}  등록번호: {MRN}\n입원일: {KDATE}  퇴원일: {KDATE}\n{KP}는 {AGE}세 남자로 "
        "{KHOSP}에서 전원됨. {KMED}\n{KMED}\n주치의: {KD}",
    ),
    _t(
        "ko_progress",
        "ko",
        "경과기록 {KDATE}\n{KP}와 보호자 면담함. {KMED} 배우자({KR}) 동의함. 연락처 {KPHONE}.\n"
        "{KPg}이 오늘 컨디션 양호함.",
    ),
    _t(
        "ko_nursing",
        "ko",
        "간호기록\n{KDATE} 14:00 {KP} 환자 병실 도착. {KMED}\n{KPg}이가 보호자 {KR}와 함께 있음. {KMED}\n"
        "간호사 {KN}",
    ),
    _t(
        "ko_outpatient",
        "ko",
        "외래기록\n{KMED}\n{KMED}\n{KSDATE} 응급의학과 {KD}",
    ),
    _t(
        "ko_address",
        "ko",
        "주소: {KADDR}\n{KP}({AGE}세, 남) {KSDATE} 내원. 연락처 {KPHONE}.\n{KMED}",
    ),
    _t(
        "ko_radiology",
        "ko",
        "판독소견서\n검사일: {KSDATE}\n환자: {KP} / {AGE}세\n장비 일련번호: {SERIAL}\n{KMED}\n판독의 영상의학과 {KD}",
    ),
    _t(
        "ko_referral",
        "ko",
        "진료의뢰서\n수신: {KHOSP} 담당 선생님\n환자 {KP}({AGE}세) 의뢰드립니다. 주민등록번호 {RRN}.\n{KMED}\n"
        "{KPg} 씨는 {KDATE}부터 증상 있었음.\n의뢰인 가정의학과 {KD} ({KPHONE})",
    ),
    _t(
        "ko_mixed",
        "ko",
        "Pt {KP} ({AGE}/F), {KHOSP} f/u. {KMED}\n{KP}에게 설명함. 딸 {KR} 연락처 {KPHONE}.",
    ),
    _t(
        "ko_family",
        "ko",
        "#1 {KMED}\n#2 {KMED}\n{KP}의 아들 {KR}이 보호자로 상주. {KR}에게 검사 결과 설명함. {KDATE} 퇴원 예정.",
    ),
    _t(
        "ko_consult",
        "ko",
        "협진 회신\n{KP} 님 ({AGE}세) 진찰함. {KMED}\n{KDATE} 재진. 내과 {KD} 드림. 문의 {KPHONE} {EXT}",
    ),
    _t(
        "en_brief",
        "en",
        "Brief note\n{P}, {AGE} years of age, came in with her granddaughter {Rf}. {MED}\n{Pf} and {Rf} were "
        "updated at bedside. {Pl} prefers to go home.\nWarm regards,\n{D}",
    ),
    _t(
        "en_sign_out",
        "en",
        "Sign-out: {Pl}, {Pf} (bed 12). {MED} Wife {Rf} will visit tonight; her cell {PHONE}.\n"
        "Reviewed with attending {D} and fellow {D2}.",
    ),
    _t(
        "en_message",
        "en",
        "Message from {R}, the patient's nephew, on {DATE}: {Pf} fell at home. {MED} Left voicemail for {Rf} at "
        "{PHONEX}. Will try again. -{N}",
    ),
    _t(
        "en_referral",
        "en",
        "To: {D}\nFrom: {D2}\nSubject: {P}\n{Pl} is a {AGE} year old retired nurse. {MED} {EPO} stable. Lives "
        "at {ADDR} with a friend, {R}.\nBest wishes,\n{D2}",
    ),
    _t(
        "ko_surgery",
        "ko",
        "수술 전 기록\n집도의: {KD}, 마취의 {KN}\n{KP} ({AGE}세, 여) {KDATE} 수술 예정. {KMED}\n{KPg}이에게 금식 설명함.",
    ),
    _t(
        "ko_rounds",
        "ko",
        "회진 {KSDATE}\n{KP}이 밤사이 잠을 못 잠. {KMED}\n며느리 {KR} 방문. {KR}에게 상태 설명.\n외과 {KD}",
    ),
    _t(
        "ko_call",
        "ko",
        "전화 상담: {KP} 님 보호자({KR})와 통화함 ({KPHONE}). {KMED} {KPg}가 어지럼 호소한다고 함.",
    ),
    *(_t(f"en_frames{i}", "en", text) for i, text in enumerate(frame_texts("en", 40, seed=7))),
    *(_t(f"ko_frames{i}", "ko", text) for i, text in enumerate(frame_texts("ko", 40, seed=8))),
    _t(
        "ko_nursing2",
        "ko",
        "{KDATE} 간호\n{KP}, 환자 진통제 요청함. {KMED}\n손녀 {KR}가 보호자로 있음. {KSDATE} 퇴원 예정.\n담당 간호사 {KN}",
    ),
)

HELDOUT: tuple[Template, ...] = (
    _t(
        "en_transfer",
        "en",
        "Transfer summary\n{P}, a {AGE} yo man, transferred from {HOSP} to our unit on {DATE}. {MED}\nMr. {Pl} was "
        "accompanied by his niece {Rf}. {MED}\n{Pf} tolerated the transfer well.\nAccepting physician: {D}",
    ),
    _t(
        "en_clinic_letter",
        "en",
        "Re: {P}\nDate of birth: {DATE}\nHospital number: {MRN}\n\nDear {D2},\nI reviewed {Pf} in clinic today. "
        "{MED} {EPO} is well controlled. {Pl} is {AGE} years old and lives alone at {ADDR}.\nKind regards,\n{D}\n"
        "{HOSP} | tel {PHONEX}",
    ),
    _t(
        "en_ultrasound",
        "en",
        "ULTRASOUND ABDOMEN\nPt: {P}  Acc#: {MRN}  Exam date {DATE}\nProbe serial no. {SERIAL}\nFindings: {MED}\n"
        "Dictated by {D}; transcribed {DATE}.",
    ),
    _t(
        "en_shift",
        "en",
        "Nursing shift note\n{Pf} {Pl} slept poorly. {MED} Daughter-in-law {R} called at {PHONE}, asked for an "
        "update. {Pf} is {AGE} and hard of hearing.\n-- {N}, RN",
    ),
    _t(
        "en_social_work",
        "en",
        "Social work: {P} lives at {RADDR} with her husband {Rf}. Contact {PHONE} {EXT}. {MED}\n{Pl} declines "
        "home nursing for now.",
    ),
    _t(
        "en_hospice",
        "en",
        "Hospice referral for {P} (aged {AGE}). {HOSP} hospice team notified on {DATE}. {MED} Granddaughter {R} "
        "is the health care proxy, email {EMAIL}.",
    ),
    _t(
        "en_cardiology",
        "en",
        "CARDIOLOGY CLINIC NOTE\nPatient seen: {P}\n{MED}\nICD generator serial {SERIAL}, interrogated {DATE}.\n"
        "Companion {R} (partner) present. {Pl} agrees with plan. {EPO} unchanged.\nNext visit at {HOSP}.",
    ),
    _t(
        "en_phone",
        "en",
        "Telephone encounter {DATE}: spoke with {Pf}'s son {Rf} regarding results. {MED} Call back number "
        "{PHONEX}.\n{D}",
    ),
    _t(
        "en_pathology",
        "en",
        "Pathology: specimen received {DATE} from {HOSP}, patient {Pl}, {Pf}, SSN {SSN}. {MED}\nSigned out by {D}.",
    ),
    _t(
        "en_emergency_contact",
        "en",
        "Emergency contact: {R}, {ADDR}, {PHONE}.\nPatient {P} is {AGE}. {MED} {Pf} walks with a cane.",
    ),
    _t(
        "ko_admission",
        "ko",
        "입원경과기록\n{KDATE} 입원. {KP}은 {AGE}세 여환으로 {KHOSP} 경유 내원함. {KMED}\n보호자: 아들 {KR} "
        "({KPHONE})\n{KPg}이가 식사 거부함. {KMED}\n작성: 내과 {KD}",
    ),
    _t(
        "ko_intake",
        "ko",
        "간호정보조사지\n성명 {KP}  나이 만 {AGE}세\n주소 {KADDR}\n배우자({KR}) 상주. {KMED}",
    ),
    _t(
        "ko_clinic",
        "ko",
        "{KSDATE} 외래\n{KMED}\n{KP}과 배우자 면담. 다음 예약 {KSDATE}.\n신경과 {KD}",
    ),
    _t(
        "ko_operation",
        "ko",
        "수술기록\n집도의 {KD}\n환자 {KP} ({AGE}세)\n삽입물 일련번호 {SERIAL}\n{KMED}",
    ),
    _t(
        "ko_cooperation",
        "ko",
        "협진의뢰: {KHOSP} → 본원. {KP} 씨 관련. {KMED} 회신 연락처 {KPHONE} {EXT}.",
    ),
    _t(
        "ko_imaging",
        "ko",
        "영상판독\n등록번호 {MRN}, 검사일자 {KDATE}\n{KMED}\n판독: 영상의학과 {KD} / {KHOSP}",
    ),
    _t(
        "ko_education",
        "ko",
        "퇴원 교육: {KPg}에게 약 복용법 설명. 딸({KR})에게도 교육함. {KMED} 다음 방문 {KDATE}.",
    ),
    _t(
        "ko_transfer",
        "ko",
        "Transfer note: {KP} (주민번호 {RRN}) {KHOSP}로 전원. {KMED}\n{KP}는 {AGE}세.",
    ),
    _t(
        "ko_pain",
        "ko",
        "간호기록 {KDATE}\n{KP} 님 통증 호소. {KMED} 남편 {KR}이 보호 중. 이메일 {EMAIL}",
    ),
    _t(
        "ko_social",
        "ko",
        "사회사업팀 상담: 환자 {KP}, 거주지 {KADDR}. {KMED} {KR}와 동거함. {KMED}",
    ),
)
