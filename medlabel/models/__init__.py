"""All platform tables, imported here so Alembic sees one metadata."""

from medlabel.models.projects import ProjectRecord

__all__ = ["ProjectRecord"]
