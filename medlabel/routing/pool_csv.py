"""Parse a physician-pool CSV into validated records, with one error per bad row and field."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from medlabel.specialties import SPECIALTIES, Tier

REQUIRED = ("license_number", "name", "email", "tier", "specialties", "institution", "daily_capacity")
OPTIONAL = ("board_certified", "subspecialties", "languages")
LICENSE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-/]{2,31}$")
# Deliberately loose: Label Studio validates the address again when the user is created.
EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")
MAX_DAILY_CAPACITY = 1000


@dataclass(frozen=True)
class PhysicianRecord:
    license_number: str
    name: str
    email: str
    tier: Tier
    specialties: dict[str, bool]  # code -> board certified
    subspecialties: tuple[str, ...]
    languages: tuple[str, ...]
    institution: str
    daily_capacity: int
    #: Line of the record in its CSV file (header = 1).
    row: int = 0


@dataclass(frozen=True)
class RowError:
    """Row numbers count the header as row 1, as a spreadsheet shows them."""

    row: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}, {self.field}: {self.message}"


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(";") if part.strip()]


def parse_pool_csv(text: str) -> tuple[list[PhysicianRecord], list[RowError]]:
    """Every valid row as a record and every problem as a RowError; a file-level problem is row 1."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        return [], [RowError(1, ",".join(missing), "required column missing from the header")]
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    if unknown:
        return [], [
            RowError(1, ",".join(unknown), f"unknown column (known: {', '.join(REQUIRED + OPTIONAL)})")
        ]
    reader.fieldnames = header
    records: list[PhysicianRecord] = []
    errors: list[RowError] = []
    seen_license: dict[str, int] = {}
    seen_email: dict[str, int] = {}
    for row_number, row in enumerate(reader, start=2):
        if None in row or any(v is None for v in row.values()):
            errors.append(RowError(row_number, "*", f"expected {len(header)} fields"))
            continue
        record, row_errors = _parse_row(row_number, {k: v.strip() for k, v in row.items()})
        if record is not None:
            for key, seen, value in (
                ("license_number", seen_license, record.license_number),
                ("email", seen_email, record.email),
            ):
                if value in seen:
                    row_errors.append(RowError(row_number, key, f"duplicate of row {seen[value]}: {value}"))
                else:
                    seen[value] = row_number
        errors.extend(row_errors)
        if record is not None and not row_errors:
            records.append(record)
    return records, errors


def _parse_row(n: int, row: dict[str, str]) -> tuple[PhysicianRecord | None, list[RowError]]:
    errors: list[RowError] = []
    for name in REQUIRED:
        if not row[name]:
            errors.append(RowError(n, name, "is empty"))
    if errors:
        return None, errors
    if not LICENSE.match(row["license_number"]):
        errors.append(RowError(n, "license_number", f"not a license number: {row['license_number']!r}"))
    email = row["email"].lower()
    if not EMAIL.match(email):
        errors.append(RowError(n, "email", f"not an e-mail address: {row['email']!r}"))
    try:
        tier = Tier(row["tier"].lower())
    except ValueError:
        tier = Tier.LABELER
        errors.append(RowError(n, "tier", f"unknown tier {row['tier']!r} (one of {', '.join(Tier)})"))
    specialties = _split(row["specialties"])
    for code in specialties:
        if code not in SPECIALTIES:
            errors.append(RowError(n, "specialties", f"unknown specialty code {code!r}"))
    certified = _split(row.get("board_certified"))
    for code in certified:
        if code not in specialties:
            errors.append(RowError(n, "board_certified", f"{code!r} is not among the row's specialties"))
    if certified and tier is not Tier.SPECIALIST:
        errors.append(RowError(n, "board_certified", f"a {tier.value} cannot be board-certified"))
    subspecialties = _split(row.get("subspecialties"))
    allowed = {sub for code in specialties if code in SPECIALTIES for sub in SPECIALTIES[code].subspecialties}
    for sub in subspecialties:
        if sub not in allowed:
            errors.append(
                RowError(n, "subspecialties", f"{sub!r} is not a subspecialty of {row['specialties']}")
            )
    try:
        capacity = int(row["daily_capacity"])
        if not 0 <= capacity <= MAX_DAILY_CAPACITY:
            raise ValueError
    except ValueError:
        capacity = 0
        errors.append(
            RowError(
                n,
                "daily_capacity",
                f"must be a whole number 0–{MAX_DAILY_CAPACITY}: {row['daily_capacity']!r}",
            )
        )
    if errors:
        return None, errors
    return PhysicianRecord(
        license_number=row["license_number"],
        name=row["name"],
        email=email,
        tier=tier,
        specialties={code: code in certified for code in specialties},
        subspecialties=tuple(subspecialties),
        languages=tuple(_split(row.get("languages"))) or ("ko",),
        institution=row["institution"],
        daily_capacity=capacity,
        row=n,
    ), []
