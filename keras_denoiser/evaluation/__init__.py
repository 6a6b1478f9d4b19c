"""Evaluation: the Enhancer protocol, deterministic test sets, scoring, and the peers scored alongside our models."""
