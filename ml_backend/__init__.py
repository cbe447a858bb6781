"""Pre-annotation server on label-studio-ml: one LabelStudioMLBase subclass dispatching to control models."""
