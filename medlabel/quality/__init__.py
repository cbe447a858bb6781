"""Quality: consensus runs, agreement, gold standards and adjudication over the physicians' reads."""
