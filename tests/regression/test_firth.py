"""Firth's penalised likelihood: golden values of R's logistf, the switch from ML, MI, sparse cells."""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.regression.design import design_matrix
from analysis.regression.fits import FIRTH_METHOD, fit_firth, sparse_cells
from analysis.regression.imputation import mice_fits, rubins_rules
from analysis.regression.tables import multivariable_logistic, univariable_logistic

GOLDEN = Path(__file__).parents[1] / "golden"
TERMS = ["age", "oc", "vic", "vicl", "vis", "dia"]


@pytest.fixture(scope="module")
def sex2():
    return pd.read_csv(GOLDEN / "firth_sex2.csv")


@pytest.fixture(scope="module")
def logistf():
    return pd.read_csv(GOLDEN / "firth_sex2_logistf.csv").set_index("term")


def test_fit_firth_matches_logistf_sex2(sex2, logistf):
    fit = fit_firth(sex2[TERMS], sex2["case"].to_numpy())
    np.testing.assert_allclose(fit.params, logistf.loc[["(intercept)", *TERMS], "coef"], atol=1e-6)
    ref = logistf.loc[TERMS]  # no inference for the intercept (tables report none)
    np.testing.assert_allclose(fit.bse[1:], ref["se"], atol=1e-5)
    np.testing.assert_allclose(fit.ci[1:, 0], ref["lower95"], atol=1e-5)
    np.testing.assert_allclose(fit.ci[1:, 1], ref["upper95"], atol=1e-5)
    np.testing.assert_allclose(fit.pvalues[1:], ref["p"], rtol=1e-4)
    assert np.isnan(fit.ci[0]).all() and np.isnan(fit.pvalues[0])
    ninety = fit_firth(sex2[TERMS], sex2["case"].to_numpy(), alpha=0.1)
    np.testing.assert_allclose(ninety.ci[1:, 0], ref["lower90"], atol=1e-5)
    np.testing.assert_allclose(ninety.ci[1:, 1], ref["upper90"], atol=1e-5)


def test_table_reports_logistf_odds_ratios_with_firth_method(sex2, logistf):
    codebook = {t: {"type": "binary"} for t in ["case", *TERMS]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = multivariable_logistic(sex2, TERMS, "case", codebook, penalty="firth")
    ref = logistf.loc[TERMS]
    np.testing.assert_allclose(table["odds_ratio"], np.exp(ref["coef"]), rtol=1e-5)
    np.testing.assert_allclose(table["ci_lower"], np.exp(ref["lower95"]), rtol=1e-4)
    np.testing.assert_allclose(table["ci_upper"], np.exp(ref["upper95"]), rtol=1e-4)
    np.testing.assert_allclose(table["p_value"], ref["p"], rtol=1e-4)
    assert set(table["method"]) == {
        "Firth penalised likelihood, profile penalised-likelihood CI, complete data (no missing values)"
    }


def test_sex2_switches_to_firth_by_itself_for_its_sparse_diaphragm_cell(sex2):
    # 7 women used a diaphragm, all of them cases: a sparse (and separated) cell
    codebook = {t: {"type": "binary"} for t in ["case", *TERMS]}
    assert sparse_cells(sex2[["dia"]], sex2["case"]) == ["dia=1: 7 events, 0 non-events"]
    with pytest.warns(UserWarning, match=r"Firth's penalised likelihood .* sparse cells \(dia=1"):
        table = multivariable_logistic(sex2, TERMS, "case", codebook)
    assert table["method"].iloc[0].startswith(FIRTH_METHOD)


def _separated_data():
    rng = np.random.default_rng(11)
    n = 120
    x = rng.normal(size=n)
    z = rng.integers(0, 2, n)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-x))).astype(int)
    y[z == 1] = 1  # quasi-complete separation: every z = 1 has the event
    return pd.DataFrame({"x": x, "z": z, "y": y})


def test_separated_data_give_finite_firth_odds_ratios():
    df = _separated_data()
    codebook = {"x": {"type": "numeric"}, "z": {"type": "binary"}, "y": {"type": "binary"}}
    with pytest.warns(UserWarning, match=r"complete or quasi-complete separation \(z\)"):
        table = multivariable_logistic(df, ["x", "z"], "y", codebook)
    values = table[["odds_ratio", "ci_lower", "ci_upper", "p_value"]].to_numpy()
    assert np.isfinite(values).all() and (values[:, :3] < 1e6).all()
    assert table.set_index("term")["separation"].to_dict() == {"x": False, "z": True}
    z = table.set_index("term").loc["z"]
    assert z["odds_ratio"] > 10 and z["ci_lower"] > 1  # large, finite, and clearly > 1
    assert set(table["method"]) == {f"{FIRTH_METHOD}, complete data (no missing values)"}


def test_non_separated_data_keep_the_ml_fit_unchanged():
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"x": rng.normal(size=300), "g": rng.choice(["a", "b", "c"], 300)})
    df["y"] = (rng.uniform(size=300) < 1 / (1 + np.exp(-df["x"]))).astype(int)
    codebook = {"x": {"type": "numeric"}, "y": {"type": "binary"},
                "g": {"type": "categorical", "levels": ["a", "b", "c"]}}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no Firth switch, no warning at all
        auto = multivariable_logistic(df, ["x", "g"], "y", codebook)
        uni = univariable_logistic(df, ["x", "g"], "y", codebook)
    ml = multivariable_logistic(df, ["x", "g"], "y", codebook, penalty="none")
    pd.testing.assert_frame_equal(auto, ml)
    assert set(auto["method"]) == {"logistic ML, Wald CI, complete data (no missing values)"}
    assert set(uni["method"]) == {"logistic ML, Wald CI, complete cases (univariable)"}


def test_low_events_per_parameter_switches_the_multivariable_model_only():
    rng = np.random.default_rng(5)
    df = pd.DataFrame({f"x{i}": rng.normal(size=80) for i in range(5)})
    df["y"] = (rng.uniform(size=80) < 0.35).astype(int)
    codebook = {**{c: {"type": "numeric"} for c in df.columns[:5]}, "y": {"type": "binary"}}
    events = min(df["y"].sum(), 80 - df["y"].sum())
    assert events / 5 < 10
    with pytest.warns(UserWarning, match="events per parameter"):
        table = multivariable_logistic(df, list(df.columns[:5]), "y", codebook)
    assert table["method"].iloc[0].startswith(FIRTH_METHOD)
    uni = univariable_logistic(df, list(df.columns[:5]), "y", codebook)
    assert set(uni["method"]) == {"logistic ML, Wald CI, complete cases (univariable)"}


def test_firth_inside_mice_is_pooled_by_rubins_rules():
    amputed = pd.read_csv(GOLDEN / "mi_birthwt_amputed.csv")
    predictors = ["age", "lwt", "race", "smoke", "ptd", "ht", "ui", "ftv"]
    codebook = {
        "low": {"type": "binary"}, "age": {"type": "numeric"}, "lwt": {"type": "numeric"},
        "race": {"type": "categorical", "levels": ["white", "black", "other"]},
        "smoke": {"type": "binary"}, "ptd": {"type": "binary"}, "ht": {"type": "binary"},
        "ui": {"type": "binary"}, "ftv": {"type": "integer"},
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = multivariable_logistic(amputed, predictors, "low", codebook, m=3, seed=2)
    assert any("fitted by Firth's penalised likelihood" in str(w.message) for w in caught)
    assert set(table["method"]) == {
        "Firth penalised likelihood, Wald CI, MICE m=3 pooled by Rubin's rules"}
    # by hand: the same imputations, Firth fits, Rubin's rules
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fits = mice_fits(amputed, predictors, "low", codebook, m=3, seed=2)
    est, var = [], []
    for imp in fits.imputations:
        X = design_matrix(imp, predictors, codebook, drop_constant=False)[fits.terms[1:]]
        f = fit_firth(X, imp["low"].to_numpy(), inference=False)
        est.append(f.params)
        var.append(f.bse**2)
    pooled = rubins_rules(np.vstack(est), np.vstack(var), df_complete=fits.df_complete)
    np.testing.assert_allclose(table["log_odds"], pooled["estimate"].to_numpy()[1:], rtol=1e-10)
    np.testing.assert_allclose(table["se"], pooled["se"].to_numpy()[1:], rtol=1e-10)


def test_sparse_cells_of_a_categorical_predictor_include_the_reference_level():
    X = pd.DataFrame({"g[b]": [0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0],
                      "g[c]": [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]})
    X.attrs["term_variable"] = {"g[b]": "g", "g[c]": "g"}
    y = np.array([1, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1])
    assert sparse_cells(X, y, min_count=3) == [
        "g[c]: 2 events, 0 non-events", "g (reference level): 1 events, 1 non-events"]
    assert sparse_cells(pd.DataFrame({"x": np.linspace(0, 1, 14)}), y) == []


def test_sparse_cell_in_real_data_gets_a_finite_firth_estimate():
    amputed = pd.read_csv(GOLDEN / "mi_birthwt_amputed.csv")
    codebook = {"low": {"type": "binary"}, "lwt": {"type": "numeric"},
                "smoke": {"type": "binary"}, "ht": {"type": "binary"}}
    with pytest.warns(UserWarning, match=r"sparse cells \(ht=1: 1 events, 4 non-events\)"):
        table = multivariable_logistic(amputed, ["lwt", "smoke", "ht"], "low", codebook,
                                       missing="complete")
    ht = table.set_index("term").loc["ht"]
    assert 0 < ht["ci_lower"] < ht["odds_ratio"] < ht["ci_upper"] < 1e3
