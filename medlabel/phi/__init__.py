"""PHI review: sampled de-identified drafts wait here until a reviewer releases or rejects them."""
