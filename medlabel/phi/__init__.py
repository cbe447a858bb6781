"""PHI review: sampled de-identified drafts wait here until a reviewer releases them to Label Studio or rejects them."""
