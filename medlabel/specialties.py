"""The routing taxonomy: the 26 Korean medical specialties, their subspecialties, and labeler tiers."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class Specialty:
    code: str
    en: str
    ko: str
    subspecialties: tuple[str, ...] = ()


SPECIALTIES: dict[str, Specialty] = {
    s.code: s
    for s in (
        Specialty(
            "internal_medicine",
            "Internal Medicine",
            "내과",
            (
                "cardiology",
                "gastroenterology",
                "pulmonology",
                "nephrology",
                "endocrinology",
                "hematology_oncology",
                "infectious_disease",
                "rheumatology",
                "allergy",
            ),
        ),
        Specialty("neurology", "Neurology", "신경과", ("epilepsy", "stroke", "neuromuscular", "sleep")),
        Specialty(
            "psychiatry", "Psychiatry", "정신건강의학과", ("child_adolescent", "addiction", "geriatric")
        ),
        Specialty(
            "general_surgery",
            "General Surgery",
            "외과",
            ("hepatobiliary", "colorectal", "breast", "endocrine", "trauma"),
        ),
        Specialty(
            "orthopedic_surgery", "Orthopedic Surgery", "정형외과", ("spine", "joint", "hand", "sports")
        ),
        Specialty("neurosurgery", "Neurosurgery", "신경외과", ("spine", "vascular", "neuro_oncology")),
        Specialty(
            "thoracic_cardiovascular_surgery",
            "Thoracic and Cardiovascular Surgery",
            "심장혈관흉부외과",
            ("cardiac", "thoracic", "vascular"),
        ),
        Specialty(
            "plastic_surgery", "Plastic Surgery", "성형외과", ("craniofacial", "reconstructive", "burn")
        ),
        Specialty(
            "anesthesiology", "Anesthesiology and Pain Medicine", "마취통증의학과", ("pain", "critical_care")
        ),
        Specialty(
            "obstetrics_gynecology",
            "Obstetrics and Gynecology",
            "산부인과",
            ("maternal_fetal", "gynecologic_oncology", "reproductive"),
        ),
        Specialty("pediatrics", "Pediatrics", "소아청소년과", ("neonatology", "pediatric_cardiology")),
        Specialty("ophthalmology", "Ophthalmology", "안과", ("retina", "glaucoma", "cornea")),
        Specialty(
            "otorhinolaryngology",
            "Otorhinolaryngology",
            "이비인후과",
            ("otology", "rhinology", "laryngology"),
        ),
        Specialty("dermatology", "Dermatology", "피부과", ("dermatopathology", "dermoscopy")),
        Specialty("urology", "Urology", "비뇨의학과", ("uro_oncology", "endourology")),
        Specialty(
            "radiology",
            "Radiology",
            "영상의학과",
            ("neuro", "chest", "abdominal", "musculoskeletal", "breast", "pediatric", "interventional"),
        ),
        Specialty("radiation_oncology", "Radiation Oncology", "방사선종양학과", ("treatment_planning",)),
        Specialty("pathology", "Pathology", "병리과", ("surgical", "cytopathology", "hematopathology")),
        Specialty(
            "laboratory_medicine",
            "Laboratory Medicine",
            "진단검사의학과",
            ("hematology", "microbiology", "clinical_chemistry"),
        ),
        Specialty("tuberculosis", "Tuberculosis", "결핵과"),
        Specialty(
            "rehabilitation_medicine",
            "Rehabilitation Medicine",
            "재활의학과",
            ("neurorehabilitation", "musculoskeletal"),
        ),
        Specialty("nuclear_medicine", "Nuclear Medicine", "핵의학과", ("pet", "thyroid")),
        Specialty("family_medicine", "Family Medicine", "가정의학과"),
        Specialty("emergency_medicine", "Emergency Medicine", "응급의학과", ("triage", "toxicology")),
        Specialty(
            "occupational_environmental_medicine", "Occupational and Environmental Medicine", "직업환경의학과"
        ),
        Specialty("preventive_medicine", "Preventive Medicine", "예방의학과", ("epidemiology",)),
    )
}


class Tier(StrEnum):
    """Labeler tiers, ordered: a policy's minimum tier admits that tier and every higher one."""

    LABELER = "labeler"  # trained non-physician, simple tasks, always with specialist review
    RESIDENT = "resident"
    SPECIALIST = "specialist"  # board-certified

    @property
    def rank(self) -> int:
        return list(Tier).index(self)
