"""Quality: consensus over the sync mirror, agreement, adjudication, gold standards and physician accuracy."""
