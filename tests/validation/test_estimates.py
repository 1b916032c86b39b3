"""prefer_nested_cv: a memorising learner's validation rows take notebook 05's nested-CV values."""

import numpy as np
import pandas as pd
import pytest

from analysis.errors import AnalysisError
from analysis.validation.estimates import prefer_nested_cv
from analysis.validation.resampling import METHOD_HARRELL_TUNED

OOB = "out-of-bag bootstrap (.632+ undefined for this metric)"


def tables():
    validation = pd.DataFrame({
        "model": ["svm", "svm", "svm", "svm", "logistic"],
        "metric": ["auc", "calibration_slope", "shrinkage", "recalibration_slope", "calibration_slope"],
        "apparent": [0.9, 1.3, 1.3, 0.5, 1.0],
        "optimism": [0.25, 1.0, 1.0, np.nan, 0.3],
        "corrected": [0.65, 0.3, 0.3, 0.5, 0.7],
        "method": [".632+", OOB, OOB, "logistic recalibration", "Harrell optimism"],
    })
    comparison = pd.DataFrame({"model": ["svm", "logistic"], "auc": [0.70, 0.69],
                               "calibration_slope": [0.96, 0.52]})
    return validation, comparison


def test_memorising_rows_take_the_nested_cv_value_and_keep_the_bootstrap_one():
    validation, comparison = tables()
    out = prefer_nested_cv(validation, comparison, model="svm", recalibrated=False)
    svm = out[out["model"] == "svm"].set_index("metric")
    assert svm.loc["auc", "corrected"] == 0.70
    assert svm.loc["calibration_slope", "corrected"] == 0.96
    assert svm.loc["shrinkage", "corrected"] == 0.96  # shrinkage is the slope, never another number
    assert svm.loc["calibration_slope", "optimism"] == pytest.approx(1.3 - 0.96)
    assert svm.loc["calibration_slope", "bootstrap_corrected"] == 0.3
    assert svm.loc["auc", "bootstrap_corrected"] == 0.65
    assert svm.loc["calibration_slope", "method"].startswith("nested cross-validation")
    assert OOB in svm.loc["calibration_slope", "method"]
    # rows that are not bootstrap estimates of a memorising learner are untouched
    assert svm.loc["recalibration_slope", "corrected"] == 0.5
    logistic = out[out["model"] == "logistic"].iloc[0]
    assert logistic["corrected"] == 0.7 and logistic["method"] == "Harrell optimism"
    # the input is not modified
    assert validation.loc[1, "corrected"] == 0.3


def test_a_recalibrated_model_keeps_the_bootstrap_that_validated_the_recalibration():
    validation, comparison = tables()
    out = prefer_nested_cv(validation, comparison, model="svm", recalibrated=True)
    pd.testing.assert_series_equal(out["corrected"], validation["corrected"])
    pd.testing.assert_series_equal(out["bootstrap_corrected"], validation["corrected"],
                                   check_names=False)


def test_unknown_model_or_missing_columns_are_clear_errors():
    validation, comparison = tables()
    with pytest.raises(AnalysisError, match="not in the model comparison"):
        prefer_nested_cv(validation, comparison, model="mlp", recalibrated=False)
    with pytest.raises(AnalysisError, match="missing column"):
        prefer_nested_cv(validation.drop(columns="method"), comparison, model="svm",
                         recalibrated=False)


def test_a_penalised_models_calibration_rows_take_nested_cv_its_auc_stays_harrells():
    tuned = METHOD_HARRELL_TUNED
    validation = pd.DataFrame({
        "model": ["flexible_logistic"] * 4,
        "metric": ["auc", "brier", "calibration_slope", "shrinkage"],
        "apparent": [0.77, 0.17, 3.39, 3.39], "optimism": [0.10, -0.01, 3.34, 3.34],
        "corrected": [0.67, 0.18, 0.05, 0.05], "method": [tuned] * 4,
    })
    comparison = pd.DataFrame({"model": ["flexible_logistic"], "auc": [0.60], "brier": [0.181],
                               "calibration_slope": [0.90]})
    out = prefer_nested_cv(validation, comparison, model="flexible_logistic",
                           recalibrated=False).set_index("metric")
    assert out.loc["calibration_slope", "corrected"] == out.loc["shrinkage", "corrected"] == 0.90
    assert out.loc["calibration_slope", "bootstrap_corrected"] == 0.05
    assert "apparent slope is not 1" in out.loc["calibration_slope", "method"]
    assert out.loc["auc", "corrected"] == 0.67 and out.loc["auc", "method"] == tuned
    assert out.loc["brier", "corrected"] == 0.18
