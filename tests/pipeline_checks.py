"""Recompute the published numbers of a study run from its own saved outputs.

Used by the end-to-end test (``tests/test_pipeline.py``) on every study of the smoke run,
and unit-tested on small synthetic tables (``tests/pipeline/test_pipeline_checks.py``).

Every reference value here comes from a library other than ``analysis`` (scikit-learn,
statsmodels, scipy, dcurves) or from numpy/pandas arithmetic; ``analysis`` is used only
to read ``study.yaml``. Each ``check_*`` function raises ``AssertionError`` naming the
number that differs.

Tolerances: the CSV tables are written with ``%.10g`` (10 significant digits), so values
that are exact functions of the data (AUC, Brier, net benefit, Table 1 statistics,
correlations) are compared at ``rel=1e-8``; values from an iterative maximum-likelihood
fit (calibration slope, odds ratios) at ``rel=1e-6``, well above both solvers'
convergence error and far below any real mistake; Wald CIs and p-values at ``rel=1e-4``
(see :func:`check_complete_case_regression`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from sklearn.metrics import brier_score_loss, roc_auc_score
from statsmodels.nonparametric.smoothers_lowess import lowess

EXACT = 1e-8  #: relative tolerance of values that are exact functions of the data
FITTED = 1e-6  #: relative tolerance of maximum-likelihood estimates
WALD = 1e-4  #: relative tolerance of Wald CIs and p-values (see check_complete_case_regression)
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


def calibration_slope(y: np.ndarray, p: np.ndarray) -> float:
    """Slope of ``logit P(y=1) = a + b logit(p)`` by statsmodels' GLM."""
    pc = np.clip(p, PROB_CLIP, 1 - PROB_CLIP)
    lp = np.log(pc / (1 - pc))
    fit = sm.GLM(y, sm.add_constant(lp), family=sm.families.Binomial()).fit(tol=1e-12, maxiter=200)
    return float(fit.params[1])


def calibration_errors(y: np.ndarray, p: np.ndarray) -> tuple[float, float, float]:
    """ICI, E50, E90 (Austin & Steyerberg 2019): lowess span 0.75, no robustness
    iterations, delta 1% of the range of ``p`` (R's ``lowess`` default)."""
    smooth = lowess(y.astype(float), p, frac=0.75, it=0, delta=0.01 * float(np.ptp(p)),
                    return_sorted=False)
    d = np.abs(p - smooth)
    return float(np.mean(d)), float(np.median(d)), float(np.quantile(d, 0.9))


def check_model_comparison(comparison: pd.DataFrame, y: np.ndarray, oof_wide: pd.DataFrame) -> list[str]:
    """AUC and Brier of every model, calibration slope and ICI/E50/E90 of the selected one.

    ``comparison`` is ``model_comparison.csv``; ``oof_wide`` has one column per model and
    one row per patient (in the order of ``y``). Returns the models checked.
    """
    y = np.asarray(y, dtype=int)
    assert comparison["selected"].sum() == 1, "exactly one model is selected"
    assert sorted(comparison["model"]) == sorted(oof_wide.columns), "models of table and predictions"
    assert len(oof_wide) == y.size, "one out-of-fold prediction per patient"
    for _, row in comparison.iterrows():
        name = row["model"]
        p = oof_wide[name].to_numpy(dtype=float)
        _close(row["brier"], brier_score_loss(y, p), EXACT, f"{name}: brier")
        assert int(row["n"]) == y.size and int(row["events"]) == int(y.sum()), f"{name}: n/events"
        if name == "intercept_only":
            assert row["auc"] == 0.5, "intercept_only: AUC 0.5 by definition"
        else:
            _close(row["auc"], roc_auc_score(y, p), EXACT, f"{name}: auc")
            assert row["auc_ci_lower"] <= row["auc"] <= row["auc_ci_upper"], f"{name}: AUC inside its CI"
    chosen = comparison[comparison["selected"].astype(bool)].iloc[0]
    p = oof_wide[chosen["model"]].to_numpy(dtype=float)
    _close(chosen["calibration_slope"], calibration_slope(y, p), FITTED, f"{chosen['model']}: calibration_slope")
    for column, value in zip(("ici", "e50", "e90"), calibration_errors(y, p), strict=True):
        _close(chosen[column], value, EXACT, f"{chosen['model']}: {column}")
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
                x = np.log(x)
            if x.nunique() > 1:
                columns[name] = x
    return pd.DataFrame(columns, index=data.index)


def check_complete_case_regression(table: pd.DataFrame, data: pd.DataFrame, predictors, outcome: str,
                                   codebook: Mapping) -> int:
    """Odds ratios, Wald CIs and p-values of ``regression_multivariable_complete_case.csv``
    refitted with statsmodels' ``Logit`` on the complete rows. Returns the terms compared."""
    complete = data.dropna(subset=[*predictors, outcome])
    X = _design(complete, predictors, codebook)
    assert sorted(X.columns) == sorted(table["term"]), f"terms {sorted(table['term'])} vs {sorted(X.columns)}"
    assert (table["n"] == len(complete)).all(), f"complete-case n {table['n'].unique()} vs {len(complete)}"
    flags = table["separation"] if "separation" in table else pd.Series(False, index=table.index)
    separated = flags.astype(str).str.lower().eq("true")
    finite = table["odds_ratio"].between(1e-6, 1e6) & ~separated
    if not finite.any():
        return 0  # (quasi-)separated in every term: no finite ML estimate to compare
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sm.Logit(complete[outcome].astype(float), sm.add_constant(X)).fit(
            disp=0, method="newton", tol=1e-12, maxiter=200)
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


def check_study(root: Path, study: str) -> dict[str, int]:
    """Every check above on one study of a finished run under ``root``; counts per check."""
    from analysis.study.config import load_study

    cfg = load_study(study, root=root)
    tables = root / "reports" / study / "tables"
    processed = root / "data" / study / "processed"
    cohort = pd.read_parquet(processed / "cohort.parquet")
    codebook = cfg.codebook()
    data = cohort[cohort[cfg.outcome].notna()].reset_index(drop=True)
    y = data[cfg.outcome].astype(int).to_numpy()
    oof = pd.read_parquet(processed / "oof_predictions.parquet")
    stored_y = oof.drop_duplicates("row").sort_values("row")["y"].to_numpy()
    assert np.array_equal(stored_y.astype(int), y), "outcomes of the predictions file and of the cohort"
    wide = oof_mean(oof)
    read = lambda name: pd.read_csv(tables / f"{name}.csv", keep_default_na=False, na_values=[""])  # noqa: E731
    numeric = [c for c in cfg.predictors if codebook[c]["type"] in ("numeric", "integer")]
    counts = {
        "models": len(check_model_comparison(read("model_comparison"), y, wide)),
        "net_benefit": check_decision_curve(read("decision_curve"), y, wide),
        "table1": check_table1(read("table1"), cohort, codebook, cfg.group),
        "odds_ratios": check_complete_case_regression(read("regression_multivariable_complete_case"), data,
                                                      list(cfg.predictors), cfg.outcome, codebook),
        "correlations": check_correlation(read("correlation"), cohort) if len(numeric) > 1 else 0,
    }
    return counts
