"""Evaluation: pure functions of outcomes and predicted probabilities: discrimination, accuracy, calibration, decision curves, subgroups (notebooks 05, 06)."""
