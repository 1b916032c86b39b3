"""Recompute the published numbers of a study run from its own saved outputs.

Used by the end-to-end test (``tests/test_pipeline.py``) on every study of the smoke run,
and unit-tested on small synthetic tables (``tests/pipeline/test_pipeline_checks.py``).

Every reference value here comes from a library other than ``analysis`` (scikit-learn,
statsmodels, scipy, dcurves, firthmodels) or from numpy/pandas arithmetic; ``analysis`` is
used only to read ``study.yaml`` (and its settings: selection score, reference model, gate
slope range). Each ``check_*`` function raises ``AssertionError`` naming the
number that differs.

Tolerances: the CSV tables are written with ``%.10g`` (10 significant digits), so values
that are exact functions of the data (AUC, Brier, net benefit, Table 1 statistics,
correlations) are compared at ``rel=1e-8``; values from an iterative maximum-likelihood
fit (calibration slope, odds ratios) at ``rel=1e-6``, well above both solvers'
convergence error and far below any real mistake; Wald CIs and p-values at ``rel=1e-4``
(see :func:`check_complete_case_regression`); Firth estimates, profile penalised-likelihood
bounds and penalised likelihood-ratio p-values at ``rel=1e-4`` (the package stops
Newton-Raphson and the profile searches at tolerances of 1e-6, see :data:`FIRTH`).

Model comparison: ``processed/oof_predictions.parquet`` holds every outer repeat's
out-of-fold predictions (columns ``model, repeat, fold, row, y, probability``), so every
score of ``model_comparison.csv`` - computed per repeat and averaged over repeats - is
recomputed exactly, per repeat (:func:`repeat_matrix`), at the tolerances above.  The
decision curve is still drawn from the repeat-averaged probabilities (:func:`oof_mean`).

Ship gate: ``gate.csv`` is recomputed from ``model_comparison.csv`` and ``validation.csv``
by the rules of issue 11 (:func:`check_gate`), and its verdict compared with ``model.json``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score
from statsmodels.nonparametric.smoothers_lowess import lowess

EXACT = 1e-8  #: relative tolerance of values that are exact functions of the data
FITTED = 1e-6  #: relative tolerance of maximum-likelihood estimates
WALD = 1e-4  #: relative tolerance of Wald CIs and p-values (see check_complete_case_regression)
#: relative tolerance of Firth estimates, profile bounds and LR p-values: the package's fit
#: stops at gtol = xtol = 1e-6 (profile searches tol 1e-6); the reference fit here at 1e-8 where
#: it converges (see firth_reference); differences seen: <= 1e-7 (toy, cd-upadacitinib-ius)
FIRTH = 1e-4
FIRTH_PREFIX = "Firth penalised likelihood"  #: how ``method`` names a Firth-fitted table
FIT, NOT_FIT = "fit-for-clinical-use", "not-for-clinical-use"  #: model.json ``status`` values
PROB_CLIP = 1e-6  #: probabilities are clipped to [1e-6, 1 - 1e-6] before logit (documented)
DCA_THRESHOLDS = (0.1, 0.2, 0.3, 0.5)


def _close(actual, expected, rel: float, what: str, abs_tol: float = 1e-12) -> None:
    actual, expected = float(actual), float(expected)
    if np.isnan(expected) and np.isnan(actual):
        return
    if not abs(actual - expected) <= max(rel * abs(expected), abs_tol):
        raise AssertionError(f"{what}: table has {actual!r}, recomputed {expected!r}")


def oof_mean(oof: pd.DataFrame) -> pd.DataFrame:
    """Out-of-fold predictions (long: model, row, repeat, probability) averaged per patient."""
    wide = oof.groupby(["model", "row"])["probability"].mean().unstack("model").sort_index()
    wide.columns.name = None
    return wide


def repeat_matrix(oof: pd.DataFrame, n: int | None = None) -> dict[str, np.ndarray]:
    """Each model's out-of-fold probabilities as an array ``(repeats, patients)``.

    Asserts that every patient (``row`` 0..n-1) is predicted exactly once in every repeat.
    """
    n = int(oof["row"].nunique()) if n is None else int(n)
    out = {}
    for name, block in oof.groupby("model", sort=False):
        counts = block.groupby(["repeat", "row"]).size()
        assert (counts == 1).all(), f"{name}: a patient predicted twice in one repeat"
        wide = block.pivot(index="repeat", columns="row", values="probability").sort_index()
        assert list(wide.columns) == list(range(n)) and not wide.isna().to_numpy().any(), \
            f"{name}: every patient predicted once per repeat"
        out[str(name)] = wide.to_numpy(dtype=float)
    return out


def calibration_slope(y: np.ndarray, p: np.ndarray) -> float:
    """Slope of ``logit P(y=1) = a + b logit(p)`` by statsmodels' GLM."""
    pc = np.clip(p, PROB_CLIP, 1 - PROB_CLIP)
    lp = np.log(pc / (1 - pc))
    try:
        fit = sm.GLM(y, sm.add_constant(lp), family=sm.families.Binomial()).fit(tol=1e-12, maxiter=200)
    except (ValueError, np.linalg.LinAlgError):  # constant p, perfect separation: no slope
        return np.nan
    return float(fit.params[1])


def calibration_errors(y: np.ndarray, p: np.ndarray) -> tuple[float, float, float]:
    """ICI, E50, E90 (Austin & Steyerberg 2019): lowess span 0.75, no robustness
    iterations, delta 1% of the range of ``p`` (R's ``lowess`` default)."""
    smooth = lowess(y.astype(float), p, frac=0.75, it=0, delta=0.01 * float(np.ptp(p)),
                    return_sorted=False)
    d = np.abs(p - smooth)
    return float(np.mean(d)), float(np.median(d)), float(np.quantile(d, 0.9))


def _finite_mean(values) -> float:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else np.nan


def check_model_comparison(comparison: pd.DataFrame, y: np.ndarray, repeats: Mapping[str, np.ndarray], *,
                           score: str = "log_loss", benchmark: str = "intercept_only",
                           exclude=("intercept_only",)) -> list[str]:
    """Every model's scores per outer repeat, averaged, and the selection's outcome.

    ``comparison`` is ``model_comparison.csv``; ``repeats`` maps each model to its
    out-of-fold probabilities ``(repeats, patients)`` (:func:`repeat_matrix`, patients in
    the order of ``y``).  For every model: Brier (scikit-learn), log loss (scikit-learn)
    and AUC (scikit-learn; 0.5 by definition for ``benchmark``) per repeat, averaged; the
    spread of AUC and Brier over the repeats (``<metric>_sd``, ddof 1); ``n_repeats``.
    The calibration slope (statsmodels GLM) and ICI/E50/E90 (lowess) per repeat, averaged,
    of the selected model - or of every non-benchmark model when none is selected.

    Selection: zero or one model is selected; a selected model is not excluded and beats
    ``benchmark`` strictly on the cross-validated ``score`` (``modelling.selection``);
    with none selected, no candidate beats it.  Returns the models checked.
    """
    y = np.asarray(y, dtype=int)
    selected = comparison["selected"].astype(str).str.lower().eq("true")
    assert selected.sum() in (0, 1), f"zero or one model is selected, not {int(selected.sum())}"
    assert sorted(comparison["model"]) == sorted(repeats), "models of table and predictions"
    for name, P in repeats.items():
        assert P.ndim == 2 and P.shape[1] == y.size, f"{name}: one out-of-fold prediction per patient and repeat"
    for _, row in comparison.iterrows():
        name = row["model"]
        P = repeats[name]
        what = f"{name} (mean of {P.shape[0]} repeats)"
        briers = [brier_score_loss(y, p) for p in P]
        _close(row["brier"], np.mean(briers), EXACT, f"{what}: brier")
        if "log_loss" in row.index:
            _close(row["log_loss"], np.mean([log_loss(y, p, labels=[0, 1]) for p in P]), EXACT,
                   f"{what}: log_loss")
        if "n_repeats" in row.index:
            assert int(row["n_repeats"]) == P.shape[0], f"{name}: n_repeats"
        assert int(row["n"]) == y.size and int(row["events"]) == int(y.sum()), f"{name}: n/events"
        if P.shape[0] > 1 and "brier_sd" in row.index:
            _close(row["brier_sd"], np.std(briers, ddof=1), EXACT, f"{what}: brier_sd", abs_tol=1e-10)
        if name == benchmark:
            assert row["auc"] == 0.5, f"{benchmark}: AUC 0.5 by definition"
        else:
            aucs = [roc_auc_score(y, p) for p in P]
            _close(row["auc"], np.mean(aucs), EXACT, f"{what}: auc")
            if P.shape[0] > 1 and "auc_sd" in row.index:
                _close(row["auc_sd"], np.std(aucs, ddof=1), EXACT, f"{what}: auc_sd", abs_tol=1e-10)
            assert row["auc_ci_lower"] <= row["auc"] <= row["auc_ci_upper"], f"{name}: AUC inside its CI"
    # the selection
    null = float(comparison.loc[comparison["model"] == benchmark, score].item())
    beats = comparison[~comparison["model"].isin([benchmark, *exclude])
                       & (comparison[score].astype(float) < null)]["model"].tolist()
    if selected.any():
        chosen = comparison[selected].iloc[0]
        assert chosen["model"] in beats, \
            f"selected {chosen['model']} does not beat {benchmark} on cross-validated {score}"
        calibrated = [chosen["model"]]
    else:
        assert not beats, f"no model selected, yet {beats} beat {benchmark} on cross-validated {score}"
        calibrated = [m for m in comparison["model"] if m != benchmark]
    for name in calibrated:
        row = comparison[comparison["model"] == name].iloc[0]
        P = repeats[name]
        _close(row["calibration_slope"], _finite_mean([calibration_slope(y, p) for p in P]), FITTED,
               f"{name}: calibration_slope (mean of {P.shape[0]} repeats)")
        errors = np.array([calibration_errors(y, p) for p in P])
        for k, column in enumerate(("ici", "e50", "e90")):
            _close(row[column], errors[:, k].mean(), EXACT, f"{name}: {column} (mean of {P.shape[0]} repeats)")
    return comparison["model"].tolist()


def check_decision_curve(curve: pd.DataFrame, y: np.ndarray, oof_wide: pd.DataFrame,
                         thresholds=DCA_THRESHOLDS) -> int:
    """Net benefit of each model in ``decision_curve.csv`` and of treat-all, by dcurves.

    Returns the number of (model, threshold) values compared.
    """
    import dcurves

    y = np.asarray(y, dtype=int)
    models = [m for m in curve["model"].unique() if m not in ("all", "none")]
    assert models, "the decision curve holds at least one model"
    data = pd.DataFrame({"y": y, **{m: oof_wide[m].to_numpy(dtype=float) for m in models}})
    ref = dcurves.dca(data=data, outcome="y", modelnames=models, thresholds=np.asarray(thresholds))
    compared = 0
    for _, r in ref.iterrows():
        name = r["model"]
        hit = curve[(curve["model"] == name) & np.isclose(curve["threshold"], r["threshold"], rtol=0, atol=1e-12)]
        assert len(hit) == 1, f"decision curve: no row for {name} at threshold {r['threshold']}"
        _close(hit["net_benefit"].item(), r["net_benefit"], EXACT, f"net benefit {name} @ {r['threshold']}",
               abs_tol=1e-10)
        compared += 1
    return compared


def _level(value) -> str:
    """A level as Table 1 prints it: 1.0, True and numpy integers become "1"."""
    if isinstance(value, bool | np.bool_ | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def check_table1(table1: pd.DataFrame, cohort: pd.DataFrame, codebook: Mapping, group: str | None) -> int:
    """Every numeric and categorical row of ``table1.csv`` recomputed with pandas/numpy.

    Rows with a missing group value count in Overall only. Returns the rows compared.
    """
    groups = [("Overall", cohort)]
    if group:
        keys = cohort[group].map(lambda v: np.nan if pd.isna(v) else _level(v))
        groups += [(label, cohort[keys == label]) for label in sorted(keys.dropna().unique())]
    compared = 0
    for label, rows in groups:
        size = table1[(table1["variable"] == "n") & (table1["group"] == label)]
        assert len(size) == 1 and size["n"].item() == len(rows), f"table1: size of group {label}"
        for variable in table1["variable"].unique():
            if variable == "n":
                continue
            kind = codebook[variable]["type"]
            block = table1[(table1["variable"] == variable) & (table1["group"] == label)]
            col = rows[variable]
            what = f"table1 {variable} / {label}"
            if kind in ("numeric", "integer"):
                assert len(block) == 1, what
                r, x = block.iloc[0], col.dropna().astype(float)
                assert r["n"] == len(x) and r["missing"] == col.isna().sum(), what
                if len(x):
                    _close(r["mean"], x.mean(), EXACT, f"{what}: mean")
                    _close(r["median"], x.median(), EXACT, f"{what}: median")
                    _close(r["q1"], np.percentile(x, 25), EXACT, f"{what}: q1")
                    _close(r["q3"], np.percentile(x, 75), EXACT, f"{what}: q3")
                if len(x) > 1:
                    _close(r["sd"], x.std(ddof=1), EXACT, f"{what}: sd")
            else:
                keys = col.dropna().map(_level)
                for _, r in block.iterrows():
                    count = int((keys == _level(r["level"])).sum())
                    assert r["count"] == count, f"{what} = {r['level']}: count {r['count']} vs {count}"
                    if len(keys):
                        _close(r["percent"], 100 * count / len(keys), EXACT, f"{what} = {r['level']}: percent")
                    assert r["missing"] == col.isna().sum(), f"{what}: missing"
            compared += len(block)
    return compared


def _design(data: pd.DataFrame, predictors, codebook: Mapping) -> pd.DataFrame:
    """Dummy-coded design: first codebook level is the reference, log transform applied."""
    columns = {}
    for name in predictors:
        spec = codebook[name]
        if spec["type"] == "categorical":
            present = [lv for lv in spec["levels"] if (data[name] == lv).any()]
            for lv in present[1:]:
                columns[f"{name}[{lv}]"] = (data[name] == lv).astype(float)
        else:
            x = data[name].astype(float)
            if spec.get("transform") == "log":
                x = np.log2(x)  # the design's base: odds ratios per doubling
            if x.nunique() > 1:
                columns[name] = x
    return pd.DataFrame(columns, index=data.index)


def firth_reference(X: pd.DataFrame, y: np.ndarray, alpha: float = 0.05) -> pd.DataFrame:
    """Firth's penalised-likelihood logistic regression by ``firthmodels`` directly.

    Fitted on centred and scaled columns (Firth's estimate is equivariant under affine
    changes of the columns, so the slopes map back exactly, b = g / sd) at the tightest
    of 1e-8, 1e-7, 1e-6 at which Newton-Raphson converges (step halving stalls near the
    floating-point floor on some data sets); profile penalised-likelihood CIs (same
    tolerance) and penalised likelihood-ratio p-values; a bound or p-value whose search
    fails at one tolerance is taken from the next looser one that converges.  One row per column of ``X``: ``log_odds, ci_lower, ci_upper, p_value``
    (CIs on the log-odds scale).
    """
    from firthmodels import FirthLogisticRegression

    A = X.to_numpy(dtype=float)
    centre, scale = A.mean(axis=0), A.std(axis=0)
    Z, k = (A - centre) / scale, A.shape[1]
    coef = pvalues = None
    bounds = np.full((k, 2), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for tol in (1e-8, 1e-7, 1e-6):
            model = FirthLogisticRegression(backend="numpy", max_iter=500, gtol=tol, xtol=tol)
            model.fit(Z, np.asarray(y, dtype=float))
            if not model.converged_:
                continue
            if coef is None:  # the estimates of the tightest converged fit
                coef = np.asarray(model.coef_, dtype=float) / scale
                pvalues = np.full(k, np.nan)
            model.lrt(list(range(k)))
            found = np.asarray(model.lrt_pvalues_, dtype=float)[:k]
            pvalues = np.where(np.isnan(pvalues), found, pvalues)
            found = np.asarray(model.conf_int(alpha=alpha, method="pl", features=list(range(k)), max_iter=500,
                                              tol=tol), dtype=float)[:k]
            bounds = np.where(np.isnan(bounds), found, bounds)
            if not (np.isnan(pvalues).any() or np.isnan(bounds).any()):
                break
    assert coef is not None, "reference Firth fit did not converge"
    bounds = bounds / scale[:, None]
    return pd.DataFrame({"log_odds": coef, "ci_lower": bounds[:, 0], "ci_upper": bounds[:, 1],
                         "p_value": pvalues}, index=X.columns)


def check_complete_case_regression(table: pd.DataFrame, data: pd.DataFrame, predictors, outcome: str,
                                   codebook: Mapping, notes: list[str] | None = None) -> int:
    """Odds ratios, CIs and p-values of ``regression_multivariable_complete_case.csv``
    refitted on the complete rows with an independent design matrix.

    Maximum-likelihood rows: statsmodels' ``Logit`` (Wald CIs); terms flagged as separated
    or with an odds ratio outside [1e-6, 1e6] are skipped.  Rows whose ``method`` starts
    with "Firth penalised likelihood": ``firthmodels`` directly (:func:`firth_reference`),
    at :data:`FIRTH`; a bound or p-value that one side leaves empty (a profile search or
    likelihood-ratio test failed) is skipped and noted in ``notes``.  Returns the terms compared.
    """
    complete = data.dropna(subset=[*predictors, outcome])
    X = _design(complete, predictors, codebook)
    assert sorted(X.columns) == sorted(table["term"]), f"terms {sorted(table['term'])} vs {sorted(X.columns)}"
    assert (table["n"] == len(complete)).all(), f"complete-case n {table['n'].unique()} vs {len(complete)}"
    methods = table["method"].astype(str) if "method" in table else pd.Series("", index=table.index)
    firth = methods.str.startswith(FIRTH_PREFIX)
    assert firth.all() or not firth.any(), "one fit per table: every row Firth or none"
    y = complete[outcome].astype(float).to_numpy()
    if firth.any():
        ref = firth_reference(X, y)
        compared = 0
        for _, r in table.iterrows():
            term, mine = r["term"], ref.loc[r["term"]]
            _close(r["odds_ratio"], np.exp(mine["log_odds"]), FIRTH, f"Firth OR of {term}")
            for column, expected in (("ci_lower", np.exp(mine["ci_lower"])), ("ci_upper", np.exp(mine["ci_upper"])),
                                     ("p_value", mine["p_value"])):
                if pd.isna(r[column]) != pd.isna(expected):  # one side's profile search / LR test failed
                    if notes is not None:
                        notes.append(f"Firth {column} of {term}: table {r[column]}, reference {expected} "
                                     "(a profile search or LR test failed); not compared")
                    continue
                _close(r[column], expected, FIRTH, f"Firth {column} of {term}", abs_tol=1e-10)
            compared += 1
        return compared
    flags = table["separation"] if "separation" in table else pd.Series(False, index=table.index)
    separated = flags.astype(str).str.lower().eq("true")
    finite = table["odds_ratio"].between(1e-6, 1e6) & ~separated
    if not finite.any():
        return 0  # (quasi-)separated in every term: no finite ML estimate to compare
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sm.Logit(y, sm.add_constant(X)).fit(disp=0, method="newton", tol=1e-12, maxiter=200)
    compared = 0
    for _, r in table[finite].iterrows():
        _close(r["odds_ratio"], np.exp(fit.params[r["term"]]), FITTED, f"OR of {r['term']}")
        lo, hi = np.exp(fit.conf_int().loc[r["term"]])
        # The package's fit (statsmodels GLM, IRLS, default tolerance) takes its covariance
        # from the weights of the last-but-one iteration: its standard errors differ from
        # Logit's Newton Hessian by up to ~1e-5 relative (7e-6 seen on ra-refractory) even
        # where the estimates agree to 1e-10; a p-value amplifies that by about z**2.
        _close(r["ci_lower"], lo, WALD, f"CI lower of {r['term']}")
        _close(r["ci_upper"], hi, WALD, f"CI upper of {r['term']}")
        _close(r["p_value"], fit.pvalues[r["term"]], WALD, f"p of {r['term']}", abs_tol=1e-10)
        compared += 1
    return compared


def check_correlation(table: pd.DataFrame, cohort: pd.DataFrame) -> int:
    """Spearman r and pairwise-complete n of every pair, by ``scipy.stats.spearmanr``."""
    compared = 0
    for _, r in table.iterrows():
        both = cohort[[r["var1"], r["var2"]]].dropna().astype(float)
        assert r["n"] == len(both), f"n of {r['var1']}-{r['var2']}"
        if len(both) < 3 or both.nunique().min() < 2:
            continue
        rho, p = stats.spearmanr(both.iloc[:, 0], both.iloc[:, 1])
        _close(r["r"], rho, EXACT, f"rho {r['var1']}-{r['var2']}")
        _close(r["p_value"], p, EXACT, f"p {r['var1']}-{r['var2']}", abs_tol=1e-12)
        compared += 1
    return compared


def _passed(value) -> bool:
    return str(value).strip().lower() in ("true", "1", "1.0")


def check_gate(gate: pd.DataFrame, comparison: pd.DataFrame, validation: pd.DataFrame, status: str, *,
               reference: str | None = "logistic", slope_range=(0.7, 1.3),
               benchmark: str = "intercept_only", sample_size: pd.DataFrame | None = None,
               cohort: tuple[int, int] | None = None, sample_size_rule: str = "require") -> int:
    """The ship gate (``gate.csv``) recomputed from ``model_comparison.csv`` and ``validation.csv``.

    The rules of issue 11, item 3: a model is fit for clinical use only if one model was
    selected, it beats ``benchmark`` on the cross-validated log loss and Brier score
    (strictly lower), its cross-validated AUC CI excludes 0.5, and its corrected
    calibration slope (``validation.csv``, row ``calibration_slope``) lies in
    ``slope_range`` (inclusive).  With no model selected the gate is judged on
    ``reference`` (the model kept for audit; if the table lacks it, the candidate with the
    lowest cross-validated log loss).  Every criterion row's model, value and
    ``passed`` is compared; the verdict (all criteria recomputed as passed) must match the
    table and ``status`` (``model.json``).  With ``sample_size`` (``sample_size.csv``) and
    ``cohort`` (patients, events), the cohort is also judged against Riley's ``overall``
    minimum at the anticipated C: a blocking criterion under ``sample_size_rule``
    ``"require"`` (the default, as in study settings), a caution that leaves the verdict
    alone under ``"warn"``.  Returns the criteria
    compared.
    """
    selected = comparison["selected"].astype(str).str.lower().eq("true")
    chosen = comparison.loc[selected, "model"].tolist()
    if len(chosen) == 1:
        name = chosen[0]
    elif reference in set(comparison["model"]):
        name = reference
    else:  # no reference model in the table: the candidate with the lowest CV log loss
        pool = comparison[comparison["model"] != benchmark]
        name = pool.loc[pool["log_loss"].astype(float).idxmin(), "model"]
    row = comparison[comparison["model"] == name].iloc[0]
    null = comparison[comparison["model"] == benchmark].iloc[0]
    lo, hi = float(row["auc_ci_lower"]), float(row["auc_ci_upper"])
    slopes = validation[(validation["model"] == name) & (validation["metric"] == "calibration_slope")]["corrected"]
    slope = float(slopes.iloc[0]) if len(slopes) else np.nan
    low, high = (float(v) for v in slope_range)
    expected = {  # criterion -> (value, passed)
        "model_selected": (float(len(chosen)), len(chosen) == 1),
        "auc_ci_excludes_0.5": (float(row["auc"]), bool(np.isfinite(lo) and np.isfinite(hi) and (lo > 0.5 or hi < 0.5))),
        "calibration_slope_in_range": (slope, bool(np.isfinite(slope) and low <= slope <= high)),
    }
    for score in ("log_loss", "brier"):
        value, bench = float(row[score]), float(null[score])
        expected[f"beats_null_{score}"] = (value, bool(np.isfinite(value) and np.isfinite(bench) and value < bench))
    blocking = dict.fromkeys(expected, True)
    if sample_size is not None and cohort is not None:
        need = sample_size[(sample_size["scenario"] == "anticipated") & (sample_size["criterion"] == "overall")]
        need_n, need_e = (float(need[c].iloc[0]) for c in ("n_required", "events_required"))
        n, events = cohort
        expected["sample_size_adequate"] = (float(n), bool(np.isfinite(need_n) and np.isfinite(need_e)
                                                           and n >= need_n and events >= need_e))
        blocking["sample_size_adequate"] = sample_size_rule == "require"
    assert sorted(gate["criterion"]) == sorted(expected), f"gate criteria {sorted(gate['criterion'])} vs {sorted(expected)}"
    assert (gate["model"].astype(str) == str(name)).all(), f"gate judged on {set(gate['model'])}, expected {name}"
    for _, r in gate.iterrows():
        value, passed = expected[r["criterion"]]
        _close(r["value"], value, EXACT, f"gate {r['criterion']}: value")
        assert _passed(r["passed"]) == passed, f"gate {r['criterion']}: passed {r['passed']}, recomputed {passed}"
        if "blocking" in gate.columns:
            assert _passed(r["blocking"]) == blocking[r["criterion"]], f"gate {r['criterion']}: blocking"
    verdict = FIT if all(ok for k, (_, ok) in expected.items() if blocking[k]) else NOT_FIT
    gate_blocking = (gate["blocking"].map(_passed) if "blocking" in gate.columns
                     else pd.Series(True, index=gate.index))
    table_verdict = FIT if gate.loc[gate_blocking, "passed"].map(_passed).all() else NOT_FIT
    assert table_verdict == verdict, f"gate table verdict {table_verdict}, recomputed {verdict}"
    assert status == verdict, f"model.json status {status!r}, recomputed gate verdict {verdict!r}"
    return len(gate)


def check_benefit_by_risk(table: pd.DataFrame, data: pd.DataFrame, outcome: str,
                          treatment: dict) -> int:
    """The PATH table: counts and responses from the cohort, reference rows, CIs around estimates.

    The risk groups are quarters of a cross-fitted risk that is not saved, so the counts are
    checked per option over all groups, and each group must hold about a quarter of the
    patients; every response is events / n; the reference rows carry no difference; every
    difference lies inside its CI.
    """
    column, options, reference = treatment["column"], treatment["options"], treatment["reference"]
    assert list(table.columns) == ["risk_group", "option", "n", "events", "response", "difference",
                                   "ci_lower", "ci_upper", "method"]
    compared = data[data[column].astype(str).isin(options)]
    for option in options:
        rows = table[table["option"] == option]
        on = compared[compared[column].astype(str) == option]
        assert rows["n"].sum() == len(on), f"benefit_by_risk: n of {option}"
        assert rows["events"].sum() == int(on[outcome].sum()), f"benefit_by_risk: events of {option}"
    sizes = table.groupby("risk_group", sort=False)["n"].sum()
    assert len(sizes) == 4 and (sizes - len(compared) / 4).abs().max() <= 1, "risk quarters"
    filled = table["n"] > 0
    assert np.allclose(table.loc[filled, "response"], table.loc[filled, "events"] / table.loc[filled, "n"])
    ref = table["option"] == reference
    assert table.loc[ref, "difference"].isna().all()
    est = table.dropna(subset=["difference"])
    assert ((est["ci_lower"] <= est["difference"] + 1e-12) & (est["difference"] <= est["ci_upper"] + 1e-12)).all()
    return len(table)


def check_benefit_validation(table: pd.DataFrame, counts: pd.DataFrame, data: pd.DataFrame,
                             treatment: dict) -> int:
    """The benefit validation: the issue's columns, pairs = the smaller group, CIs around C.

    Every model is validated for every non-reference option with and without overlap
    weights; ``n_pairs`` is the size of the smaller of the two groups (1:1 matching);
    the c-for-benefit lies in [0, 1] and, with 100 or more resamples, inside its percentile
    CI (which need not hold with the few resamples of smoke runs); the preferred-option
    counts add up to the cohort.
    """
    column, options, reference = treatment["column"], treatment["options"], treatment["reference"]
    assert list(table.columns[:7]) == ["model", "c_for_benefit", "ci_lower", "ci_upper",
                                       "benefit_calibration_intercept",
                                       "benefit_calibration_slope", "n_pairs"]
    received = data[column].astype(str)
    others = [o for o in options if o != reference]
    for model, rows in table.groupby("model"):
        assert sorted(rows["option"].astype(str).unique()) == sorted(others), model
        assert set(rows["weighted"].astype(str)) == {"True", "False"}, model
    for option in others:
        rows = table[table["option"].astype(str) == option]
        expected = min(int((received == option).sum()), int((received == reference).sum()))
        assert (rows["n_pairs"] == expected).all(), f"n_pairs of {option}"
    c = table["c_for_benefit"]
    assert c.between(0, 1).all()
    est = table.dropna(subset=["ci_lower", "ci_upper"])
    assert (est["ci_lower"].between(0, 1) & est["ci_upper"].between(0, 1)
            & (est["ci_lower"] <= est["ci_upper"])).all()
    # a percentile interval need not contain its estimate; with 100+ resamples it does here
    full = est[est["n_boot"] >= 100]
    assert ((full["ci_lower"] <= full["c_for_benefit"] + 1e-12)
            & (full["c_for_benefit"] <= full["ci_upper"] + 1e-12)).all()
    assert counts["n"].sum() == len(data), "preferred options cover the cohort"
    return len(table)


def check_response_by_visit(table: pd.DataFrame, visits: pd.DataFrame, cohort: pd.DataFrame,
                            id_col: str, time: str, arm: str | None, outcomes) -> int:
    """Endpoints over visits recounted from the visit table.

    Non-responder imputation: n is every enrolled patient of the arm and events the patients
    with the outcome at that visit; observed cases: n the patients with a value. Events
    agree between the two, every proportion is events / n inside its CI.
    """
    assert list(table.columns) == ["visit", "arm", "outcome", "n", "events", "proportion",
                                   "ci_lower", "ci_upper", "method", "imputation"]
    arms = cohort[[id_col, *([arm] if arm else [])]]
    for row in table.itertuples():
        if row.outcome not in outcomes:
            continue  # composites: recounted in the unit tests
        members = arms if row.arm == "Overall" else arms[arms[arm].astype(str) == row.arm]
        at = visits[(visits[time] == row.visit) & visits[id_col].isin(members[id_col])]
        values = pd.to_numeric(at[row.outcome], errors="coerce")
        events = int((values == 1).sum())
        n = len(members) if row.imputation == "non-responder" else int(values.notna().sum())
        assert (row.n, row.events) == (n, events), f"response_by_visit {row.outcome} {row.arm} {row.visit}"
    filled = table["n"] > 0
    assert np.allclose(table.loc[filled, "proportion"], table.loc[filled, "events"] / table.loc[filled, "n"])
    assert ((table.loc[filled, "ci_lower"] <= table.loc[filled, "proportion"] + 1e-12)
            & (table.loc[filled, "proportion"] <= table.loc[filled, "ci_upper"] + 1e-12)).all()
    return len(table)


def check_study(root: Path, study: str, notes: list[str] | None = None) -> dict[str, int]:
    """Every check above on one study of a finished run under ``root``; counts per check.

    Skipped or uncomparable values are described in ``notes`` (when given).
    """
    import json

    from analysis.study.config import load_study

    cfg = load_study(study, root=root)
    settings = cfg.settings(False)  # selection score, reference and gate range (smoke keeps them)
    tables = root / "reports" / study / "tables"
    processed = root / "data" / study / "processed"
    cohort = pd.read_parquet(processed / "cohort.parquet")
    codebook = cfg.codebook()
    data = cohort[cohort[cfg.outcome].notna()].reset_index(drop=True)
    y = data[cfg.outcome].astype(int).to_numpy()
    oof = pd.read_parquet(processed / "oof_predictions.parquet")
    stored_y = oof.drop_duplicates("row").sort_values("row")["y"].to_numpy()
    assert np.array_equal(stored_y.astype(int), y), "outcomes of the predictions file and of the cohort"
    assert "repeat" in oof.columns, "oof_predictions.parquet keeps each outer repeat's predictions"
    wide = oof_mean(oof)
    read = lambda name: pd.read_csv(tables / f"{name}.csv", keep_default_na=False, na_values=[""])  # noqa: E731
    numeric = [c for c in cfg.predictors if codebook[c]["type"] in ("numeric", "integer")]
    comparison = read("model_comparison")
    rule = settings.rule
    status = json.loads((root / "reports" / study / "model" / "model.json").read_text()).get("status")
    counts = {
        "models": len(check_model_comparison(comparison, y, repeat_matrix(oof, y.size), score=rule.score,
                                             benchmark=rule.benchmark, exclude=tuple(rule.exclude))),
        "net_benefit": check_decision_curve(read("decision_curve"), y, wide),
        "table1": check_table1(read("table1"), cohort, codebook, cfg.group),
        "odds_ratios": check_complete_case_regression(read("regression_multivariable_complete_case"), data,
                                                      list(cfg.predictors), cfg.outcome, codebook, notes),
        "correlations": check_correlation(read("correlation"), cohort) if len(numeric) > 1 else 0,
        "gate": check_gate(read("gate"), comparison, read("validation"), status, reference=settings.reference,
                           slope_range=settings.gate_slope_range, benchmark=rule.benchmark,
                           # a gate with a sample_size_adequate row but no sample_size.csv fails
                           sample_size=(read("sample_size") if (tables / "sample_size.csv").is_file()
                                        else None), cohort=(len(y), int(y.sum())),
                           sample_size_rule=settings.gate_sample_size),
    }
    if cfg.treatment:
        counts["benefit_by_risk"] = check_benefit_by_risk(read("benefit_by_risk"), data, cfg.outcome,
                                                          cfg.treatment)
        counts["benefit_validation"] = check_benefit_validation(
            read("benefit_validation"), read("preferred_option_counts"), data, cfg.treatment)
    if cfg.endpoints:
        visits = pd.read_parquet(processed / "visits.parquet")
        counts["response_by_visit"] = check_response_by_visit(
            read("response_by_visit"), visits, cohort, cfg.id, cfg.visits.time,
            cfg.endpoints.get("arm"), cfg.endpoints["outcomes"])
    return counts
