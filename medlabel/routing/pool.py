"""The physician pool in the platform DB: upsert from validated CSV records, list, show, worklist tokens."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from medlabel.errors import RoutingError, UnknownRecordError
from medlabel.models import Physician, PhysicianSpecialty
from medlabel.routing.pool_csv import PhysicianRecord, RowError, parse_pool_csv
from medlabel.specialties import SPECIALTIES

logger = logging.getLogger(__name__)


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged, "
            f"{len(self.errors)} rows with errors"
        )


def import_pool_csv(session: Session, text: str) -> ImportReport:
    """Validate every row, then upsert the valid ones by license number in one transaction."""
    records, errors = parse_pool_csv(text)
    report = upsert_physicians(session, records)
    report.errors = sorted(errors + report.errors, key=lambda e: e.row)
    logger.info("pool import: %s", report.summary())  # after the parse errors joined the upsert's own
    return report


def upsert_physicians(session: Session, records: Sequence[PhysicianRecord]) -> ImportReport:
    """Create or update physicians by license number; active state, LS user and accuracy are kept.

    An e-mail already used by another license number is a conflict: that row is reported, the rest go in.
    """
    report = ImportReport()
    existing = {
        p.license_number: p
        for p in session.scalars(
            select(Physician)
            .options(selectinload(Physician.specialties))
            .where(Physician.license_number.in_([r.license_number for r in records]))
        )
    }
    owner_of_email = dict(
        session.execute(
            select(Physician.email, Physician.license_number).where(
                Physician.email.in_([r.email for r in records])
            )
        ).all()
    )
    for record in records:
        owner = owner_of_email.get(record.email)
        if owner is not None and owner != record.license_number:
            report.errors.append(
                RowError(record.row, "email", f"{record.email} already belongs to license {owner}")
            )
            continue
        physician = existing.get(record.license_number)
        if physician is None:
            physician = Physician(license_number=record.license_number, active=True, reads_count=0)
            session.add(physician)
            report.created += 1
        elif _same(physician, record):
            report.unchanged += 1
            continue
        else:
            report.updated += 1
        physician.name = record.name
        physician.email = record.email
        physician.tier = record.tier.value
        physician.subspecialties = list(record.subspecialties)
        physician.languages = list(record.languages)
        physician.institution = record.institution
        physician.daily_capacity = record.daily_capacity
        physician.specialties = [
            PhysicianSpecialty(specialty=code, board_certified=certified)
            for code, certified in sorted(record.specialties.items())
        ]
    session.commit()
    return report


def _same(physician: Physician, record: PhysicianRecord) -> bool:
    return (
        physician.name == record.name
        and physician.email == record.email
        and physician.tier == record.tier.value
        and list(physician.subspecialties) == list(record.subspecialties)
        and list(physician.languages) == list(record.languages)
        and physician.institution == record.institution
        and physician.daily_capacity == record.daily_capacity
        and physician.certified_in() == record.specialties
    )


def list_physicians(session: Session, specialty: str | None = None) -> list[Physician]:
    query = select(Physician).options(selectinload(Physician.specialties)).order_by(Physician.id)
    if specialty:
        query = query.where(Physician.specialties.any(PhysicianSpecialty.specialty == specialty))
    return list(session.scalars(query))


def get_physician(session: Session, physician_id: int) -> Physician:
    physician = session.get(Physician, physician_id)
    if physician is None:
        raise UnknownRecordError(f"no physician with id {physician_id}")
    return physician


def require_known_specialty(specialty: str | None) -> None:
    if specialty and specialty not in SPECIALTIES:
        raise RoutingError(f"unknown specialty {specialty!r}")
