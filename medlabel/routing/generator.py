"""A realistic, seeded physician pool for tests, the benchmark and the demo (no real people in it).

The specialty mix follows the shape of Korea's specialist workforce: internal medicine by far the largest,
then family medicine, radiology, surgery and pediatrics; tuberculosis and preventive medicine tiny.
"""

from __future__ import annotations

import io
import random
from collections.abc import Iterable

from medlabel.specialties import SPECIALTIES
from medlabel.tables import write_csv

#: Relative head counts per specialty (roughly per-mille of Korean specialists).
SPECIALTY_WEIGHTS: dict[str, float] = {
    "internal_medicine": 190,
    "family_medicine": 70,
    "radiology": 70,
    "general_surgery": 55,
    "orthopedic_surgery": 55,
    "pediatrics": 55,
    "obstetrics_gynecology": 50,
    "anesthesiology": 50,
    "psychiatry": 40,
    "ophthalmology": 35,
    "otorhinolaryngology": 35,
    "neurology": 25,
    "rehabilitation_medicine": 25,
    "emergency_medicine": 25,
    "urology": 22,
    "dermatology": 22,
    "neurosurgery": 22,
    "plastic_surgery": 20,
    "pathology": 12,
    "laboratory_medicine": 10,
    "thoracic_cardiovascular_surgery": 10,
    "radiation_oncology": 6,
    "nuclear_medicine": 6,
    "occupational_environmental_medicine": 5,
    "preventive_medicine": 3,
    "tuberculosis": 1,
}
INSTITUTIONS = (
    "Seoul National University Hospital",
    "Severance Hospital",
    "Samsung Medical Center",
    "Asan Medical Center",
    "Seoul St. Mary's Hospital",
    "Korea University Anam Hospital",
    "Kyung Hee University Hospital",
    "Pusan National University Hospital",
    "Kyungpook National University Hospital",
    "Chonnam National University Hospital",
    "Chungnam National University Hospital",
    "Ajou University Hospital",
    "Inha University Hospital",
    "Hallym University Sacred Heart Hospital",
    "Gachon University Gil Medical Center",
)
SURNAMES = ("Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon", "Jang", "Lim", "Han", "Oh", "Seo")
GIVEN = ("Minjun", "Seoyeon", "Jiho", "Hayoon", "Doyun", "Jiwoo", "Eunwoo", "Sua", "Siwoo", "Jimin", "Yejun")
CSV_COLUMNS = (
    "license_number",
    "name",
    "email",
    "tier",
    "specialties",
    "board_certified",
    "subspecialties",
    "languages",
    "institution",
    "daily_capacity",
)


def generate_pool(size: int = 320, seed: int = 0, min_per_specialty: int = 2) -> list[dict[str, str]]:
    """`size` physicians as CSV rows (see CSV_COLUMNS); the same seed gives the same pool.

    Every specialty gets at least `min_per_specialty` people (when `size` allows), the rest follow SPECIALTY_WEIGHTS; ~70% are
    board-certified specialists, ~20% residents, ~10% trained labelers; ~6% hold a second specialty.
    """
    rng = random.Random(seed)
    codes = list(SPECIALTY_WEIGHTS)
    floor = min(min_per_specialty, size // len(codes))
    primaries = [code for code in codes for _ in range(floor)]
    primaries += rng.choices(codes, weights=list(SPECIALTY_WEIGHTS.values()), k=size - len(primaries))
    rows = []
    for n, primary in enumerate(primaries, 1):
        tier = rng.choices(("specialist", "resident", "labeler"), weights=(70, 20, 10))[0]
        specialties = [primary]
        if rng.random() < 0.06:
            specialties.append(rng.choice([c for c in codes if c != primary]))
        certified = [s for s in specialties if tier == "specialist"]
        subs = SPECIALTIES[primary].subspecialties
        subspecialties = [rng.choice(subs)] if subs and tier == "specialist" and rng.random() < 0.6 else []
        rows.append(
            {
                "license_number": f"KMA-{seed:03d}-{n:05d}",
                "name": f"{rng.choice(SURNAMES)} {rng.choice(GIVEN)}",
                "email": f"physician{n:04d}.s{seed}@example.org",
                "tier": tier,
                "specialties": ";".join(specialties),
                "board_certified": ";".join(certified),
                "subspecialties": ";".join(subspecialties),
                "languages": "ko;en" if rng.random() < 0.6 else "ko",
                "institution": rng.choice(INSTITUTIONS),
                "daily_capacity": str(rng.choice((20, 30, 40, 40, 60))),
            }
        )
    return rows


def to_csv(rows: Iterable[dict[str, str]]) -> str:
    """Pool rows in the `medlabel pool import` format."""
    buffer = io.StringIO()
    write_csv(buffer, CSV_COLUMNS, rows)
    return buffer.getvalue()
