"""All platform tables, imported here so Alembic sees one metadata."""

from medlabel.models.ingest import IngestedItem, IngestKey
from medlabel.models.projects import ProjectRecord

__all__ = ["IngestKey", "IngestedItem", "ProjectRecord"]
