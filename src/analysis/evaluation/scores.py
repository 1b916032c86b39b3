"""Scores of one set of predicted probabilities, tolerant of degenerate inputs (used by resampling)."""

from __future__ import annotations

import numpy as np
from scipy import stats

from analysis.errors import AnalysisError
from analysis.evaluation.calibration import calibration_errors, calibration_intercept_slope
from analysis.validators import PROB_CLIP


def mann_whitney_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Mann-Whitney AUC (ties count 1/2); NaN with one class."""
    n1 = int(y.sum())
    n0 = y.size - n1
    if n1 == 0 or n0 == 0:
        return np.nan
    ranks = stats.rankdata(p)
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def or_none(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except (AnalysisError, np.linalg.LinAlgError, ValueError, FloatingPointError):
        return None


def calibration_row(y, p):
    """``(intercept, lo, hi, slope, lo, hi)`` with NaN where the fit fails."""
    pc = np.clip(p, PROB_CLIP, 1 - PROB_CLIP)
    out = [np.nan] * 6
    table = or_none(calibration_intercept_slope, y, pc)
    if table is not None:
        t = table.set_index("metric")
        out = [
            t.loc["calibration_intercept", "estimate"],
            t.loc["calibration_intercept", "ci_lower"],
            t.loc["calibration_intercept", "ci_upper"],
            t.loc["calibration_slope", "estimate"],
            t.loc["calibration_slope", "ci_lower"],
            t.loc["calibration_slope", "ci_upper"],
        ]
    return [float(v) for v in out]


def calibration_error_summary(y, p) -> tuple[float, float, float]:
    if np.ptp(p) <= 1e-12:
        return (float(abs(p.mean() - y.mean())),) * 3
    ce = or_none(calibration_errors, y, p)
    return (np.nan,) * 3 if ce is None else (ce.ici, ce.e50, ce.e90)


def ici_only(y, p) -> float:
    return calibration_error_summary(np.asarray(y), np.asarray(p))[0]
