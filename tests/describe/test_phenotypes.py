"""Phenotypes of a difficult-to-treat RA cohort: Gaussian-mixture clusters of mixed data.

Simulated cohort: 200 patients, 3 planted phenotypes (inflammatory / low-activity /
intermediate) in numeric, integer, log-transformed, binary and categorical variables,
with some missing values; and a pure-noise cohort with the same variables.
"""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from scipy import stats  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402
from statsmodels.stats.proportion import proportion_confint  # noqa: E402

from analysis.describe.phenotypes import (  # noqa: E402
    OUTCOME_COLUMNS,
    PROFILE_COLUMNS,
    SELECTION_COLUMNS,
    STABILITY_COLUMNS,
    TRUTH_COLUMNS,
    VARIABLE_COLUMNS,
    PhenotypeModel,
    cluster_profiles,
    cluster_stability,
    fit_phenotypes,
    outcome_by_cluster,
    phenotype_matrix,
    phenotype_variables,
    select_clusters,
    truth_agreement,
)
from analysis.errors import AnalysisError  # noqa: E402
from analysis.plots.phenotypes import (  # noqa: E402
    plot_cluster_profiles,
    plot_cluster_selection,
    profile_heatmap_values,
)

CODEBOOK = {
    "das28": {"type": "numeric"},
    "crp": {"type": "numeric", "transform": "log"},
    "haq": {"type": "numeric"},
    "swollen": {"type": "integer"},
    "age": {"type": "numeric"},
    "acpa": {"type": "binary"},
    "erosions": {"type": "binary"},
    "prior_b": {"type": "categorical", "levels": ["1", "2", "3+"]},
    "acr50": {"type": "binary"},
    "eular_good": {"type": "binary"},
}
VARS = ["das28", "crp", "haq", "swollen", "age", "acpa", "erosions", "prior_b"]
N_BOOT = 25


def simulate(seed=0, n=200, noise=False):
    """Three phenotypes (probabilities 0.45/0.33/0.22), or one population when ``noise``."""
    rng = np.random.default_rng(seed)
    truth = np.zeros(n, dtype=int) if noise else rng.choice(3, size=n, p=[0.45, 0.33, 0.22])
    prior_p = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1], [0.3, 0.4, 0.3]])
    df = pd.DataFrame({
        "das28": np.array([5.8, 3.6, 4.6])[truth] + rng.normal(0, 0.5, n),
        "crp": np.exp(np.array([3.0, 0.8, 1.5])[truth] + rng.normal(0, 0.5, n)),
        "haq": np.array([1.8, 0.6, 1.2])[truth] + rng.normal(0, 0.35, n),
        "swollen": rng.poisson(np.array([10, 2, 4])[truth]),
        "age": rng.normal(58, 11, n),
        "acpa": rng.binomial(1, np.array([0.85, 0.2, 0.6])[truth]).astype(float),
        "erosions": rng.binomial(1, np.array([0.75, 0.2, 0.5])[truth]),
        "prior_b": [rng.choice(["1", "2", "3+"], p=prior_p[t]) for t in truth],
        "acr50": rng.binomial(1, np.array([0.2, 0.5, 0.35])[truth]),
        "eular_good": rng.binomial(1, np.array([0.3, 0.6, 0.4])[truth]),
    })
    df.loc[rng.choice(n, 8, replace=False), "crp"] = np.nan
    df.loc[rng.choice(n, 5, replace=False), "acpa"] = np.nan
    return df, truth


@pytest.fixture(scope="module")
def cohort():
    return simulate(0)


@pytest.fixture(scope="module")
def selection(cohort):
    return select_clusters(cohort[0], VARS, CODEBOOK, seed=0)


@pytest.fixture(scope="module")
def model(cohort):
    return fit_phenotypes(cohort[0], VARS, CODEBOOK, k=3, seed=0)


@pytest.fixture(scope="module")
def stability(cohort):
    return cluster_stability(cohort[0], VARS, CODEBOOK, k=3, n_boot=N_BOOT, seed=0, n_init=3)


# --------------------------------------------------------------------------- matrix
def test_matrix_standardises_each_type(cohort):
    df = cohort[0]
    X, names = phenotype_matrix(df, VARS, CODEBOOK)
    assert names == [*VARS[:7], "prior_b[1]", "prior_b[2]", "prior_b[3+]"]
    assert X.shape == (200, 10) and np.isfinite(X).all()
    np.testing.assert_allclose(X.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(X[:, :7].var(axis=0), 1)  # numeric and binary: unit variance
    assert X[:, 7:].var(axis=0).sum() == pytest.approx(2.0)  # categorical: L - 1
    # crp: log1p, median imputation, z-score
    x = np.log1p(df["crp"].to_numpy())
    x[np.isnan(x)] = np.nanmedian(x)
    np.testing.assert_allclose(X[:, 1], (x - x.mean()) / x.std())
    # acpa: the mode imputes the missing values; two distinct values remain
    assert len(np.unique(X[:, 5])) == 2


def test_matrix_rejects_bad_input(cohort):
    df = cohort[0]
    with pytest.raises(AnalysisError, match="unknown"):
        phenotype_matrix(df, ["das28", "unknown"], CODEBOOK)
    with pytest.raises(AnalysisError, match="codebook"):
        phenotype_matrix(df.assign(extra=1.0), ["extra"], CODEBOOK)
    with pytest.raises(AnalysisError, match="0/1"):
        phenotype_matrix(df.assign(acpa=2), ["acpa"], CODEBOOK)
    with pytest.raises(AnalysisError, match="levels"):
        phenotype_matrix(df.assign(prior_b="4"), ["prior_b"], CODEBOOK)
    with pytest.raises(AnalysisError, match="log"):
        phenotype_matrix(df.assign(crp=-2.0), ["crp"], CODEBOOK)


# --------------------------------------------------------------------------- selection and fit
def test_bic_picks_the_planted_three(selection):
    assert selection.columns.tolist() == list(SELECTION_COLUMNS)
    assert selection.columns.tolist()[:3] == ["k", "bic", "silhouette"]  # the public interface
    assert selection["k"].tolist() == [1, 2, 3, 4, 5, 6]
    assert selection.attrs["k"] == 3
    assert selection.attrs["rule"] == "minimum BIC"
    assert selection["chosen"].tolist() == [False, False, True, False, False, False]
    assert selection["converged"].all()
    # the BIC curve is -2 logL + parameters x log n, the parameters of the mixed-type model:
    # (k - 1) weights, 2 x 5 Gaussian parameters, 1 + 1 + 2 category probabilities per class
    np.testing.assert_array_equal(selection["n_parameters"], [15 * k - 1 for k in range(1, 7)])
    np.testing.assert_allclose(
        selection["bic"], -2 * selection["log_likelihood"] + selection["n_parameters"] * np.log(200))
    assert np.isnan(selection["entropy"].iloc[0]) and selection["entropy"].iloc[1:].between(0, 1).all()
    assert np.isnan(selection["silhouette"].iloc[0])
    assert selection["silhouette"].iloc[1:].between(-1, 1).all()


def test_labels_recover_the_truth(cohort, model):
    assert adjusted_rand_score(cohort[1], model.labels_) >= 0.8


def test_labels_are_numbered_by_size_and_reproducible(cohort, model):
    sizes = np.bincount(model.labels_)[1:]
    assert sorted(set(model.labels_)) == [1, 2, 3]
    assert list(sizes) == sorted(sizes, reverse=True)
    again = fit_phenotypes(cohort[0], VARS, CODEBOOK, k=3, seed=0)
    np.testing.assert_array_equal(again.labels_, model.labels_)
    np.testing.assert_array_equal(model.predict(cohort[0]), model.labels_)
    proba = model.predict_proba(cohort[0])
    np.testing.assert_array_equal(proba.argmax(axis=1) + 1, model.labels_)
    # a shuffled copy of the data gets the same clusters, numbered the same way
    order = np.random.default_rng(5).permutation(len(cohort[0]))
    shuffled = fit_phenotypes(cohort[0].iloc[order], VARS, CODEBOOK, k=3, seed=0)
    assert adjusted_rand_score(shuffled.labels_, model.labels_[order]) > 0.95
    assert (shuffled.labels_ == model.labels_[order]).mean() > 0.95


def test_model_predicts_new_patients_with_the_fitted_scaling(cohort, model):
    one = cohort[0].iloc[[0]]
    assert model.predict(one).tolist() == [model.labels_[0]]
    with pytest.raises(AnalysisError, match="missing"):
        model.predict(cohort[0].drop(columns="haq"))
    with pytest.raises(AnalysisError, match="fit"):
        PhenotypeModel(VARS, CODEBOOK, k=2).predict(cohort[0])


def test_k_is_checked(cohort):
    small = cohort[0].head(4)
    with pytest.raises(AnalysisError, match="patients"):
        fit_phenotypes(small, VARS, CODEBOOK, k=5)
    with pytest.raises(AnalysisError, match="patients"):
        select_clusters(small, VARS, CODEBOOK, k_range=range(1, 6))
    with pytest.raises(AnalysisError, match="patients"):
        cluster_stability(small, VARS, CODEBOOK, k=5, n_boot=2)
    with pytest.raises(AnalysisError, match="positive"):
        fit_phenotypes(small, VARS, CODEBOOK, k=0)
    with pytest.raises(AnalysisError, match="unknown"):
        fit_phenotypes(cohort[0], ["unknown"], CODEBOOK, k=2)
    with pytest.raises(AnalysisError, match="unknown"):
        select_clusters(cohort[0], ["unknown"], CODEBOOK)


def test_pure_noise_prefers_one_cluster():
    noise, _ = simulate(0, noise=True)
    assert select_clusters(noise, VARS, CODEBOOK, n_init=3).attrs["k"] == 1


# --------------------------------------------------------------------------- stability
def test_planted_clusters_are_stable(stability):
    assert stability.columns.tolist() == list(STABILITY_COLUMNS)
    assert stability["cluster"].tolist() == [1, 2, 3]
    assert stability["n"].sum() == 200
    assert (stability["mean_jaccard"] >= 0.75).all()
    assert (stability["verdict"] == "stable").all()
    assert (stability["ci_lower"] <= stability["mean_jaccard"]).all()
    assert (stability["mean_jaccard"] <= stability["ci_upper"]).all()
    assert (stability["n_boot"] == N_BOOT).all()


def test_noise_clusters_are_less_stable(stability):
    noise, _ = simulate(0, noise=True)
    table = cluster_stability(noise, VARS, CODEBOOK, k=3, n_boot=N_BOOT, seed=0, n_init=3)
    assert table["mean_jaccard"].mean() < stability["mean_jaccard"].min()
    assert (table["mean_jaccard"] < 0.75).all()
    assert set(table["verdict"]) <= {"pattern", "unstable"}


def test_stability_is_one_for_well_separated_clusters():
    df = pd.DataFrame({"x": np.r_[np.zeros(10), np.full(10, 50.0)] + np.arange(20) * 0.01})
    table = cluster_stability(df, ["x"], {"x": {"type": "numeric"}}, k=2, n_boot=5, n_init=1)
    assert table["mean_jaccard"].tolist() == [1.0, 1.0]
    assert table["dissolved"].tolist() == [0.0, 0.0]


# --------------------------------------------------------------------------- profiles
def test_profiles_by_hand():
    df = pd.DataFrame({
        "age": [40.0, 50.0, np.nan, 60.0, 70.0, 80.0],
        "rf": [1, 0, 1, 1, None, 1],
        "line": ["1", "2", "2", "3+", "3+", None],
    })
    book = {"age": {"type": "numeric"}, "rf": {"type": "binary"},
            "line": {"type": "categorical", "levels": ["1", "2", "3+"]}}
    p = cluster_profiles(df, [1, 1, 1, 2, 2, 2], ["age", "rf", "line"], book)
    assert p.columns.tolist() == list(PROFILE_COLUMNS)
    age = p[p.variable == "age"].set_index("cluster")
    assert age["level"].tolist() == ["", ""]
    assert age["n"].tolist() == [2, 3]
    assert age["mean"].tolist() == [45.0, 70.0]
    assert age.loc[1, "sd"] == pytest.approx(np.sqrt(50))
    assert age.loc[2, ["median", "q1", "q3"]].tolist() == [70.0, 65.0, 75.0]
    assert age["count"].isna().all()
    assert age.loc[1, "summary"] == "45.0 (7.1); 45.0 [42.5, 47.5]"
    rf = p[p.variable == "rf"].set_index("cluster")
    assert rf["level"].tolist() == ["", ""]
    assert rf["n"].tolist() == [3, 2]
    assert rf["count"].tolist() == [2.0, 2.0]
    assert rf["percent"].tolist() == pytest.approx([200 / 3, 100.0])
    assert rf.loc[1, "summary"] == "2 (66.7%)"
    line = p[p.variable == "line"]
    assert line["level"].tolist() == ["1", "1", "2", "2", "3+", "3+"]
    assert line["cluster"].tolist() == [1, 2, 1, 2, 1, 2]
    assert line["n"].tolist() == [3, 2, 3, 2, 3, 2]
    assert line["count"].tolist() == [1.0, 0.0, 2.0, 0.0, 0.0, 2.0]
    assert line["mean"].isna().all()


def test_profiles_check_labels(cohort, model):
    with pytest.raises(AnalysisError, match="one label per row"):
        cluster_profiles(cohort[0], model.labels_[:-1], VARS, CODEBOOK)
    p = cluster_profiles(cohort[0], model.labels_, VARS, CODEBOOK)
    assert set(p["cluster"]) == {1, 2, 3}
    assert len(p) == 3 * (7 + 3)


# --------------------------------------------------------------------------- outcomes
def test_outcome_rates_with_exact_intervals(cohort, model):
    df = cohort[0].copy()
    df.loc[:9, "acr50"] = np.nan
    t = outcome_by_cluster(df, model.labels_, ["acr50", "eular_good"], alpha=0.1)
    assert t.columns.tolist() == list(OUTCOME_COLUMNS)
    assert t["outcome"].tolist() == ["acr50"] * 3 + ["eular_good"] * 3
    assert t["cluster"].tolist() == [1, 2, 3, 1, 2, 3]
    assert t.loc[t.outcome == "acr50", "n"].sum() == 190
    lo, hi = proportion_confint(t["events"], t["n"], alpha=0.1, method="beta")
    np.testing.assert_allclose(t["ci_lower"], lo, atol=1e-10)
    np.testing.assert_allclose(t["ci_upper"], hi, atol=1e-10)
    np.testing.assert_allclose(t["proportion"], t["events"] / t["n"])
    for _, block in t.groupby("outcome"):
        table = np.column_stack([block["events"], block["n"] - block["events"]])
        expected = stats.chi2_contingency(table, correction=False).pvalue
        assert block["p_value"].tolist() == pytest.approx([expected] * 3)
        assert block["method"].iloc[0].startswith("Clopper-Pearson; chi-square")


def test_outcome_checks_input(cohort, model):
    with pytest.raises(AnalysisError, match="not a column"):
        outcome_by_cluster(cohort[0], model.labels_, ["unknown"])
    with pytest.raises(AnalysisError, match="0/1"):
        outcome_by_cluster(cohort[0], model.labels_, ["das28"])
    with pytest.raises(AnalysisError, match="one label per row"):
        outcome_by_cluster(cohort[0], [1, 2], ["acr50"])
    one = outcome_by_cluster(cohort[0], np.ones(200, dtype=int), ["acr50"])
    assert np.isnan(one["p_value"]).all() and "not tested" in one["method"].iloc[0]


# --------------------------------------------------------------------------- plots
def test_plots_return_figures(cohort, model, selection):
    fig = plot_cluster_selection(selection)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert any(line.get_xdata()[0] == 3 for line in fig.axes[0].get_lines()[1:])
    profiles = cluster_profiles(cohort[0], model.labels_, VARS, CODEBOOK)
    fig = plot_cluster_profiles(profiles)
    assert isinstance(fig, Figure)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels[:2] == ["das28", "crp"] and "prior_b: 3+" in labels
    z, text = profile_heatmap_values(profiles)
    assert z.shape == (10, 3) and text.shape == (10, 3)
    # the cohort mean recovered from the cluster rows: weighted z-scores sum to zero
    n = profiles[profiles.variable == "das28"]["n"].to_numpy()
    assert np.dot(n, z.loc["das28"].to_numpy()) == pytest.approx(0, abs=1e-9)
    with pytest.raises(AnalysisError):
        plot_cluster_selection(pd.DataFrame({"k": [1]}))


# --------------------------------------------------------------------------- transforms
def test_variables_table_records_margins_transforms_and_the_rule(cohort):
    t = phenotype_variables(cohort[0], VARS, CODEBOOK)
    assert t.columns.tolist() == list(VARIABLE_COLUMNS)
    assert t["variable"].tolist() == VARS
    rows = t.set_index("variable")
    assert rows.loc["crp", "transform"] == "log1p" and rows.loc["crp", "rule"].startswith("declared")
    assert rows.loc["crp", "n_missing"] == 8 and rows.loc["acpa", "n_missing"] == 5
    # undeclared: the skewness rule decides (das28, haq and age are symmetric)
    for name in ("das28", "haq", "age"):
        assert rows.loc[name, "transform"] == "none"
        assert abs(rows.loc[name, "skewness"]) <= 0.5
    assert rows.loc["swollen", "skewness"] == pytest.approx(stats.skew(cohort[0]["swollen"]))
    assert (rows.loc["swollen", "transform"] == "log1p") == (
        rows.loc["swollen", "skewness"] > 0.5
        and abs(stats.skew(np.log1p(cohort[0]["swollen"]))) < rows.loc["swollen", "skewness"])
    assert rows.loc["acpa", "margin"] == "categorical (2 levels)"
    assert rows.loc["prior_b", "margin"] == "categorical (3 levels)"
    assert rows.loc["prior_b", "transform"] == ""
    # Sheppard's floor of an integer: (f(min + 1) - f(min))^2 / 12 on the standardised scale
    x = cohort[0]["swollen"].to_numpy(float)
    f = np.log1p if rows.loc["swollen", "transform"] == "log1p" else (lambda v: v)
    floor = (f(x.min() + 1) - f(x.min())) ** 2 / 12 / f(x).var()
    assert rows.loc["swollen", "variance_floor"] == pytest.approx(max(0.01, floor))
    assert rows.loc["das28", "variance_floor"] == 0.01


def test_transform_rule_on_known_shapes():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"lab": rng.lognormal(2, 1, 300), "neg": rng.normal(0, 1, 300) ** 3,
                       "sym": rng.normal(50, 5, 300), "root": rng.lognormal(2, 1, 300)})
    book = {"lab": {"type": "numeric"}, "neg": {"type": "numeric"}, "sym": {"type": "numeric"},
            "root": {"type": "numeric", "transform": "sqrt"}}
    t = phenotype_variables(df, list(book), book).set_index("variable")
    assert t["transform"].tolist() == ["log1p", "none", "none", "sqrt"]
    assert t.loc["neg", "rule"] == "has negative values"
    assert t.loc["sym", "rule"] == "skewness <= 0.5"
    assert t.loc["lab", "skewness_transformed"] == pytest.approx(stats.skew(np.log1p(df["lab"])))
    with pytest.raises(AnalysisError, match="sqrt"):
        phenotype_variables(df.assign(root=-1.0), ["root", "lab"], book)


def test_missing_values_need_no_imputation_in_the_model(cohort, model):
    row = cohort[0].iloc[[0]].copy()
    row.loc[:, ["crp", "acpa", "prior_b"]] = np.nan
    proba = model.predict_proba(row)
    assert np.isfinite(proba).all() and proba.sum() == pytest.approx(1.0)


# --------------------------------------------------------------------------- truth
def test_truth_agreement_by_hand():
    t = truth_agreement([1, 1, 2, 2], ["a", "a", "b", "b"])
    assert t.columns.tolist() == list(TRUTH_COLUMNS)
    assert t.iloc[0][["n", "clusters", "true_groups", "adjusted_rand_index"]].tolist() == [4, 2, 2, 1.0]
    t = truth_agreement([1, 2, 1, 2, 3], ["a", "a", "b", "b", None])  # unknown truth left out
    assert t["n"].item() == 4 and t["adjusted_rand_index"].item() == pytest.approx(-0.5)
    with pytest.raises(AnalysisError, match="one value per label"):
        truth_agreement([1, 2], ["a"])


@pytest.fixture(scope="module")
def ra_demo(tmp_path_factory):
    """The shipped ra-refractory demo cohort, prepared, with its planted phenotypes."""
    from conftest import study_from_cohort

    from analysis.study.prepare import prepare_cohort
    from analysis.synthetic import ra_refractory as gen

    raw = gen.simulate()
    study = study_from_cohort(tmp_path_factory.mktemp("ra"), gen.NAME, raw)
    cohort = prepare_cohort(study).cohort
    truth = cohort[[study.id]].merge(raw.truth[[study.id, "true_phenotype"]], how="left")
    return study, cohort, truth["true_phenotype"].to_numpy()


def test_ra_demo_cohort_recovers_the_planted_phenotypes(ra_demo):
    """The issue's check: BIC finds the generator's three subtypes, with ARI >= 0.6."""
    study, cohort, truth = ra_demo
    phen = study.phenotypes
    variables, book = list(phen["variables"]), study.codebook(list(phen["variables"]))
    selection = select_clusters(cohort, variables, book,
                                k_range=range(1, phen["max_clusters"] + 1), seed=study.seed)
    assert selection.attrs["k"] == 3
    model = fit_phenotypes(cohort, variables, book, k=3, seed=study.seed)
    agreement = truth_agreement(model.labels_, truth)
    assert agreement["adjusted_rand_index"].item() >= 0.6
    transforms = phenotype_variables(cohort, variables, book).set_index("variable")["transform"]
    assert transforms[["crp_mg_l_m0", "esr_mm_h_m0", "tjc28_m0", "sjc28_m0"]].eq("log1p").all()
    assert transforms[["pain_vas_m0", "haq_di_m0"]].eq("none").all()


def test_ra_demo_likelihood_equals_stepmix(ra_demo):
    """Golden values: StepMix 3.0.0 (``gaussian_diag`` + ``binary`` measurement, n_init=10,
    random_state=0) reaches the same maximum log-likelihood on the same standardised data
    (its variance regularisation 1e-6; no floor binds at these optima)."""
    study, cohort, _ = ra_demo
    variables = list(study.phenotypes["variables"])
    book = study.codebook(variables)
    for k, stepmix in ((3, -2098.234584119624), (4, -2048.2833294326783)):
        model = fit_phenotypes(cohort, variables, book, k=k, seed=0)
        assert model.log_likelihood_ == pytest.approx(stepmix, abs=1e-4)
