"""The end-to-end recomputation helper (tests/pipeline_checks.py) on a small synthetic study.

The tables are produced by the package exactly as the notebooks do (same functions, same
CSV writer), so each check is exercised without the slow `make all`; each check must also
fail when one number of its table is planted wrong.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import pandas as pd
import pipeline_checks as pc
import pytest
from conftest import make_study
from scipy.special import expit

from analysis.describe.correlation import correlation_table
from analysis.describe.table1 import table1
from analysis.evaluation.decision import decision_curve
from analysis.models.zoo import model_zoo
from analysis.pipeline.export import save_table, table_to_csv
from analysis.regression.tables import multivariable_logistic
from analysis.validation.comparison import compare_models
from analysis.validation.resampling import nested_cv

CODEBOOK = {
    "age": {"type": "numeric"},
    "crp": {"type": "numeric", "transform": "log"},
    "flag": {"type": "binary"},
    "arm": {"type": "categorical", "levels": ["a", "b", "c"]},
    "y": {"type": "binary"},
}
PREDICTORS = ["age", "crp", "flag", "arm"]


def roundtrip(table: pd.DataFrame) -> pd.DataFrame:
    """A table as the pipeline writes it and the end-to-end test reads it back."""
    return pd.read_csv(io.StringIO(table_to_csv(table)), keep_default_na=False, na_values=[""])


@pytest.fixture(scope="module")
def run():
    rng = np.random.default_rng(11)
    n = 160
    cohort = pd.DataFrame({
        "age": rng.normal(50, 12, n).round(1),
        "crp": rng.lognormal(1.5, 0.8, n).round(2),
        "flag": rng.binomial(1, 0.4, n).astype(float),
        "arm": rng.choice(["a", "b", "c"], n),
    })
    lp = -0.5 + 0.05 * (cohort["age"] - 50) + 0.6 * np.log(cohort["crp"]) - 0.8 + 0.7 * cohort["flag"]
    cohort["y"] = rng.binomial(1, expit(lp)).astype(float)
    cohort.loc[rng.choice(n, 8, replace=False), "age"] = np.nan
    cohort.loc[rng.choice(n, 5, replace=False), "arm"] = None
    cohort.loc[rng.choice(n, 6, replace=False), "y"] = np.nan
    data = cohort[cohort["y"].notna()].reset_index(drop=True)
    y = data["y"].astype(int).to_numpy()
    zoo = model_zoo(CODEBOOK, PREDICTORS, smoke=True, include=["intercept_only", "logistic", "lasso"])
    result = nested_cv(zoo, data[PREDICTORS], y, outer_splits=3, outer_repeats=2, inner_splits=3, seed=5,
                       n_jobs=1, progress=False)
    wide = pc.oof_mean(result.predictions)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tables = {
            "model_comparison": compare_models(result, y, n_boot=0),
            "decision_curve": decision_curve(y, {m: wide[m].to_numpy() for m in ("logistic", "lasso")},
                                             thresholds=np.round(np.arange(0.05, 0.96, 0.01), 2)),
            "table1": table1(cohort, CODEBOOK, columns=["age", "crp", "flag", "y"], group="arm"),
            "regression_multivariable_complete_case": multivariable_logistic(
                data, PREDICTORS, "y", CODEBOOK, missing="complete"),
            "correlation": correlation_table(cohort, ["age", "crp"]),
        }
    return {"cohort": cohort, "data": data, "y": y, "wide": wide, "predictions": result.predictions,
            "tables": {k: roundtrip(v) for k, v in tables.items()}}


def planted(table: pd.DataFrame, mask, column: str, change) -> pd.DataFrame:
    bad = table.copy()
    idx = bad.index[mask][0]
    bad.loc[idx, column] = change(bad.loc[idx, column])
    return bad


def test_oof_mean_averages_repeats_per_patient():
    long = pd.DataFrame({"model": ["m", "m", "m", "k", "k", "k"], "row": [1, 0, 1, 0, 1, 1],
                         "probability": [0.2, 0.5, 0.4, 0.1, 0.7, 0.9]})
    wide = pc.oof_mean(long)
    assert wide.index.tolist() == [0, 1]
    assert wide.loc[1, "m"] == pytest.approx(0.3, abs=1e-15)
    assert wide.loc[1, "k"] == pytest.approx(0.8, abs=1e-15)


def test_model_comparison_matches_and_catches_planted_errors(run):
    table, y, wide = run["tables"]["model_comparison"], run["y"], run["wide"]
    assert pc.check_model_comparison(table, y, wide) == ["intercept_only", "logistic", "lasso"]
    logistic = table["model"] == "logistic"
    selected = table["selected"].astype(bool)
    for bad in (
        planted(table, logistic, "auc", lambda v: v + 1e-6),
        planted(table, table["model"] == "lasso", "brier", lambda v: v * (1 + 1e-6)),
        planted(table, selected, "calibration_slope", lambda v: v * (1 + 1e-4)),
        planted(table, selected, "e90", lambda v: v + 1e-6),
    ):
        with pytest.raises(AssertionError):
            pc.check_model_comparison(bad, y, wide)


def test_ici_reference_is_span_075_not_a_neighbouring_span(run):
    # a planted bug in the smoother span (2/3 instead of 0.75) changes ICI by far more
    # than the check's tolerance on these data
    y = run["y"]
    p = run["wide"]["logistic"].to_numpy()
    ici = pc.calibration_errors(y, p)[0]
    other = np.mean(np.abs(p - pc.lowess(y.astype(float), p, frac=2 / 3, it=0, delta=0.01 * np.ptp(p),
                                         return_sorted=False)))
    assert abs(ici - other) > 1e4 * pc.EXACT * ici


def test_decision_curve_matches_dcurves_and_catches_a_planted_error(run):
    curve, y, wide = run["tables"]["decision_curve"], run["y"], run["wide"]
    assert pc.check_decision_curve(curve, y, wide) == 4 * 4  # 2 models + all + none, 4 thresholds
    at = (curve["model"] == "lasso") & np.isclose(curve["threshold"], 0.3)
    with pytest.raises(AssertionError, match="net benefit lasso"):
        pc.check_decision_curve(planted(curve, at, "net_benefit", lambda v: v + 1e-5), y, wide)


def test_table1_matches_and_catches_planted_errors(run):
    t1, cohort = run["tables"]["table1"], run["cohort"]
    # Overall + 3 arms: 3 numeric rows (age, crp) ... every row of every variable is compared
    assert pc.check_table1(t1, cohort, CODEBOOK, "arm") == int((t1["variable"] != "n").sum())
    with pytest.raises(AssertionError, match="count"):
        pc.check_table1(planted(t1, (t1.variable == "flag") & (t1.group == "b"), "count", lambda v: v + 1),
                        cohort, CODEBOOK, "arm")
    with pytest.raises(AssertionError, match="sd"):
        pc.check_table1(planted(t1, (t1.variable == "age") & (t1.group == "Overall"), "sd",
                                lambda v: v * (1 + 1e-6)), cohort, CODEBOOK, "arm")
    with pytest.raises(AssertionError, match="size of group"):
        pc.check_table1(planted(t1, (t1.variable == "n") & (t1.group == "a"), "n", lambda v: v - 1),
                        cohort, CODEBOOK, "arm")


def test_complete_case_odds_ratios_match_statsmodels_and_catch_a_planted_error(run):
    table, data = run["tables"]["regression_multivariable_complete_case"], run["data"]
    assert pc.check_complete_case_regression(table, data, PREDICTORS, "y", CODEBOOK) == 5  # age crp flag arm[b] arm[c]
    with pytest.raises(AssertionError, match="OR of crp"):
        pc.check_complete_case_regression(planted(table, table.term == "crp", "odds_ratio",
                                                  lambda v: v * (1 + 1e-5)), data, PREDICTORS, "y", CODEBOOK)


def test_correlation_matches_scipy_and_catches_a_planted_error(run):
    table, cohort = run["tables"]["correlation"], run["cohort"]
    assert pc.check_correlation(table, cohort) == 1
    with pytest.raises(AssertionError, match="rho"):
        pc.check_correlation(planted(table, table.index == 0, "r", lambda v: v + 1e-6), cohort)


def test_check_study_reads_a_run_laid_out_as_the_pipeline_writes_it(tmp_path, run):
    spec = {"title": "Toy", "outcome": "y", "group": "arm", "predictors": PREDICTORS,
            "variables": {k: dict(v) for k, v in CODEBOOK.items()}}
    folder = make_study(tmp_path, "toy", spec, data=run["cohort"])
    (folder / "processed").mkdir()
    run["cohort"].to_parquet(folder / "processed" / "cohort.parquet")
    run["predictions"].to_parquet(folder / "processed" / "oof_predictions.parquet")
    out = tmp_path / "reports" / "toy" / "tables"
    for name, table in run["tables"].items():
        save_table(table, name, out)
    counts = pc.check_study(tmp_path, "toy")
    assert counts == {"models": 3, "net_benefit": 16, "table1": int((run["tables"]["table1"].variable != "n").sum()),
                      "odds_ratios": 5, "correlations": 1}


def test_levels_render_as_table1_prints_them():
    assert [pc._level(v) for v in (1.0, True, np.int64(0), np.bool_(False), "b", 2.5)] == \
        ["1", "1", "0", "0", "b", "2.5"]


def test_separated_terms_are_skipped_not_compared(run):
    table, data = run["tables"]["regression_multivariable_complete_case"], run["data"]
    flagged = table.copy()
    flagged.loc[flagged.term == "crp", ["separation", "odds_ratio"]] = [True, 123.0]
    assert pc.check_complete_case_regression(flagged, data, PREDICTORS, "y", CODEBOOK) == 4


def test_a_fully_separated_model_compares_nothing_but_still_checks_terms_and_n(run):
    table, data = run["tables"]["regression_multivariable_complete_case"], run["data"]
    assert pc.check_complete_case_regression(table.assign(separation=True), data, PREDICTORS, "y", CODEBOOK) == 0
    assert pc.check_complete_case_regression(table.drop(columns="separation"), data, PREDICTORS, "y",
                                             CODEBOOK) == 5
    with pytest.raises(AssertionError, match="complete-case n"):
        pc.check_complete_case_regression(table.assign(separation=True, n=table["n"] + 1), data, PREDICTORS,
                                          "y", CODEBOOK)
