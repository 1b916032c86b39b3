"""The flexible model (rms-style penalised logistic regression): design, penalty, truth."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from analysis.errors import AnalysisError
from analysis.models.flexible import (
    FlexibleBasis,
    RidgeLogisticCV,
    complex_terms,
    effective_degrees_of_freedom,
    knots_for_sample_size,
)
from analysis.models.zoo import model_zoo
from analysis.regression.splines import harrell_knot_quantiles, rcs_basis
from analysis.synthetic.known_truth import CODEBOOK, INTERACTIONS, PREDICTORS, simulate

RNG = np.random.default_rng(20261202)


def _frame(n, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "crp": np.exp(rng.normal(2.0, 1.0, n)),           # lognormal: right-skewed, positive
        "age": rng.normal(50, 12, n),                      # symmetric
        "failures": rng.integers(0, 5, n).astype(float),   # integer with 5 values
        "smoker": (rng.random(n) < 0.3).astype(float),
        "drug": rng.choice(["a", "b", "c"], n),
    })


VARIABLES = {"crp": {"type": "numeric"}, "age": {"type": "numeric"},
             "failures": {"type": "integer"}, "smoker": {"type": "binary"},
             "drug": {"type": "categorical", "levels": ["a", "b", "c"]}}


# ---------------------------------------------------------------------------
# The design: transforms, knots, dummies, interactions
# ---------------------------------------------------------------------------


def test_knots_follow_harrells_rule_of_sample_size():
    assert [knots_for_sample_size(n) for n in (10, 29, 30, 99, 100, 10_000)] == [3, 3, 4, 4, 5, 5]
    assert knots_for_sample_size(500, max_knots=4) == 4
    for n, k in ((25, 3), (60, 4), (300, 5)):
        plan = {e["predictor"]: e for e in FlexibleBasis(VARIABLES).fit(_frame(n)).plan_}
        assert len(plan["age"]["knots"]) == k


def test_skewed_positive_predictor_is_logged_and_the_decision_recorded():
    X = _frame(300)
    table = FlexibleBasis(VARIABLES).fit(X).decisions().set_index("predictor")
    assert table.loc["crp", "transform"] == "log"
    assert table.loc["crp", "transform_source"].startswith("automatic: right-skewed")
    assert table.loc["age", "transform"] == "none"
    # the codebook decides when it says anything, "none" included
    declared = {**VARIABLES, "crp": {"type": "numeric", "transform": "none"}}
    assert FlexibleBasis(declared).fit(X).decisions().set_index("predictor").loc[
        "crp", ["transform", "transform_source"]].tolist() == ["none", "codebook"]
    # a skewed variable with zeros or negatives is not logged
    shifted = X.assign(crp=X["crp"] - X["crp"].median())
    assert FlexibleBasis(VARIABLES).fit(shifted).decisions().set_index("predictor").loc[
        "crp", "transform"] == "none"


def test_spline_columns_are_harrells_basis_at_training_quantiles_then_scaled():
    X = _frame(300)
    basis = FlexibleBasis(VARIABLES).fit(X)
    names = basis.get_feature_names_out().tolist()
    assert names[:4] == ["crp", "crp'", "crp''", "crp'''"]
    knots = np.quantile(np.log(X["crp"]), harrell_knot_quantiles(5))
    expected = rcs_basis(np.log(X["crp"]), knots)
    expected = (expected - expected.mean(axis=0)) / expected.std(axis=0)
    got = basis.transform(X)[["crp", "crp'", "crp''", "crp'''"]].to_numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)
    # an integer with 5 values stays linear; a binary is one column; dummies drop level 1
    assert "failures" in names and "failures'" not in names
    assert {"smoker", "drug[b]", "drug[c]"} <= set(names) and "drug[a]" not in names
    decisions = basis.decisions().set_index("predictor")
    assert decisions.loc["failures", "knots"] == 0 and decisions.loc["crp", "columns"] == 4
    # dummies of a categorical keep their 0/1 scale (centred only); continuous and binary
    # columns are standardised (rms::lrm scales a 0/1 numeric column by its SD)
    design = basis.transform(X)
    smoker = X["smoker"].to_numpy(float)
    assert design["smoker"].max() - design["smoker"].min() == pytest.approx(1 / smoker.std())
    assert design["smoker"].std(ddof=0) == pytest.approx(1.0)
    # the same column scikit-learn's StandardScaler makes of the 0/1 values
    from sklearn.preprocessing import StandardScaler
    peer = StandardScaler().fit_transform(smoker[:, None])[:, 0]
    np.testing.assert_allclose(design["smoker"].to_numpy(), peer, rtol=1e-12, atol=1e-12)
    assert design["drug[b]"].max() - design["drug[b]"].min() == pytest.approx(1.0)
    assert design["drug[b]"].std(ddof=0) < 0.5
    assert design["age"].std(ddof=0) == pytest.approx(1.0)


def test_new_rows_use_training_knots_fills_and_scales():
    train, new = _frame(200, seed=1), _frame(50, seed=2)
    basis = FlexibleBasis(VARIABLES).fit(train)
    alone = basis.transform(new.iloc[:1])
    together = basis.transform(new)
    np.testing.assert_allclose(alone.to_numpy(), together.iloc[:1].to_numpy())
    # missing values take the training median (after the log) / most frequent level;
    # an unseen level codes as the reference
    gaps = new.iloc[:2].copy()
    gaps.loc[gaps.index[0], "crp"] = np.nan
    gaps.loc[gaps.index[0], "drug"] = np.nan
    gaps.loc[gaps.index[1], "drug"] = "z"
    out = basis.transform(gaps)
    median = np.median(np.log(train["crp"]))
    raw_crp = out["crp"].iloc[0] * basis.scale_[0] + basis.mean_[0]
    assert raw_crp == pytest.approx(median)
    mode = train["drug"].value_counts().idxmax()
    col = f"drug[{mode}]" if mode != "a" else None
    names = basis.get_feature_names_out().tolist()
    raw = out.to_numpy() * basis.scale_ + basis.mean_
    dummies = {c: raw[:, names.index(c)] for c in ("drug[b]", "drug[c]")}
    assert [dummies["drug[b]"][1], dummies["drug[c]"][1]] == [0.0, 0.0]  # unseen -> reference
    if col:
        assert dummies[col][0] == 1.0


def test_interaction_is_the_product_of_centred_linear_terms():
    X = _frame(300)
    basis = FlexibleBasis(VARIABLES, interactions=[("age", "drug"), ("crp", "smoker")]).fit(X)
    names = basis.get_feature_names_out().tolist()
    assert names[-3:] == ["age × drug[b]", "age × drug[c]", "crp × smoker"]
    raw = basis.transform(X).to_numpy() * basis.scale_ + basis.mean_
    drug_b = (X["drug"] == "b").to_numpy(float)
    expected = (X["age"] - X["age"].mean()) * (drug_b - drug_b.mean())
    np.testing.assert_allclose(raw[:, names.index("age × drug[b]")], expected, rtol=1e-9)
    lcrp = np.log(X["crp"])  # the linear term after the automatic log
    expected = (lcrp - lcrp.mean()) * (X["smoker"] - X["smoker"].mean())
    np.testing.assert_allclose(raw[:, names.index("crp × smoker")], expected, rtol=1e-9)
    assert complex_terms(names).tolist() == ["'" in n or "×" in n for n in names]
    with pytest.raises(AnalysisError, match="two different predictors"):
        FlexibleBasis(VARIABLES, interactions=[("age", "bmi")]).fit(X)


def test_bad_inputs_are_named():
    with pytest.raises(AnalysisError, match="codebook entries"):
        FlexibleBasis({}).fit(_frame(50))
    with pytest.raises(AnalysisError, match=r"\['age'\] are missing"):
        FlexibleBasis(VARIABLES).fit(_frame(50).drop(columns="age"))
    with pytest.raises(AnalysisError, match="no observed value"):
        FlexibleBasis(VARIABLES).fit(_frame(50).assign(age=np.nan))


# ---------------------------------------------------------------------------
# The penalised fit
# ---------------------------------------------------------------------------


def test_ridge_fit_matches_scikit_learn_at_the_same_penalty():
    # scikit-learn's L2 objective: 0.5 ||w||^2 + C * sum(loss) -> lambda = 1 / C = alpha * n
    X = RNG.normal(size=(300, 4))
    y = (RNG.random(300) < expit(X @ [1.0, -0.5, 0.0, 0.3])).astype(int)
    alpha = 0.01
    ours = RidgeLogisticCV(alphas=[alpha], nonlinear_ratios=[1.0]).fit(X, y)
    peer = LogisticRegression(C=1 / (alpha * 300), tol=1e-12, max_iter=10_000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, peer.coef_, atol=1e-6)
    np.testing.assert_allclose(ours.intercept_, peer.intercept_, atol=1e-6)
    np.testing.assert_allclose(ours.predict_proba(X), peer.predict_proba(X), atol=1e-7)


def test_effective_df_by_an_independent_computation():
    # profile out the unpenalised intercept: edf = sum d_i / (d_i + lambda) over the
    # eigenvalues d_i of the Schur complement of the information
    X = np.column_stack([np.ones(200), RNG.normal(size=(200, 3))])
    p = expit(X @ [0.2, 1.0, -0.5, 0.0])
    lam = 15.0
    got = effective_degrees_of_freedom(X, p, np.array([0.0, lam, lam, lam]))
    info = X.T @ (X * (p * (1 - p))[:, None])
    schur = info[1:, 1:] - np.outer(info[1:, 0], info[0, 1:]) / info[0, 0]
    d = np.linalg.eigvalsh(schur)
    assert got == pytest.approx(float(np.sum(d / (d + lam))), rel=1e-10)
    assert effective_degrees_of_freedom(X, p, np.zeros(4)) == pytest.approx(3.0)


def test_penalty_is_tuned_by_inner_cv_and_reported():
    X = RNG.normal(size=(400, 6))
    y = (RNG.random(400) < expit(1.5 * X[:, 0])).astype(int)
    model = RidgeLogisticCV(random_state=3).fit(pd.DataFrame(X, columns=list("abcdef")), y)
    assert model.cv_log_loss_.shape == (1, 17)  # no nonlinear column: one ratio
    best = np.nanmin(model.cv_log_loss_)
    assert best == pytest.approx(model.cv_log_loss_[0, list(np.logspace(1, -4, 17).round(8)).index(
        round(model.alpha_, 8))])
    assert 0.5 < model.effective_df_ < 6
    noise_only = (RNG.random(400) < 0.4).astype(int)
    null = RidgeLogisticCV(random_state=3).fit(X, noise_only)
    assert null.effective_df_ < 1.5  # pure noise: shrunk to (nearly) intercept-only
    again = RidgeLogisticCV(random_state=3).fit(pd.DataFrame(X, columns=list("abcdef")), y)
    np.testing.assert_array_equal(again.coef_, model.coef_)  # reproducible


@pytest.mark.parametrize("grouped", [False, True])
def test_side_by_side_inner_paths_match_one_path_at_a_time(monkeypatch, grouped):
    """The stacked Newton fits of the inner CV (all folds and ratios at once) reproduce the
    one-path-at-a-time fits: same losses to rounding, same choice, the same final model."""
    import analysis.models.flexible as flexible

    X = flexible.FlexibleBasis(VARIABLES).fit_transform(_frame(240, seed=5))
    assert complex_terms(list(X.columns)).any()  # several ratios are tuned
    rng = np.random.default_rng(8)
    y = (rng.random(240) < expit(0.8 * X.iloc[:, 0] - 0.5 * X.iloc[:, 1] ** 2)).astype(int)
    groups = rng.integers(0, 120, 240) if grouped else None
    stacked = RidgeLogisticCV(random_state=2).fit(X, y, groups=groups)
    monkeypatch.setattr(flexible, "BATCH_ELEMENTS", 0)  # forces one path at a time
    single = RidgeLogisticCV(random_state=2).fit(X, y, groups=groups)
    np.testing.assert_allclose(stacked.cv_log_loss_, single.cv_log_loss_, rtol=1e-10)
    assert stacked.best_params_ == single.best_params_
    np.testing.assert_array_equal(stacked.coef_, single.coef_)
    np.testing.assert_array_equal(stacked.intercept_, single.intercept_)


# ---------------------------------------------------------------------------
# In the zoo, and against the truth
# ---------------------------------------------------------------------------


def test_zoo_member_learns_the_truth_better_than_plain_logistic():
    X, y, _ = simulate(1000, seed=5)
    X_ext, y_ext, p_ext = simulate(20_000, seed=6)
    zoo = model_zoo(CODEBOOK, PREDICTORS, seed=1, include=["logistic", "flexible_logistic"],
                    interactions=INTERACTIONS)
    flexible = clone(zoo["flexible_logistic"].pipeline).fit(X, y)
    plain = clone(zoo["logistic"].pipeline).fit(X, y)
    oracle = roc_auc_score(y_ext, p_ext)
    ratio_flexible = roc_auc_score(y_ext, flexible.predict_proba(X_ext)[:, 1]) / oracle
    ratio_plain = roc_auc_score(y_ext, plain.predict_proba(X_ext)[:, 1]) / oracle
    assert ratio_flexible >= 0.96 and ratio_flexible > ratio_plain + 0.02
    decisions = flexible.named_steps["preprocess"].decisions().set_index("predictor")
    assert decisions.loc["crp_mg_l", "transform"] == "log"  # found, not declared
    assert decisions.loc["bmi", "knots"] == 5
    assert "age × prior_anti_tnf" in flexible.named_steps["preprocess"].get_feature_names_out()
