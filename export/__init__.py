"""Exporters: TF Serving SavedModel, TFLite models and their parity report."""
