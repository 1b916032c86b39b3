"""Tests of analysis.validation: nested CV, comparison table, selection rule, bootstrap."""

import io
import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from conftest import CODEBOOK, make_data  # noqa: E402  (shared with tests/models/test_tuning.py)
from pandas.testing import assert_frame_equal
from scipy import stats
from scipy.special import expit, logit
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.metrics import log_loss as sk_log_loss
from sklearn.model_selection import GridSearchCV, RepeatedStratifiedKFold, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline

from analysis.errors import AnalysisError
from analysis.models.preprocessing import build_preprocessor
from analysis.models.zoo import ModelSpec, model_zoo
from analysis.validation.comparison import COMPARISON_COLUMNS, compare_models
from analysis.validation.resampling import (
    bootstrap_optimism,
    estimate_632plus,
    fit_final,
    nested_cv,
    no_information_loss,
    oof_probabilities,
    recalibration_from_table,
)
from analysis.validation.selection import SelectionRule, select_model, selected_model

SETTINGS = dict(outer_splits=3, outer_repeats=2, inner_splits=2, seed=11, progress=False)


@pytest.fixture(scope="module")
def data():
    return make_data()


@pytest.fixture(scope="module")
def zoo():
    return model_zoo(
        CODEBOOK,
        list(CODEBOOK),
        smoke=True,
        seed=2,
        include=["intercept_only", "logistic", "lasso", "random_forest"],
    )


@pytest.fixture(scope="module")
def result(data, zoo):
    X, y = data
    return nested_cv(zoo, X, y, n_jobs=1, **SETTINGS)


# ---------------------------------------------------------------------------
# Nested CV
# ---------------------------------------------------------------------------


def test_predictions_table_shape(result, data):
    X, y = data
    pred = result.predictions
    assert list(pred.columns) == ["model", "repeat", "fold", "row", "y", "probability"]
    assert len(pred) == 4 * 2 * len(X)
    assert list(pred["model"].unique()) == ["intercept_only", "logistic", "lasso", "random_forest"]
    assert np.array_equal(pred["y"].to_numpy(), y[pred["row"].to_numpy()])
    assert pred["probability"].between(0, 1).all()
    assert list(result.tuning.columns)[:5] == [
        "model",
        "repeat",
        "fold",
        "best_params",
        "inner_score",
    ]
    assert len(result.tuning) == 4 * 6


def test_no_leakage_folds_partition_rows_within_each_repeat(result, data):
    X, _ = data
    for (_, _), g in result.predictions.groupby(["model", "repeat"]):
        rows = [set(f["row"]) for _, f in g.groupby("fold")]
        assert sum(len(r) for r in rows) == len(X)  # each row exactly once
        assert set().union(*rows) == set(range(len(X)))
        for i in range(len(rows)):
            for j in range(i + 1, len(rows)):
                assert not rows[i] & rows[j]


def test_fold_predictions_come_from_a_model_fitted_on_the_training_rows_only(result, data, zoo):
    """Independent recomputation: refit the logistic on each outer training set."""
    X, y = data
    Xr = X.reset_index(drop=True)
    outer = RepeatedStratifiedKFold(n_splits=3, n_repeats=2, random_state=11)
    pred = result.predictions.query("model == 'logistic'")
    for i, (train, test) in enumerate(outer.split(Xr, y)):
        repeat, fold = divmod(i, 3)
        pipe = clone(zoo["logistic"].pipeline).fit(Xr.iloc[train], y[train])
        got = pred.query("repeat == @repeat and fold == @fold").sort_values("row")
        assert got["row"].tolist() == sorted(test.tolist())
        expected = pipe.predict_proba(Xr.iloc[np.sort(test)])[:, 1]
        assert np.allclose(got["probability"], expected, atol=1e-10)


def test_tuning_records_the_inner_grid_search(result, data, zoo):
    X, y = data
    tuning = result.tuning.query("model == 'lasso'")
    assert all(set(json.loads(p)) == {"model__C"} for p in tuning["best_params"])
    assert tuning["inner_score"].lt(0).all()  # mean neg_log_loss
    assert result.tuning.query("model == 'logistic'")["inner_score"].isna().all()


def test_nested_cv_is_deterministic_and_independent_of_n_jobs(result, data, zoo):
    X, y = data
    # Each task is seeded on its own, so a run over a subset of the models (here sequential
    # and in two processes) reproduces the full run's rows for those models exactly.
    subset = {k: zoo[k] for k in ("lasso", "random_forest")}

    def rows(table):
        return table[table["model"].isin(subset)].reset_index(drop=True)

    for n_jobs in (1, 2):
        again = nested_cv(subset, X, y, n_jobs=n_jobs, **SETTINGS)
        assert_frame_equal(rows(result.predictions), again.predictions)
        assert_frame_equal(rows(result.tuning), again.tuning)
    other = nested_cv({"logistic": zoo["logistic"]}, X, y, n_jobs=1, **{**SETTINGS, "seed": 12})

    def folds(pred):
        return pred.query("model == 'logistic'").sort_values(["repeat", "row"])["fold"].to_numpy()

    assert not np.array_equal(folds(other.predictions), folds(result.predictions))


def test_nested_cv_input_errors(data, zoo):
    X, y = data
    with pytest.raises(AnalysisError, match="DataFrame"):
        nested_cv(zoo, X.to_numpy(), y, progress=False)
    with pytest.raises(AnalysisError, match="0/1"):
        nested_cv(zoo, X, np.where(y == 1, 2, 0), progress=False)
    with pytest.raises(AnalysisError, match="lacks column"):
        nested_cv(zoo, X.drop(columns="x2"), y, progress=False)
    with pytest.raises(AnalysisError, match="outer_splits"):
        nested_cv(zoo, X, y, outer_splits=1, progress=False)
    with pytest.raises(AnalysisError, match="at least"):
        nested_cv(zoo, X.iloc[:6], np.array([0, 0, 0, 0, 1, 1]), progress=False)
    with pytest.raises(AnalysisError, match="ModelSpec"):
        nested_cv({"m": object()}, X, y, progress=False)


def test_oof_probabilities_average_the_repeats(result, data):
    X, _ = data
    oof = oof_probabilities(result)
    assert list(oof.columns) == result.model_names
    assert oof.index.tolist() == list(range(len(X)))
    pred = result.predictions.query("model == 'lasso'")
    r0 = pred.query("repeat == 0").set_index("row")["probability"].sort_index()
    r1 = pred.query("repeat == 1").set_index("row")["probability"].sort_index()
    assert np.allclose(oof["lasso"], (r0 + r1) / 2)


# ---------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def table(result, data):
    return compare_models(result, data[1], n_boot=20, seed=0)


def test_compare_models_columns_and_selection(table):
    assert tuple(table.columns[: len(COMPARISON_COLUMNS)]) == COMPARISON_COLUMNS
    for col in [
        "auc_se",
        "auc_cv_se",
        "scaled_brier",
        "log_loss",
        "calibration_intercept_ci_lower",
        "calibration_intercept_ci_upper",
        "calibration_slope_ci_lower",
        "calibration_slope_ci_upper",
        "e50",
        "e90",
        "log_loss_ci_lower",
        "log_loss_ci_upper",
        "log_loss_cv_se",
        "brier_cv_se",
        "auc_sd",
        "brier_sd",
        "log_loss_sd",
        "calibration_intercept_sd",
        "calibration_slope_sd",
        "ici_sd",
        "n_repeats",
        "sensitivity",
        "specificity",
        "ppv",
        "npv",
        "delong_p_vs_reference",
        "complexity",
        "selection_note",
    ]:
        assert col in table.columns, col
    assert table["selected"].sum() == 1
    assert not table.set_index("model").loc["intercept_only", "selected"]
    assert (table["selection_note"] != "").all()


def per_repeat(result, model):
    """The stored out-of-fold probabilities of one model, one array per outer repeat."""
    pred = result.predictions.query("model == @model")
    return [g.sort_values("row")["probability"].to_numpy() for _, g in pred.groupby("repeat")]


def glm_calibration(y, p):
    lp = logit(np.clip(p, 1e-6, 1 - 1e-6))
    slope = sm.GLM(y, sm.add_constant(lp), family=sm.families.Binomial()).fit().params[1]
    citl = sm.GLM(y, np.ones((len(y), 1)), family=sm.families.Binomial(), offset=lp).fit()
    return citl.params[0], slope


def test_compare_models_metrics_are_per_repeat_means(table, result, data):
    """Each score is computed on one repeat's out-of-fold predictions (scikit-learn and
    statsmodels here), then averaged over the 2 repeats; ``_sd`` is the SD over repeats."""
    _, y = data
    t = table.set_index("model")
    oof = oof_probabilities(result)
    for model in ["logistic", "lasso", "random_forest"]:
        reps = per_repeat(result, model)
        assert len(reps) == 2 and all(p.size == len(y) for p in reps)
        auc = [roc_auc_score(y, p) for p in reps]
        brier = [brier_score_loss(y, p) for p in reps]
        ll = [sk_log_loss(y, p) for p in reps]
        cal = np.array([glm_calibration(y, p) for p in reps])
        ici = [lowess_errors(y, p)[0] for p in reps]
        for name, values, tol in [("auc", auc, 1e-12), ("brier", brier, 1e-12),
                                  ("log_loss", ll, 1e-9), ("calibration_intercept", cal[:, 0], 1e-6),
                                  ("calibration_slope", cal[:, 1], 1e-6), ("ici", ici, 1e-10)]:
            assert t.loc[model, name] == pytest.approx(np.mean(values), abs=tol), (model, name)
            assert t.loc[model, f"{name}_sd"] == pytest.approx(np.std(values, ddof=1), abs=tol)
        prev = y.mean()
        sens = [(p >= prev)[y == 1].mean() for p in reps]
        spec = [(p < prev)[y == 0].mean() for p in reps]
        assert t.loc[model, "sensitivity"] == pytest.approx(np.mean(sens))
        assert t.loc[model, "specificity"] == pytest.approx(np.mean(spec))
        # not the scores of the repeat-averaged probabilities (a bagged ensemble)
        assert t.loc[model, "calibration_slope"] != pytest.approx(
            glm_calibration(y, oof[model].to_numpy())[1], abs=1e-6)
        # auc_cv_se, log_loss_cv_se, brier_cv_se: SD of the 6 per-fold scores / sqrt(3 folds)
        folds = result.predictions.query("model == @model").groupby(["repeat", "fold"])
        for name, fn in [("auc", roc_auc_score), ("brier", brier_score_loss),
                         ("log_loss", lambda yy, pp: sk_log_loss(yy, pp, labels=[0, 1]))]:
            per_fold = [fn(g["y"], g["probability"]) for _, g in folds]
            assert len(per_fold) == 6
            assert t.loc[model, f"{name}_cv_se"] == pytest.approx(
                np.std(per_fold, ddof=1) / np.sqrt(3), rel=1e-9)
    assert (t["n_repeats"] == 2).all()
    assert np.isnan(t.loc["logistic", "delong_p_vs_reference"])
    assert 0 <= t.loc["lasso", "delong_p_vs_reference"] <= 1


def delong_1988(y, scores):
    """AUCs and their covariance matrix from the structural components of DeLong, DeLong &
    Clarke-Pearson (1988, Biometrics 44:837), written out over all event/non-event pairs."""
    y = np.asarray(y)
    aucs, v10, v01 = [], [], []
    for s in scores:
        x, z = s[y == 1], s[y == 0]
        psi = (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])
        aucs.append(psi.mean())
        v10.append(psi.mean(axis=1))  # one per event
        v01.append(psi.mean(axis=0))  # one per non-event
    v10, v01 = np.array(v10), np.array(v01)
    s10 = np.atleast_2d(np.cov(v10, ddof=1))
    s01 = np.atleast_2d(np.cov(v01, ddof=1))
    return np.array(aucs), s10 / v10.shape[1] + s01 / v01.shape[1]


def plain_resamples(n, n_boot, seed):
    """The documented scheme of compare_models' bootstrap: default_rng(seed), n patients
    drawn with replacement per resample, not stratified by outcome."""
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def lowess_errors(y, p):
    from statsmodels.nonparametric.smoothers_lowess import lowess

    d = np.abs(p - lowess(y.astype(float), p, frac=0.75, it=0, delta=0.01 * np.ptp(p), return_sorted=False))
    return d.mean(), np.median(d), np.quantile(d, 0.9)


def test_compare_models_uncertainty_matches_independent_computations(table, result, data):
    _, y = data
    t = table.set_index("model")
    z = 1.959963984540054  # norm.ppf(0.975)
    idx = plain_resamples(len(y), 20, seed=0)
    ref = per_repeat(result, "logistic")
    for model in ["logistic", "lasso", "random_forest"]:
        reps = per_repeat(result, model)
        lower, upper, ses, diffs, diff_ses = [], [], [], [], []
        for p, q in zip(reps, ref, strict=True):
            aucs, cov = delong_1988(y, [p, q])
            se = np.sqrt(cov[0, 0])
            ses.append(se)
            lower.append(max(0.0, aucs[0] - z * se))
            upper.append(min(1.0, aucs[0] + z * se))
            diffs.append(aucs[0] - aucs[1])
            diff_ses.append(np.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]))
        # DeLong on each repeat's out-of-fold predictions, averaged
        assert t.loc[model, "auc_se"] == pytest.approx(np.mean(ses), rel=1e-10)
        assert t.loc[model, "auc_ci_lower"] == pytest.approx(np.mean(lower), rel=1e-10)
        assert t.loc[model, "auc_ci_upper"] == pytest.approx(np.mean(upper), rel=1e-10)
        if model != "logistic":
            p_value = 2 * stats.norm.sf(abs(np.mean(diffs)) / np.mean(diff_ses))
            assert t.loc[model, "delong_p_vs_reference"] == pytest.approx(p_value, rel=1e-9)
        errs = np.array([lowess_errors(y, p) for p in reps])
        assert t.loc[model, "ici"] == pytest.approx(errs[:, 0].mean(), rel=1e-12)
        assert t.loc[model, "e50"] == pytest.approx(errs[:, 1].mean(), rel=1e-12)
        assert t.loc[model, "e90"] == pytest.approx(errs[:, 2].mean(), rel=1e-12)
        # unstratified bootstrap of patients; each resample's score is the repeat average
        brier = [np.mean([np.mean((p[i] - y[i]) ** 2) for p in reps]) for i in idx]
        np.testing.assert_allclose(t.loc[model, ["brier_ci_lower", "brier_ci_upper"]].to_numpy(float),
                                   np.quantile(brier, [0.025, 0.975]), rtol=1e-12)
        ll = [np.mean([sk_log_loss(y[i], p[i], labels=[0, 1]) for p in reps]) for i in idx]
        np.testing.assert_allclose(
            t.loc[model, ["log_loss_ci_lower", "log_loss_ci_upper"]].to_numpy(float),
            np.quantile(ll, [0.025, 0.975]), rtol=1e-9)
        icis = [np.mean([lowess_errors(y[i], p[i])[0] for p in reps]) for i in idx]
        np.testing.assert_allclose(t.loc[model, ["ici_ci_lower", "ici_ci_upper"]].to_numpy(float),
                                   np.quantile(icis, [0.025, 0.975]), rtol=1e-10)
    # the resamples are not stratified: the number of events varies between them
    assert len({int(y[i].sum()) for i in idx}) > 1
    assert np.isnan(t.loc["logistic", "delong_p_vs_reference"])
    assert t.loc["lasso", "delong_p_vs_reference"] != t.loc["random_forest", "delong_p_vs_reference"]


def test_intercept_only_row(table):
    row = table.set_index("model").loc["intercept_only"]
    assert row["auc"] == 0.5
    assert np.isnan(row["calibration_slope"]) and np.isnan(row["auc_ci_lower"])
    assert np.isfinite(row["calibration_intercept"]) and np.isfinite(row["brier"])
    assert "benchmark" in row["selection_note"]


def test_compare_models_is_deterministic_and_checks_inputs(table, result, data):
    _, y = data
    assert_frame_equal(table, compare_models(result, y, n_boot=20, seed=0))
    with pytest.raises(AnalysisError, match="does not match"):
        compare_models(result, 1 - y, n_boot=0)
    with pytest.raises(AnalysisError, match="reference"):
        compare_models(result, y, reference="svm", n_boot=0)
    t = compare_models(result, y, threshold=0.5, n_boot=0)
    assert t["brier_ci_lower"].isna().all() and (t["threshold"] == 0.5).all()
    assert t["log_loss_ci_lower"].isna().all()


# ---------------------------------------------------------------------------
# Selection rule (hand-made tables)
# ---------------------------------------------------------------------------


NULL = ("intercept_only", 0.693, 0.010, np.nan, 0)  # the benchmark row of every hand table


def hand_table(rows, null=NULL):
    cols = ["model", "log_loss", "log_loss_cv_se", "calibration_slope", "complexity"]
    return pd.DataFrame(([null] if null else []) + list(rows), columns=cols)


def chosen(table, **kwargs):
    out = select_model(table, **kwargs)
    assert out["selected"].sum() == 1
    return out.loc[out["selected"], "model"].item(), out.set_index("model")["selection_note"]


def test_one_se_rule_picks_the_simpler_model_by_log_loss():
    t = hand_table(
        [
            ("logistic", 0.600, 0.03, 0.95, 1),
            ("lasso", 0.610, 0.03, 1.00, 1),
            ("random_forest", 0.590, 0.03, 1.05, 3),
            ("mlp", 0.580, 0.03, 0.90, 4),
        ]
    )
    model, notes = chosen(t)
    assert model == "logistic"  # 0.600 <= 0.580 + 0.03; ties in complexity -> lower log loss
    assert "one SE" in notes["logistic"] and "mlp" in notes["logistic"]
    assert "benchmark" in notes["intercept_only"]
    # with a smaller SE only the models within 0.01 of the best qualify
    t2 = t.assign(log_loss_cv_se=0.01)
    assert chosen(t2)[0] == "random_forest"
    assert "above the one-SE bar" in chosen(t2)[1]["logistic"]
    # SE of the best model is the one used
    t3 = t.assign(log_loss_cv_se=[0.01, 0.001, 0.001, 0.001, 0.05])
    assert chosen(t3)[0] == "logistic"
    # the AUC plays no part: a table with AUCs that favour mlp selects the same model
    assert chosen(t.assign(auc=[0.5, 0.6, 0.6, 0.6, 0.9]))[0] == "logistic"


def test_selection_by_brier_score():
    t = pd.DataFrame({"model": ["intercept_only", "logistic", "svm"],
                      "brier": [0.25, 0.20, 0.18], "brier_cv_se": [0.01, 0.005, 0.005],
                      "log_loss": [0.69, 0.50, 0.60], "calibration_slope": [np.nan, 1.0, 1.0],
                      "complexity": [0, 1, 3]})
    assert chosen(t, rule=SelectionRule(score="brier"))[0] == "svm"  # 0.20 > 0.18 + 0.005
    assert chosen(t)[0] == "logistic"  # by log loss
    assert "Brier score" in chosen(t, rule=SelectionRule(score="brier"))[1]["svm"]


def test_a_candidate_must_beat_the_intercept_only_benchmark():
    t = hand_table(
        [
            ("logistic", 0.700, 0.03, 0.95, 1),  # worse than the null 0.693
            ("lasso", 0.693, 0.03, 1.00, 1),  # equal: not strictly better
            ("random_forest", 0.650, 0.03, 1.05, 3),
        ]
    )
    model, notes = chosen(t)
    assert model == "random_forest"  # the one-SE rule cannot fall back to non-candidates
    assert "does not beat the intercept-only benchmark" in notes["logistic"]
    assert "does not beat the intercept-only benchmark" in notes["lasso"]
    # nobody beats the benchmark: no model is selected, and every note says why
    none = select_model(t.assign(log_loss=[0.693, 0.70, 0.72, 0.693]))
    assert not none["selected"].any()
    assert none["selection_note"].str.startswith(
        "no model beats the intercept-only benchmark on cross-validated log_loss").all()
    with pytest.raises(AnalysisError, match="exactly one model must be selected"):
        selected_model(none)
    with pytest.raises(AnalysisError, match="benchmark row 'intercept_only'"):
        select_model(t.iloc[1:])


def test_miscalibrated_model_is_not_eligible():
    t = hand_table(
        [
            ("logistic", 0.60, 0.02, 0.60, 1),  # would win on simplicity
            ("random_forest", 0.59, 0.02, 1.10, 3),
            ("mlp", 0.50, 0.02, 1.50, 4),  # best log loss but miscalibrated
        ]
    )
    model, notes = chosen(t)
    assert model == "random_forest"
    assert "ineligible" in notes["logistic"] and "0.60" in notes["logistic"]
    assert "ineligible" in notes["mlp"]
    assert "needs recalibration" not in notes["random_forest"]
    # boundary slopes 0.8 and 1.2 are eligible
    assert chosen(t.assign(calibration_slope=[np.nan, 0.8, 1.1, 1.2]))[0] == "mlp"


def test_all_miscalibrated_falls_back_and_flags():
    t = hand_table(
        [
            ("logistic", 0.60, 0.02, 0.60, 1),
            ("random_forest", 0.55, 0.02, 1.40, 3),
        ]
    )
    model, notes = chosen(t)
    assert model == "random_forest"
    assert "needs recalibration" in notes["random_forest"]
    # with a wide SE the simpler model wins, still flagged
    model, notes = chosen(t.assign(log_loss_cv_se=0.06))
    assert model == "logistic" and "needs recalibration" in notes["logistic"]


def test_selection_rule_options_and_errors():
    t = hand_table([("logistic", 0.60, np.nan, 1.0, 1), ("svm", 0.58, np.nan, 1.0, 3)])
    assert chosen(t)[0] == "svm"  # no SE -> no tolerance
    assert chosen(t.assign(log_loss_cv_se=0.01), rule=SelectionRule(n_se=2.0))[0] == "logistic"
    assert chosen(t.assign(other_se=0.05), rule=SelectionRule(se_column="other_se"))[0] == "logistic"
    wide = SelectionRule(slope_range=(0.5, 2.0))
    assert "[0.5, 2]" in wide.describe()
    assert "one standard error" in SelectionRule().describe()
    assert "log loss" in SelectionRule().describe()
    with pytest.raises(AnalysisError, match="complexity"):
        select_model(t.drop(columns="complexity"))
    with pytest.raises(AnalysisError, match="log_loss"):
        select_model(t.drop(columns="log_loss"))
    with pytest.raises(AnalysisError, match="no candidate"):
        select_model(hand_table([]))
    with pytest.raises(AnalysisError, match="repeat"):
        select_model(pd.concat([t, t]))


def test_pure_noise_cohort_selects_no_model():
    """150 patients, outcome independent of 6 predictors: no candidate's cross-validated
    log loss beats the intercept-only model, so nothing is selected."""
    rng = np.random.default_rng(5)
    n = 150
    X = pd.DataFrame(rng.normal(size=(n, 6)), columns=[f"z{j}" for j in range(6)])
    y = rng.binomial(1, 0.4, n)
    cb = {c: {"type": "numeric"} for c in X.columns}
    zoo = model_zoo(cb, list(X.columns), smoke=True, seed=1,
                    include=["intercept_only", "logistic", "random_forest"])
    res = nested_cv(zoo, X, y, n_jobs=1, **SETTINGS)
    t = compare_models(res, y, n_boot=0).set_index("model")
    assert (t.loc[["logistic", "random_forest"], "log_loss"] >= t.loc["intercept_only", "log_loss"]).all()
    assert not t["selected"].any()
    assert t["selection_note"].str.contains("no model beats the intercept-only benchmark").all()


# ---------------------------------------------------------------------------
# Bootstrap optimism and final fit
# ---------------------------------------------------------------------------


def noise_data(n=100, p=20, seed=3):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, p)), columns=[f"z{j}" for j in range(p)])
    y = rng.permutation(np.r_[np.ones(n // 2, int), np.zeros(n - n // 2, int)])
    return X, y


def test_optimism_identities_on_pure_noise():
    X, y = noise_data()
    cb = {c: {"type": "numeric"} for c in X.columns}
    spec = model_zoo(cb, list(X.columns), include=["logistic"])["logistic"]
    t = bootstrap_optimism(spec, X, y, n_boot=30, seed=1, n_jobs=1, progress=False)
    assert list(t.columns) == [
        "model",
        "metric",
        "apparent",
        "optimism",
        "corrected",
        "oob",
        "n_boot",
        "n_failed",
        "method",
        "failed_share",
        "flag",
    ]
    assert (t["method"] == "Harrell optimism").all()  # logistic: complexity 1
    assert t["metric"].tolist() == [
        "auc",
        "brier",
        "calibration_intercept",
        "calibration_slope",
        "shrinkage",
    ]
    r = t.set_index("metric")
    # apparent AUC of the model refitted on all patients, computed independently
    full = clone(spec.pipeline).fit(X, y)
    assert r.loc["auc", "apparent"] == pytest.approx(
        roc_auc_score(y, full.predict_proba(X)[:, 1]), abs=1e-12
    )
    assert np.array_equal(t["corrected"], t["apparent"] - t["optimism"])
    assert np.allclose(t["optimism"], t["apparent"] - t["corrected"], atol=1e-15, rtol=0)
    # maximum likelihood: apparent calibration is perfect by construction
    assert r.loc["calibration_slope", "apparent"] == pytest.approx(1.0, abs=1e-5)
    assert r.loc["calibration_intercept", "apparent"] == pytest.approx(0.0, abs=1e-5)
    # shrinkage is the corrected calibration slope: the same numbers, never a contradiction
    cols = ["apparent", "optimism", "corrected", "oob", "n_failed"]
    assert r.loc["shrinkage", cols].tolist() == r.loc["calibration_slope", cols].tolist()
    assert r.loc["brier", "corrected"] > r.loc["brier", "apparent"]
    assert (t["n_boot"] == 30).all() and (t["n_failed"] == 0).all()
    assert (t["failed_share"] == 0).all() and not t["flag"].any()


def test_optimism_corrects_most_of_the_apparent_auc_on_pure_noise():
    """20 noise predictors, n = 100 (50 events): the true AUC is 0.5.

    Averaged over five noise data sets, the apparent AUC is about 0.75 and Harrell's
    corrected AUC about 0.57: the bootstrap removes most of the optimism but, as is
    known for so few events per variable (2.5), not quite all of it.
    """
    apparent, corrected, shrinkage, oob = [], [], [], []
    for seed in range(5):
        X, y = noise_data(seed=seed)
        cb = {c: {"type": "numeric"} for c in X.columns}
        spec = model_zoo(cb, list(X.columns), include=["logistic"])["logistic"]
        r = bootstrap_optimism(spec, X, y, n_boot=30, seed=0, n_jobs=1, progress=False)
        r = r.set_index("metric")
        apparent.append(r.loc["auc", "apparent"])
        corrected.append(r.loc["auc", "corrected"])
        shrinkage.append(r.loc["shrinkage", "corrected"])
        oob.append(r.loc["auc", "oob"])
    assert min(apparent) > 0.65 and np.mean(apparent) > 0.7
    assert abs(np.mean(corrected) - 0.5) < 0.08
    assert np.mean(corrected) - 0.5 < (np.mean(apparent) - 0.5) / 3
    assert max(shrinkage) < 0.6  # the slope of a noise model shrinks towards 0
    assert abs(np.mean(oob) - 0.5) < 0.05  # out-of-bag patients were never seen


def test_harrell_correction_fails_for_an_interpolating_model_but_oob_does_not():
    """The documented limitation: a 1-nearest-neighbour model memorises its training data."""
    X, y = noise_data(p=5)
    cb = {c: {"type": "numeric"} for c in X.columns}
    pipe = Pipeline(
        [
            ("preprocess", build_preprocessor(cb, list(X.columns))),
            ("model", KNeighborsClassifier(1)),
        ]
    )
    spec = ModelSpec("nn1", "1-NN", pipe, {}, 2)
    r = bootstrap_optimism(spec, X, y, n_boot=20, n_jobs=1, progress=False, metrics=("auc",))
    r = r.set_index("metric")
    assert r.loc["auc", "apparent"] == 1.0
    assert r.loc["auc", "corrected"] > 0.7  # far from the true 0.5
    assert abs(r.loc["auc", "oob"] - 0.5) < 0.1


def test_optimism_is_small_on_a_strong_signal_and_deterministic():
    rng = np.random.default_rng(8)
    n = 200
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    y = rng.binomial(1, expit(2.0 * X["a"] - 1.5 * X["b"])).astype(int)
    cb = {c: {"type": "numeric"} for c in X.columns}
    spec = model_zoo(cb, ["a", "b"], include=["logistic"])["logistic"]
    kw = dict(n_boot=24, seed=4, progress=False)
    t = bootstrap_optimism(spec, X, y, n_jobs=1, **kw)
    r = t.set_index("metric")
    assert 0 <= r.loc["auc", "optimism"] < 0.01
    assert r.loc["shrinkage", "corrected"] > 0.9
    assert_frame_equal(t, bootstrap_optimism(spec, X, y, n_jobs=2, **kw))


class RecordingLogistic(LogisticRegression):
    """A logistic regression that records (C, n_rows) of every fit (single process)."""

    fits: list = []

    def fit(self, X, y, sample_weight=None):
        RecordingLogistic.fits.append((self.C, len(y)))
        return super().fit(X, y, sample_weight=sample_weight)


def test_bootstrap_reruns_tuning_in_every_replicate_and_counts_failures(data):
    X, y = data
    cb = {"x1": CODEBOOK["x1"], "x2": CODEBOOK["x2"]}
    pipe = Pipeline([("preprocess", build_preprocessor(cb, ["x1", "x2"])),
                     ("model", RecordingLogistic(max_iter=1000))])
    spec = ModelSpec("rec", "recording", pipe, {"model__C": [0.01, 0.1, 1.0]}, 2)
    RecordingLogistic.fits = []
    n_boot, inner = 4, 3
    t = bootstrap_optimism(spec, X, y, n_boot=n_boot, n_jobs=1, progress=False, inner_splits=inner,
                           metrics=("auc", "log_loss", "ici"))
    assert t["metric"].tolist() == ["auc", "log_loss", "ici", "shrinkage"]
    assert (t["n_failed"] == 0).all()
    n = len(y)
    on_inner_folds = [f for f in RecordingLogistic.fits if f[1] < n]
    refits = [f for f in RecordingLogistic.fits if f[1] == n]
    # the whole grid on every inner fold, for the apparent fit and for each replicate,
    # then one refit (at the chosen C) on each full (bootstrap) sample
    assert len(on_inner_folds) == (1 + n_boot) * inner * 3
    assert sorted({c for c, _ in on_inner_folds}) == [0.01, 0.1, 1.0]
    assert len(refits) == 1 + n_boot
    with pytest.raises(AnalysisError, match="metrics"):
        bootstrap_optimism(spec, X, y, n_boot=2, metrics=("accuracy",), progress=False)


def harrell_by_hand(pipeline, X, y, n_boot, seed):
    """Harrell's optimism bootstrap written out: the same resamples (default_rng(seed),
    n draws with replacement per replicate), scikit-learn and statsmodels metrics."""

    def metrics(model, Xe, ye):
        p = model.predict_proba(Xe)[:, 1]
        lp = logit(np.clip(p, 1e-6, 1 - 1e-6))
        glm = sm.families.Binomial()
        slope = sm.GLM(ye, sm.add_constant(lp), family=glm).fit(tol=1e-14, maxiter=200).params[1]
        citl = sm.GLM(ye, np.ones((len(ye), 1)), family=glm, offset=lp).fit(tol=1e-14, maxiter=200).params[0]
        return np.array([roc_auc_score(ye, p), brier_score_loss(ye, p), citl, slope])

    Xr, yr = X.reset_index(drop=True), np.asarray(y)
    apparent = metrics(clone(pipeline).fit(Xr, yr), Xr, yr)
    idx = np.random.default_rng(seed).integers(0, yr.size, size=(n_boot, yr.size))
    boot, test = [], []
    for i in idx:
        model = clone(pipeline).fit(Xr.iloc[i], yr[i])
        boot.append(metrics(model, Xr.iloc[i], yr[i]))
        test.append(metrics(model, Xr, yr))
    boot, test = np.array(boot), np.array(test)
    return apparent, (boot - test).mean(axis=0), test[:, 3].mean()


def test_optimism_equals_a_hand_written_harrell_bootstrap():
    rng = np.random.default_rng(21)
    n = 150
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.normal(size=n)})
    y = rng.binomial(1, expit(0.8 * X["a"] - 0.5 * X["b"])).astype(int)
    cb = {c: {"type": "numeric"} for c in X.columns}
    spec = model_zoo(cb, list(X.columns), include=["logistic"])["logistic"]
    t = bootstrap_optimism(spec, X, y, n_boot=15, seed=3, n_jobs=1, progress=False).set_index("metric")
    apparent, optimism, shrinkage = harrell_by_hand(spec.pipeline, X, y, 15, seed=3)
    names = ["auc", "brier", "calibration_intercept", "calibration_slope"]
    # AUC and Brier are the same arithmetic on the same fits: 1e-10; the calibration
    # fits are two maximum-likelihood solvers run to convergence: 1e-8
    for k, name in enumerate(names):
        tol = 1e-10 if name in ("auc", "brier") else 1e-8
        assert t.loc[name, "apparent"] == pytest.approx(apparent[k], abs=tol), name
        assert t.loc[name, "optimism"] == pytest.approx(optimism[k], abs=tol), name
    # shrinkage = the corrected calibration slope (apparent - optimism), which for this
    # maximum-likelihood model (apparent and boot slopes 1) is the mean test slope
    assert t.loc["shrinkage", "corrected"] == pytest.approx(apparent[3] - optimism[3], abs=1e-8)
    assert t.loc["shrinkage", "corrected"] == pytest.approx(shrinkage, abs=1e-4)
    # the optimism is far from zero on these data, so the comparison has teeth
    assert abs(t.loc["auc", "optimism"]) > 1e-3 and abs(t.loc["calibration_slope", "optimism"]) > 1e-2


def test_fit_final_matches_a_manual_grid_search(data):
    X, y = data
    spec = model_zoo(CODEBOOK, list(CODEBOOK), smoke=True, include=["lasso"])["lasso"]
    final = fit_final(spec, X, y, inner_splits=3, seed=5)
    search = GridSearchCV(
        clone(spec.pipeline),
        spec.param_grid,
        scoring="neg_log_loss",
        cv=StratifiedKFold(3, shuffle=True, random_state=5),
    ).fit(X.reset_index(drop=True), y)
    assert final.best_params_ == search.best_params_
    assert np.allclose(final.predict_proba(X)[:, 1], search.predict_proba(X)[:, 1])


# ---------------------------------------------------------------------------
# .632+, failures, recalibration
# ---------------------------------------------------------------------------


def test_632plus_formula_on_hand_computed_cases():
    """Efron & Tibshirani (1997): err1' = min(err1, gamma); R' = (err1' - err) / (gamma - err)
    when err1 > err and gamma > err, else 0; w = .632 / (1 - .368 R');
    Err = (1 - w) err + w err1'."""
    # err = 0.10, err1 = 0.20, gamma = 0.30: R' = 0.1 / 0.2 = 0.5, w = .632 / .816
    w = 0.632 / (1 - 0.368 * 0.5)
    assert estimate_632plus(0.10, 0.20, 0.30) == pytest.approx((1 - w) * 0.10 + w * 0.20, abs=1e-15)
    assert estimate_632plus(0.10, 0.20, 0.30) == pytest.approx(0.1774509803921569, abs=1e-15)
    # err1 above gamma: err1' = gamma, R' = 1, w = 1 -> Err = gamma
    assert estimate_632plus(0.0, 0.40, 0.30) == pytest.approx(0.30, abs=1e-15)
    # no overfitting (err1 <= err): R' = 0, w = .632 -> the plain .632 estimator
    assert estimate_632plus(0.20, 0.15, 0.30) == pytest.approx(0.368 * 0.20 + 0.632 * 0.15)
    # AUC (higher is better, gamma = 0.5): apparent 1.0, out-of-bag 0.6 -> on 1 - AUC:
    # err = 0, err1 = 0.4, gamma = 0.5, R' = 0.8, w = .632 / (1 - .368 * .8)
    w = 0.632 / (1 - 0.368 * 0.8)
    assert estimate_632plus(1.0, 0.6, 0.5, higher_is_better=True) == pytest.approx(
        1 - w * 0.4, abs=1e-15)
    assert np.isnan(estimate_632plus(np.nan, 0.6, 0.5))
    # gamma: all n x n (outcome, prediction) pairs
    y, p = np.array([0, 1, 1]), np.array([0.2, 0.5, 0.9])
    pairs = [(yi - pj) ** 2 for yi in y for pj in p]
    assert no_information_loss(y, p, "brier") == pytest.approx(np.mean(pairs), abs=1e-15)
    pairs = [-(yi * np.log(pj) + (1 - yi) * np.log(1 - pj)) for yi in y for pj in p]
    assert no_information_loss(y, p, "log_loss") == pytest.approx(np.mean(pairs), abs=1e-15)


def nn1_spec(X, complexity):
    cb = {c: {"type": "numeric"} for c in X.columns}
    pipe = Pipeline([("preprocess", build_preprocessor(cb, list(X.columns))),
                     ("model", KNeighborsClassifier(1))])
    return ModelSpec("nn1", "1-NN", pipe, {}, complexity)


def test_632plus_for_a_memorising_learner_equals_a_hand_written_bootstrap():
    """A 1-nearest-neighbour model with complexity 3 (memorising) on pure noise: the table's
    .632+ values follow from the same resamples computed here with scikit-learn."""
    X, y = noise_data(n=60, p=3, seed=4)
    spec = nn1_spec(X, 3)
    n_boot = 12
    t = bootstrap_optimism(spec, X, y, n_boot=n_boot, seed=2, n_jobs=1, progress=False,
                           metrics=("auc", "brier", "log_loss", "calibration_slope"))
    r = t.set_index("metric")
    assert r.loc["auc", "method"] == r.loc["brier", "method"] == ".632+"
    assert r.loc["calibration_slope", "method"].startswith("out-of-bag bootstrap")
    full = clone(spec.pipeline).fit(X, y)
    p_app = full.predict_proba(X)[:, 1]
    idx = np.random.default_rng(2).integers(0, len(y), size=(n_boot, len(y)))
    oob_auc, losses = [], np.full((n_boot, len(y)), np.nan)
    for b, i in enumerate(idx):
        model = clone(spec.pipeline).fit(X.iloc[i], y[i])
        out = np.setdiff1d(np.arange(len(y)), i)
        p = model.predict_proba(X.iloc[out])[:, 1]
        oob_auc.append(roc_auc_score(y[out], p))
        losses[b, out] = (p - y[out]) ** 2
    # AUC: err = apparent, err1 = mean out-of-bag AUC, gamma = 0.5
    app, err1 = roc_auc_score(y, p_app), np.mean(oob_auc)
    assert app == 1.0 and r.loc["auc", "apparent"] == 1.0
    R = min(1.0, (app - max(err1, 0.5)) / (app - 0.5)) if err1 < app else 0.0
    w = 0.632 / (1 - 0.368 * R)
    assert r.loc["auc", "corrected"] == pytest.approx((1 - w) * app + w * max(err1, 0.5), abs=1e-12)
    assert r.loc["auc", "oob"] == pytest.approx(err1, abs=1e-12)
    # Brier: err1 = mean over patients of their mean out-of-bag loss; gamma from all pairs
    err = np.mean((p_app - y) ** 2)
    err1 = np.nanmean(losses, axis=0)[np.isfinite(losses).any(axis=0)].mean()
    gamma = np.mean([(yi - pj) ** 2 for yi in y for pj in p_app])
    e1 = min(err1, gamma)
    R = (e1 - err) / (gamma - err) if (err1 > err and gamma > err) else 0.0
    w = 0.632 / (1 - 0.368 * R)
    assert r.loc["brier", "corrected"] == pytest.approx((1 - w) * err + w * e1, abs=1e-12)
    assert np.allclose(t["optimism"], t["apparent"] - t["corrected"], atol=1e-12, equal_nan=True)
    # the memorising learner's corrected AUC is near the truth (0.5), Harrell's is not
    assert abs(r.loc["auc", "corrected"] - 0.5) < 0.1
    harrell = bootstrap_optimism(spec, X, y, n_boot=n_boot, seed=2, n_jobs=1, progress=False,
                                 metrics=("auc",), method="harrell").set_index("metric")
    assert harrell.loc["auc", "method"] == "Harrell optimism"
    assert harrell.loc["auc", "corrected"] > 0.7
    # "auto" follows the complexity: 2 -> Harrell
    auto = bootstrap_optimism(nn1_spec(X, 2), X, y, n_boot=2, n_jobs=1, progress=False,
                              metrics=("auc",))
    assert (auto["method"] == "Harrell optimism").all()
    with pytest.raises(AnalysisError, match="method must be"):
        bootstrap_optimism(spec, X, y, n_boot=2, progress=False, method="632")


def test_failed_replicates_are_counted_and_flagged():
    """40 patients with 5 events and 3 inner folds: every bootstrap sample with fewer than 3
    events (binomial(40, 5/40) < 3, about 12% of them) cannot be tuned and fails."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=40)})
    y = np.r_[np.ones(5, int), np.zeros(35, int)]
    spec = model_zoo({"a": {"type": "numeric"}}, ["a"], smoke=True, include=["lasso"])["lasso"]
    n_boot = 40
    t = bootstrap_optimism(spec, X, y, n_boot=n_boot, seed=1, n_jobs=1, progress=False,
                           metrics=("auc",), inner_splits=3)
    idx = np.random.default_rng(1).integers(0, 40, size=(n_boot, 40))
    failed = int((y[idx].sum(axis=1) < 3).sum())
    assert failed > 0.1 * n_boot  # the fixture has teeth
    r = t.set_index("metric")
    assert r.loc["auc", "n_failed"] >= failed
    assert r.loc["auc", "failed_share"] == r.loc["auc", "n_failed"] / n_boot
    assert r.loc["auc", "flag"]
    assert t["flag"].equals(t["failed_share"] > 0.1)


def overfit_data(n, seed, p=12):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, p)), columns=[f"x{j}" for j in range(p)])
    y = rng.binomial(1, expit(-0.3 + 0.8 * X["x0"] - 0.6 * X["x1"] + 0.4 * X["x2"]))
    return X, y.astype(int)


def test_recalibration_inside_the_bootstrap_calibrates_an_overfitted_logistic_model():
    """12 predictors (3 real) and 120 patients: the unpenalised logistic model is
    over-fitted (external slope about 0.6).  The final model recalibrated with the
    bootstrap's (a, b) has an external slope near 1 on 20,000 fresh patients."""
    from analysis.models.recalibration import RecalibratedClassifier

    raw, recal = [], []
    for seed in range(3):
        X, y = overfit_data(120, seed)
        Xf, yf = overfit_data(20_000, 100 + seed)
        cb = {c: {"type": "numeric"} for c in X.columns}
        spec = model_zoo(cb, list(X.columns), include=["logistic"])["logistic"]
        t = bootstrap_optimism(spec, X, y, n_boot=40, seed=1, n_jobs=1, progress=False,
                               recalibrate=True, metrics=("auc", "calibration_slope"))
        assert t["metric"].tolist()[-2:] == ["recalibration_intercept", "recalibration_slope"]
        assert t["method"].iloc[0] == "Harrell optimism (fit + recalibration)"
        a, b = recalibration_from_table(t)
        # the table survives a CSV round trip
        back = pd.read_csv(io.StringIO(t.to_csv(index=False)))
        assert recalibration_from_table(back) == pytest.approx((a, b), abs=1e-12)
        final = fit_final(spec, X, y)
        model = RecalibratedClassifier(final, a, b).fit()
        # apparent = the recalibrated final model on all patients
        app = t.set_index("metric").loc["calibration_slope", "apparent"]
        lp = logit(np.clip(model.predict_proba(X)[:, 1], 1e-6, 1 - 1e-6))
        assert app == pytest.approx(sm.GLM(y, sm.add_constant(lp), family=sm.families.Binomial())
                                    .fit().params[1], abs=1e-6)
        for store, clf in ((raw, final), (recal, model)):
            lp = logit(np.clip(clf.predict_proba(Xf)[:, 1], 1e-6, 1 - 1e-6))
            fit = sm.GLM(yf, sm.add_constant(lp), family=sm.families.Binomial()).fit()
            store.append(fit.params[1])
    assert np.mean(raw) < 0.75  # the fixture is over-fitted
    assert 0.85 < np.mean(recal) < 1.2
    assert abs(np.mean(recal) - 1) < abs(np.mean(raw) - 1) / 2
    with pytest.raises(AnalysisError, match="metric, apparent"):
        recalibration_from_table(pd.DataFrame({"x": [1]}))


def test_recalibration_of_a_memorising_learner_is_judged_on_other_patients(data):
    """Random forest (complexity 3) with recalibrate=True: .632+ rows, (a, b) from the
    out-of-bag patients, and an out-of-bag calibration slope that is not 1 by construction
    (each out-of-bag half is recalibrated by coefficients fitted on the other half)."""
    X, y = data
    spec = model_zoo(CODEBOOK, list(CODEBOOK), smoke=True, seed=2, include=["random_forest"])[
        "random_forest"]
    t = bootstrap_optimism(spec, X, y, n_boot=6, seed=0, n_jobs=1, progress=False,
                           recalibrate=True, metrics=("auc", "calibration_slope"))
    r = t.set_index("metric")
    assert r.loc["auc", "method"] == ".632+ (fit + recalibration)"
    assert "out-of-bag patients" in r.loc["recalibration_slope", "method"]
    assert abs(r.loc["calibration_slope", "oob"] - 1) > 0.02
    assert r.loc["shrinkage", "corrected"] == r.loc["calibration_slope", "corrected"]
    a, b = recalibration_from_table(t)
    assert np.isfinite(a) and 0 < b < 2


# ---------------------------------------------------------------------------
# Bootstrap refits tune with a patient's copies in one inner fold
# ---------------------------------------------------------------------------


def _duplicated_noise(n=100, p=40, seed=4):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, p)), columns=[f"x{i}" for i in range(p)])
    y = (rng.random(n) < 0.5).astype(int)
    idx = np.repeat(np.arange(n), 2)  # every patient twice, as a bootstrap sample may hold them
    return X.iloc[idx].reset_index(drop=True), y[idx], idx


def test_copies_in_both_inner_folds_reward_overfitting_and_groups_prevent_it():
    # pure noise: an honest inner CV chooses a strong penalty; one that sees a patient's copy
    # on both sides of a split chooses a weak one
    from sklearn.model_selection import StratifiedGroupKFold

    from analysis.models.flexible import RidgeLogisticCV
    from analysis.models.tuning import grid_search

    X, y, groups = _duplicated_noise()
    leaky = RidgeLogisticCV(random_state=0).fit(X, y)
    grouped = RidgeLogisticCV(random_state=0).fit(X, y, groups=groups)
    assert grouped.alpha_ > 50 * leaky.alpha_
    assert grouped.effective_df_ < 1.0 < 20.0 < leaky.effective_df_
    spec = model_zoo({c: {"type": "numeric"} for c in X}, list(X), seed=0,
                     include=["lasso"])["lasso"]
    grid = spec.param_grid
    plain = grid_search(spec.pipeline, grid, X, y, StratifiedKFold(3, shuffle=True, random_state=0))
    kept = grid_search(spec.pipeline, grid, X, y,
                       StratifiedGroupKFold(3, shuffle=True, random_state=0), groups=groups)
    assert kept.params["model__C"] < plain.params["model__C"]


def test_bootstrap_of_a_tuned_model_labels_its_method_and_groups_its_refits(monkeypatch):
    import analysis.validation.resampling as resampling

    X, y = make_data(n=120, seed=8)
    zoo = model_zoo(CODEBOOK, list(CODEBOOK), smoke=True, seed=0,
                    include=["lasso", "flexible_logistic"])
    seen = []
    original = resampling._fit_spec

    def spy(spec, X_, y_, inner_splits, inner_seed, groups=None):
        seen.append(groups)
        return original(spec, X_, y_, inner_splits, inner_seed, groups=groups)

    monkeypatch.setattr(resampling, "_fit_spec", spy)
    for name in ("lasso", "flexible_logistic"):
        seen.clear()
        t = bootstrap_optimism(zoo[name], X, y, n_boot=3, seed=2, n_jobs=1, progress=False)
        assert (t["method"] == resampling.METHOD_HARRELL_TUNED).all()
        assert seen[0] is None  # the final fit: every patient once
        assert all(g is not None and len(g) == len(y) for g in seen[1:])  # the replicates
