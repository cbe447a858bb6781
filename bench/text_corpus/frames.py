"""Dev-only sentence frames with names in many positions, combined into extra dev templates so that the name
CRF learns what a name looks like and where it can stand, rather than the few slots of the hand-written
templates. The held-out split never uses them."""

from __future__ import annotations

import random

EN_FRAMES = (
    "{P} presented with two days of fever.",
    "{Pf} reports feeling better this morning.",
    "{Pl} was given [[acetaminophen]] for pain.",
    "Discussed the plan with {Pf} and her son {Rf}.",
    "{R}, her daughter, is the main caregiver.",
    "Seen together with {D}.",
    "Case reviewed with {D} ({HOSP}).",
    "{Pf} {Pl} is a pleasant retired engineer.",
    "Mrs. {Pl} lives with her cousin {Rf}.",
    "Mr. {Pl} wants to go home.",
    "Patient {P} refused the blood draw.",
    "The patient, {P}, was seen in follow-up.",
    "{P}, {AGE} years old, came in by car.",
    "{P} ({AGE} y/o) was seen at {HOSP}.",
    "Notes faxed to {D} on {DATE}.",
    "Spoke to {R} by phone.",
    "Her neighbour {Rf} brought her in.",
    "{Rf} ({Pf}'s grandson) asked about visiting hours.",
    "Care plan agreed by {Pf}, {Rf} and the team.",
    "Thanks,\n{D}",
    "Regards,\n{D2}",
    "Yours sincerely,\n{D}",
    "{D}\n{HOSP}",
    "-- {N}",
    "Author: {N}, RN",
    "Attested by {D}, {DATE}.",
    "{Pl}, {Pf}  DOB {DATE}",
    "Name: {Pl}, {Pf}",
    "Pt name {P}",
    "Next of kin: {R} ({PHONE})",
    "{Pf} was walking in the hallway with {Rf}.",
    "Consulted {D} regarding anticoagulation.",
    "Referral letter for {P} sent to {HOSP}.",
    "{Pf} says her knee pain is 4/10.",
    "{Pl} tolerated the procedure well.",
    "Grandson {Rf} and granddaughter {R} at bedside.",
    "{P} is an {AGE}-year-old woman.",
    "Message left for {Pf} to call back.",
    "Report sent to {D} at {PHONEX}.",
    "{Pf} and her partner {Rf} live at {ADDR}.",
)
KO_FRAMES = (
    "{KP}는 어제부터 발열 있었음.",
    "{KP}은 오늘 컨디션 양호.",
    "{KP}이 밤새 잠을 못 잠.",
    "{KP}가 식사를 잘 함.",
    "{KP}를 {KHOSP}로 전원함.",
    "{KP}에게 검사 결과 설명함.",
    "{KP}와 보호자에게 설명함.",
    "{KP}과 면담함.",
    "{KP}의 딸 {KR}이 방문함.",
    "{KPg}이가 울면서 보챔.",
    "{KPg}에게 약 설명함.",
    "{KPg}가 어지럽다고 함.",
    "{KPg}는 보행 가능.",
    "보호자 {KR} 씨와 통화함.",
    "아들({KR})에게 연락함.",
    "남편 {KR}이 상주함.",
    "{KR} 님이 보호자로 동의서 작성함.",
    "담당: {KD}",
    "작성자 {KN}",
    "{KD} 교수님께 보고함.",
    "{KD} 선생님 확인함.",
    "내과 {KD}",
    "신경외과 {KD} 드림",
    "정형외과 {KD} / {KHOSP}",
    "{KN} 간호사 인계함.",
    "환자 {KP} ({AGE}세, 여)",
    "{KP} 환자 {KDATE} 입원.",
    "{KP}({AGE}/M) 외래 방문.",
    "성명: {KP}, 연락처 {KPHONE}",
    "{KDATE} {KP} 퇴원.",
    "{KR}(배우자) 면회함.",
    "손자 {KR}와 함께 내원.",
    "{KP}, {KR} 모두 교육함.",
    "이송 요청: {KP}, {KADDR}",
)


def frame_texts(language: str, count: int, seed: int) -> list[str]:
    """`count` template texts of 5-8 frames each (and two medical-sentence slots), reproducible."""
    rng = random.Random(seed)
    frames = EN_FRAMES if language == "en" else KO_FRAMES
    medical = "{MED}" if language == "en" else "{KMED}"
    texts = []
    for _ in range(count):
        chosen = rng.sample(frames, rng.randint(5, 8)) + clinical_sentences(language, rng.randint(3, 6), rng)
        rng.shuffle(chosen)
        chosen[rng.randrange(len(chosen))] += " " + medical
        chosen.insert(rng.randrange(len(chosen) + 1), medical)
        texts.append(rng.choice(("\n", " ")).join(chosen))
    return texts


# Clinical sentences built from parts, so the dev notes are full of capitalised medical words at sentence and
# line starts (Troponin…, Laparoscopic…, Continue…) and Korean medical nouns that start with a surname syllable
# (신부전, 심박수): the negatives the CRF needs so as not to take them for names.
_EN_STARTERS = (
    "Acute",
    "Chronic",
    "Mild",
    "Moderate",
    "Severe",
    "Bilateral",
    "Diffuse",
    "Focal",
    "Recurrent",
    "Persistent",
    "Intermittent",
    "Postoperative",
    "Laparoscopic",
    "Endoscopic",
    "Percutaneous",
    "Transthoracic",
    "Transesophageal",
    "Degenerative",
    "Suspected",
    "Probable",
    "Stable",
    "Improving",
    "Worsening",
    "Resolved",
)
_EN_FINDINGS = (
    "pneumonia",
    "cholecystitis",
    "pancreatitis",
    "kidney injury",
    "heart failure",
    "effusion",
    "stenosis",
    "cellulitis",
    "anemia",
    "hyponatremia",
    "edema",
    "atelectasis",
    "colitis",
    "echocardiography",
    "cholecystectomy",
    "appendectomy",
    "change of the lumbar spine",
    "thrombosis",
    "dermatitis",
    "delirium",
)
_EN_TESTS = (
    "Troponin",
    "Creatinine",
    "Hemoglobin",
    "Potassium",
    "Sodium",
    "Glucose",
    "Lactate",
    "Ferritin",
    "Albumin",
    "Lipase",
    "Procalcitonin",
    "Bilirubin",
    "Platelets",
    "Magnesium",
    "Calcium",
    "Phosphate",
    "Ammonia",
)
_EN_VERBS = (
    "Continue",
    "Start",
    "Stop",
    "Hold",
    "Increase",
    "Decrease",
    "Monitor",
    "Check",
    "Repeat",
    "Consider",
    "Avoid",
    "Recommend",
    "Obtain",
    "Order",
    "Resume",
    "Titrate",
    "Encourage",
    "Discontinue",
)
_EN_DRUGS = (
    "heparin",
    "warfarin",
    "metformin",
    "lisinopril",
    "atorvastatin",
    "ceftriaxone",
    "vancomycin",
    "insulin",
    "furosemide",
    "pantoprazole",
    "amlodipine",
    "prednisone",
    "levetiracetam",
    "oxycodone",
)
_EN_HEADERS = (
    "Assessment",
    "Plan",
    "Impression",
    "Findings",
    "Exam",
    "Labs",
    "Vitals",
    "Neuro",
    "Cardiac",
    "Abdomen",
    "Extremities",
    "Skin",
    "Lungs",
    "Alert",
    "Chest",
    "Dyspnea",
    "Lab",
    "Cardiology",
    "Internal Medicine",
    "Radiology",
    "Nephrology",
    "Disposition",
    "Allergies",
    "Medications",
)
_KO_NOUNS = (
    "심잡음",
    "신경학적",
    "정맥염",
    "이뇨제",
    "조영제",
    "전해질",
    "배뇨곤란",
    "하지부종",
    "고칼륨혈증",
    "저나트륨혈증",
    "심근경색",
    "장폐색",
    "기관지염",
    "방광염",
    "위염",
    "간수치",
    "혈소판",
    "백혈구",
    "진통제",
    "해열제",
    "수액",
    "항생제",
    "산소포화도",
    "호흡곤란",
    "흉수",
    "복수",
    "전신부종",
    "구역감",
    "한기",
    "오한",
    "마비",
    "경련",
    "도뇨관",
    "배액관",
    "안정",
    "금식",
    "설사",
    "황달",
    "부종",
)
_KO_ENDINGS = (
    "소견 보임.",
    "있음.",
    "없음.",
    "호전됨.",
    "악화됨.",
    "관찰됨.",
    "지속됨.",
    "의심됨.",
    "확인함.",
    "호소함.",
)


def clinical_sentences(language: str, count: int, rng: random.Random) -> list[str]:
    """`count` clinical sentences, every term marked [[ ]] as medical content."""
    sentences = []
    for _ in range(count):
        if language == "ko":
            nouns = rng.sample(_KO_NOUNS, 2)
            sentences.append(
                f"{rng.choice(('', '환자 ', '금일 '))}[[{nouns[0]}]] 및 [[{nouns[1]}]] {rng.choice(_KO_ENDINGS)}"
            )
            continue
        kind = rng.randrange(4)
        if kind == 0:
            sentences.append(f"[[{rng.choice(_EN_STARTERS)} {rng.choice(_EN_FINDINGS)}]] noted.")
        elif kind == 1:
            sentences.append(f"[[{rng.choice(_EN_TESTS)}]] {rng.randint(1, 300) / 10} on recheck.")
        elif kind == 2:
            sentences.append(f"{rng.choice(_EN_VERBS)} [[{rng.choice(_EN_DRUGS)}]].")
        else:
            sentences.append(f"{rng.choice(_EN_HEADERS)}: [[{rng.choice(_EN_FINDINGS)}]].")
    return sentences
