"""The loess band of large cohorts is bootstrapped on a documented subsample (issue: scale)."""

import numpy as np
import pandas as pd
import pytest

from analysis.evaluation import calibration
from analysis.evaluation.calibration import flexible_calibration_curve


def _data(n, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.05, 0.95, n)
    return rng.binomial(1, p), p


def _reference_curve(y, p, n_boot, seed, frac=0.75, alpha=0.05):
    """The loess curve and band as computed before the large-cohort rule (every patient)."""
    y = np.asarray(y, float)
    lo, hi = np.quantile(p, [0.01, 0.99])
    g = np.linspace(lo, hi, 100)
    observed = calibration._lowess_at(y, p, g, frac)
    rng = np.random.default_rng(seed)
    boot = np.full((n_boot, g.size), np.nan)
    for b in range(n_boot):
        i = rng.integers(0, y.size, y.size)
        boot[b] = calibration._lowess_at(y[i], p[i], g, frac)
    ci_lo, ci_hi = np.nanquantile(boot, [alpha / 2, 1 - alpha / 2], axis=0)
    return pd.DataFrame({"predicted": g, "observed": np.clip(observed, 0, 1),
                         "ci_lower": np.clip(ci_lo, 0, 1), "ci_upper": np.clip(ci_hi, 0, 1)})


def test_constants_are_documented_and_consistent():
    assert calibration.BAND_SAMPLE_ABOVE >= 5_000  # demo-sized cohorts never sampled
    assert calibration.BAND_SAMPLE_SIZE <= calibration.BAND_SAMPLE_ABOVE


@pytest.mark.parametrize("n", [150, 400])
def test_at_or_below_threshold_unchanged(monkeypatch, n):
    monkeypatch.setattr(calibration, "BAND_SAMPLE_ABOVE", 400)
    y, p = _data(n)
    curve = flexible_calibration_curve(y, p, n_boot=20, seed=3)
    assert list(curve.columns) == ["predicted", "observed", "ci_lower", "ci_upper"]
    pd.testing.assert_frame_equal(curve, _reference_curve(y, p, 20, 3), check_exact=True)


def test_above_threshold_band_on_subsample_with_note(monkeypatch):
    monkeypatch.setattr(calibration, "BAND_SAMPLE_ABOVE", 300)
    monkeypatch.setattr(calibration, "BAND_SAMPLE_SIZE", 200)
    y, p = _data(1000)
    curve = flexible_calibration_curve(y, p, n_boot=20, seed=3)
    full = _reference_curve(y, p, 20, 3)
    # the curve itself uses every patient ...
    np.testing.assert_array_equal(curve["observed"], full["observed"])
    # ... the band is the bootstrap of the documented, seeded subsample of 200 patients
    keep = np.sort(np.random.default_rng(3).choice(1000, 200, replace=False))
    sub = _reference_curve(y[keep], p[keep], 20, 3)
    lo, hi = np.quantile(p, [0.01, 0.99])
    g = np.linspace(lo, hi, 100)
    rng = np.random.default_rng(3)
    boot = np.array([calibration._lowess_at(y[keep][i].astype(float), p[keep][i], g, 0.75)
                     for i in (rng.integers(0, 200, 200) for _ in range(20))])
    np.testing.assert_array_equal(curve["ci_lower"],
                                  np.clip(np.nanquantile(boot, 0.025, axis=0), 0, 1))
    assert sub.shape[0] == curve.shape[0]
    note = curve["note"].unique()
    assert len(note) == 1
    assert "1,000 patients" in note[0] and "subsample of 200 patients" in note[0]
    assert "BAND_SAMPLE_SIZE" in note[0]


def test_above_threshold_without_band_no_note(monkeypatch):
    monkeypatch.setattr(calibration, "BAND_SAMPLE_ABOVE", 300)
    y, p = _data(1000)
    curve = flexible_calibration_curve(y, p, n_boot=0)
    assert "note" not in curve.columns
