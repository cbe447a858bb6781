"""All platform tables, imported here so Alembic sees one metadata."""

from medlabel.models.accounts import Account, Invite, Role
from medlabel.models.ingest import IngestedItem, IngestKey
from medlabel.models.phi import HeldItem
from medlabel.models.pool import Physician, PhysicianSpecialty
from medlabel.models.projects import ProjectRecord
from medlabel.models.quality import (
    Adjudication,
    GoldScore,
    GoldStandard,
    QualityConfig,
    QualityResult,
    ReaderEstimate,
    ReadOutcome,
)
from medlabel.models.routing import Assignment, AssignmentEvent, DailyLoad, RoutedTask, RoutingPolicy
from medlabel.models.sync import AnnotationVersion, InboxEvent, MirrorAnnotation, MirrorTask, SyncWatermark

__all__ = [
    "Adjudication",
    "GoldScore",
    "GoldStandard",
    "QualityConfig",
    "QualityResult",
    "ReadOutcome",
    "ReaderEstimate",
    "Account",
    "Invite",
    "Role",
    "Assignment",
    "AssignmentEvent",
    "DailyLoad",
    "AnnotationVersion",
    "InboxEvent",
    "MirrorAnnotation",
    "MirrorTask",
    "SyncWatermark",
    "IngestKey",
    "HeldItem",
    "IngestedItem",
    "Physician",
    "PhysicianSpecialty",
    "ProjectRecord",
    "RoutedTask",
    "RoutingPolicy",
]
