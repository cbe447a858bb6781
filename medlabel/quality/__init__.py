"""Quality: consensus over the sync mirror, adjudication, gold standards and physician accuracy."""
