"""Against R's rms::val.prob (golden file from tests/golden/make_valprob_rms.R).

val.prob is Harrell's reference for validating predicted probabilities; it computes the C
index (exactly: Hmisc::somers2), the Brier score, the joint recalibration intercept and slope, and Eavg/E90/Emax from
lowess(p, y, iter = 0) with R's default span 2/3. The same quantities from this package must
agree: C from DeLong's AUC, Brier, recalibration_fit, and calibration_errors at frac = 2/3
(the package's default span is 0.75, R's loess default; val.prob uses lowess's 2/3).
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.evaluation.calibration import calibration_errors, recalibration_fit
from analysis.evaluation.metrics import brier_score, delong_auc

GOLDEN = Path(__file__).parents[1] / "golden"


@pytest.fixture(scope="module")
def data():
    d = pd.read_csv(GOLDEN / "valprob_input.csv")
    rms = pd.read_csv(GOLDEN / "valprob_rms.csv", na_values=["NA"]).set_index("metric")["value"]
    return d["y"].to_numpy(), d["p"].to_numpy(), rms


def test_discrimination_and_brier_equal_val_prob(data):
    y, p, rms = data
    # exact C index (Hmisc::somers2); val.prob's own "C (ROC)" uses lrm's binned predictions
    assert delong_auc(y, p).auc == pytest.approx(rms["somers2 C"], rel=1e-12)
    assert delong_auc(y, p).auc == pytest.approx(rms["C (ROC)"], abs=5e-4)
    assert brier_score(y, p) == pytest.approx(rms["Brier"], rel=1e-12)


def test_recalibration_intercept_and_slope_equal_val_prob(data):
    y, p, rms = data
    fit = recalibration_fit(y, p)
    assert fit["intercept"] == pytest.approx(rms["Intercept"], rel=1e-7)
    assert fit["slope"] == pytest.approx(rms["Slope"], rel=1e-7)


def test_calibration_errors_equal_val_prob_with_its_span(data):
    y, p, rms = data
    e = calibration_errors(y, p, frac=2 / 3)
    assert e.ici == pytest.approx(rms["Eavg"], rel=1e-9)
    assert e.e90 == pytest.approx(rms["E90"], rel=1e-9)
    assert e.emax == pytest.approx(rms["Emax"], rel=1e-9)
    # the package's default span (0.75) is a different smoother: the golden values tell
    assert not np.isclose(calibration_errors(y, p).ici, rms["Eavg"], rtol=1e-6)
