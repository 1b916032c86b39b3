"""Validation: nested cross-validation, bootstrap optimism, model comparison and selection, sample size (notebooks 05, 06)."""
