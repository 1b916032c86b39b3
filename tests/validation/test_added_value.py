"""Tests of analysis.validation.added_value: paired DeLong by brute force, simulated added value."""

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from scipy import stats

from analysis.errors import AnalysisError
from analysis.plots.added_value import plot_added_value
from analysis.validation.added_value import AddedValue, added_value, paired_auc_difference

CODEBOOK = {
    "age": {"type": "numeric"},
    "crp": {"type": "numeric", "transform": "log"},
    "sex": {"type": "categorical", "levels": ["female", "male"]},
    "ius_change": {"type": "numeric"},
    "noise": {"type": "numeric"},
}
BASELINE = ["age", "crp", "sex"]


def _brute_force_delong(y, p1, p2, alpha=0.05):
    """DeLong et al. (1988) with the O(m n) kernel psi written out."""
    x1, z1 = p1[y == 1], p1[y == 0]
    x2, z2 = p2[y == 1], p2[y == 0]
    m, n = x1.size, z1.size

    def psi(x, z):
        return (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])

    k1, k2 = psi(x1, z1), psi(x2, z2)
    v10 = np.vstack([k1.mean(axis=1), k2.mean(axis=1)])  # structural components, events
    v01 = np.vstack([k1.mean(axis=0), k2.mean(axis=0)])  # structural components, non-events
    auc = np.array([k1.mean(), k2.mean()])
    s = np.cov(v10) / m + np.cov(v01) / n
    diff = auc[0] - auc[1]
    se = np.sqrt(s[0, 0] + s[1, 1] - 2 * s[0, 1])
    z = stats.norm.ppf(1 - alpha / 2)
    return diff, diff - z * se, diff + z * se, 2 * stats.norm.sf(abs(diff / se))


@pytest.mark.parametrize("seed", [0, 1])
def test_paired_auc_difference_equals_brute_force_delong(seed):
    rng = np.random.default_rng(seed)
    n = 80
    y = rng.binomial(1, 0.35, n)
    p1 = np.round(rng.uniform(size=n) * 0.5 + 0.4 * y, 2)  # ties within and across classes
    p2 = np.round(0.7 * p1 + 0.3 * rng.uniform(size=n), 2)
    ours = paired_auc_difference(y, p1, p2, alpha=0.1)
    ref = _brute_force_delong(y, p1, p2, alpha=0.1)
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12)
    assert all(isinstance(v, float) for v in ours)


def _cohort(seed=0, n=120, effect=1.5):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "age": rng.normal(40, 12, n),
        "crp": np.exp(rng.normal(1.5, 1.0, n)),
        "sex": rng.choice(["female", "male"], n),
        "ius_change": rng.normal(0, 1, n),
        "noise": rng.normal(0, 1, n),
    })
    lp = -0.4 + 0.02 * (X["age"] - 40) + 0.4 * (np.log(X["crp"]) - 1.5) + effect * X["ius_change"]
    y = rng.binomial(1, 1 / (1 + np.exp(-lp)))
    X.loc[rng.choice(n, 6, replace=False), "ius_change"] = np.nan  # week-4 scan not done
    X.loc[rng.choice(n, 4, replace=False), "crp"] = np.nan
    return X, y


@pytest.fixture(scope="module")
def cohort():
    return _cohort()


@pytest.fixture(scope="module")
def signal(cohort):
    X, y = cohort
    return added_value(X, y, baseline=BASELINE, extended=[*BASELINE, "ius_change"],
                       codebook=CODEBOOK, seed=3)


def test_real_signal_gives_a_positive_difference_and_a_small_lr_p(signal, cohort):
    X, y = cohort
    assert isinstance(signal, AddedValue)
    auc = signal.auc
    assert list(auc.columns) == ["model", "predictors", "auc", "ci_lower", "ci_upper"]
    assert auc["model"].tolist() == ["baseline", "extended", "difference"]
    diff = auc.set_index("model").loc["difference"]
    assert diff["ci_lower"] > 0
    rows = auc.set_index("model")
    assert diff["auc"] == pytest.approx(rows.loc["extended", "auc"] - rows.loc["baseline", "auc"])
    assert (auc["ci_lower"] <= auc["auc"]).all() and (auc["auc"] <= auc["ci_upper"]).all()
    lr = signal.lr_test
    assert set(lr) == {"statistic", "df", "p_value", "n"}
    assert lr["p_value"] < 0.01 and lr["df"] == 1
    assert lr["n"] == int(X[[*BASELINE, "ius_change"]].notna().all(axis=1).sum())
    assert signal.difference_p_value < 0.05
    text = signal.summary()
    assert "ius_change" in text and f"{diff['auc']:.2f}" in text and "likelihood-ratio" in text


def test_net_benefit_table_uses_the_project_function(signal):
    from analysis.evaluation.decision import net_benefit

    nb = signal.net_benefit
    assert list(nb.columns) == ["threshold", "net_benefit_baseline", "net_benefit_extended",
                                "difference"]
    np.testing.assert_allclose(nb["threshold"], [0.1, 0.2, 0.3, 0.4, 0.5])
    pred = signal.predictions
    np.testing.assert_allclose(nb["net_benefit_extended"],
                               net_benefit(pred["y"], pred["extended"], nb["threshold"]))
    np.testing.assert_allclose(nb["difference"],
                               nb["net_benefit_extended"] - nb["net_benefit_baseline"])


def test_lr_statistic_matches_statsmodels_logit_on_complete_cases(signal, cohort):
    import statsmodels.api as sm

    X, y = cohort
    rows = X[[*BASELINE, "ius_change"]].notna().all(axis=1).to_numpy()
    d = X.loc[rows].copy()
    design = pd.DataFrame({"age": d["age"], "crp": np.log(d["crp"]),
                           "male": (d["sex"] == "male").astype(float)})
    base = sm.Logit(y[rows], sm.add_constant(design)).fit(disp=0)
    ext = sm.Logit(y[rows], sm.add_constant(design.assign(ius=d["ius_change"]))).fit(disp=0)
    assert signal.lr_test["statistic"] == pytest.approx(2 * (ext.llf - base.llf), rel=1e-6)


def test_noise_column_gives_an_interval_covering_zero(cohort):
    X, y = cohort
    r = added_value(X, y, baseline=BASELINE, extended=[*BASELINE, "noise"], codebook=CODEBOOK,
                    seed=3)
    diff = r.auc.set_index("model").loc["difference"]
    assert diff["ci_lower"] < 0 < diff["ci_upper"]
    assert r.lr_test["p_value"] > 0.05


def test_reproducible_with_a_seed(cohort, signal):
    X, y = cohort
    again = added_value(X, y, baseline=BASELINE, extended=[*BASELINE, "ius_change"],
                        codebook=CODEBOOK, seed=3)
    pd.testing.assert_frame_equal(signal.auc, again.auc)
    pd.testing.assert_frame_equal(signal.net_benefit, again.net_benefit)
    assert signal.lr_test == again.lr_test
    other = added_value(X, y, baseline=BASELINE, extended=[*BASELINE, "ius_change"],
                        codebook=CODEBOOK, seed=4, n_repeats=2)
    assert not np.allclose(other.auc["auc"], signal.auc["auc"])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"baseline": ["age", "crp"], "extended": ["age", "ius_change"]},  # lacks a baseline column
        {"baseline": ["age"], "extended": ["age"]},  # adds nothing
        {"baseline": ["age"], "extended": ["age", "week4_bowel_wall"]},  # not in X
        {"baseline": ["age"], "extended": ["age", "ius_change"], "n_splits": 1},
        {"baseline": ["age"], "extended": ["age", "ius_change"], "alpha": 0},
        {"baseline": ["age"], "extended": ["age", "ius_change"], "thresholds": [0.0, 0.5]},
    ],
)
def test_bad_input_raises(cohort, kwargs):
    X, y = cohort
    with pytest.raises(AnalysisError):
        added_value(X, y, codebook=CODEBOOK, **kwargs)


def test_bad_outcome_or_codebook_raises(cohort):
    X, y = cohort
    with pytest.raises(AnalysisError):
        added_value(X, y[:-1], baseline=["age"], extended=["age", "noise"], codebook=CODEBOOK)
    with pytest.raises(AnalysisError):
        added_value(X, y, baseline=["age"], extended=["age", "noise"],
                    codebook={"age": {"type": "numeric"}})


def test_plot_added_value_returns_a_figure(signal):
    fig = plot_added_value(signal)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    with pytest.raises(AnalysisError):
        plot_added_value("not a result")
