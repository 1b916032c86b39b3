"""Pairwise correlations, predictor-outcome associations and variance inflation factors.

* :func:`correlation_table` — Spearman or Pearson correlation of every unordered pair of
  columns on its pairwise-complete rows, with Benjamini-Hochberg adjusted p-values.
* :func:`correlation_matrix` and :func:`plot_correlation_heatmap` — the same numbers as a
  square matrix and as a (clustered) annotated heatmap.
* :func:`outcome_associations` — one unadjusted test per predictor against the outcome,
  chosen from the codebook types.
* :func:`vif_table` — variance inflation factors of the model columns.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.cluster.hierarchy
import scipy.spatial.distance
import scipy.stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.outliers_influence import variance_inflation_factor

from analysis.errors import AnalysisError
from analysis.regression.design import (
    binary_values,
    categorical_values,
    design_matrix,
    numeric_values,
)
from analysis.validators import as_list, caller_stacklevel, codebook_entry, require_columns

__all__ = [
    "correlation_matrix",
    "correlation_table",
    "outcome_associations",
    "vif_table",
]

_METHODS = {"spearman": scipy.stats.spearmanr, "pearson": scipy.stats.pearsonr}


def correlation_table(df: pd.DataFrame, columns: Sequence[str], method: str = "spearman") -> pd.DataFrame:
    """Correlation of every unordered pair of columns, pairwise-complete.

    Parameters
    ----------
    df : pandas.DataFrame
        Data.
    columns : sequence of str
        At least two numeric (or boolean) columns.
    method : {"spearman", "pearson"}, default "spearman"
        ``scipy.stats.spearmanr`` or ``scipy.stats.pearsonr`` on the rows where both
        columns are present.

    Returns
    -------
    pandas.DataFrame
        One row per pair in column order (``var1`` before ``var2`` in ``columns``):
        ``var1, var2, method, r, p_value, p_adjusted, n``. ``p_adjusted`` is the
        Benjamini-Hochberg adjustment over all pairs with a p-value. Pairs with fewer than
        3 complete rows or a constant column get NaN ``r`` and p-values (with a warning).

    Examples
    --------
    >>> df = pd.DataFrame({"a": [1, 2, 3, 4], "b": [2, 4, 5, 9], "c": [4, 3, 2, 1]})
    >>> correlation_table(df, ["a", "b", "c"])[["var1", "var2", "r", "n"]].to_dict("records")
    ... # doctest: +NORMALIZE_WHITESPACE
    [{'var1': 'a', 'var2': 'b', 'r': 1.0, 'n': 4},
     {'var1': 'a', 'var2': 'c', 'r': -1.0, 'n': 4},
     {'var1': 'b', 'var2': 'c', 'r': -1.0, 'n': 4}]
    """
    if method not in _METHODS:
        raise AnalysisError(f"method must be 'spearman' or 'pearson', got {method!r}")
    columns = as_list(columns, "columns")
    if len(columns) < 2:
        raise AnalysisError(f"a correlation table needs at least 2 columns, got {columns}")
    require_columns(df, columns)
    values = {c: numeric_values(df[c], c).to_numpy() for c in columns}
    rows = []
    for a, b in itertools.combinations(columns, 2):
        x, y = values[a], values[b]
        ok = ~(np.isnan(x) | np.isnan(y))
        n = int(ok.sum())
        r = p = np.nan
        if n < 3:
            warnings.warn(
                f"columns '{a}' and '{b}' have {n} complete pairs (< 3); correlation not computed",
                UserWarning,
                stacklevel=caller_stacklevel(),
            )
        elif np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
            const = a if np.ptp(x[ok]) == 0 else b
            warnings.warn(
                f"column '{const}' is constant on the rows complete for '{a}' and '{b}'; "
                "correlation is undefined (NaN)",
                UserWarning,
                stacklevel=caller_stacklevel(),
            )
        else:
            res = _METHODS[method](x[ok], y[ok])
            r, p = float(res.statistic), float(res.pvalue)
        rows.append({"var1": a, "var2": b, "method": method, "r": r, "p_value": p, "n": n})
    table = pd.DataFrame(rows, columns=["var1", "var2", "method", "r", "p_value", "n"])
    table.insert(5, "p_adjusted", _bh(table["p_value"].to_numpy()))
    return table


def _bh(p: np.ndarray) -> np.ndarray:
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method="fdr_bh")[1]
    return out


def _check_table(table: pd.DataFrame) -> None:
    need = {"var1", "var2", "r"}
    if not isinstance(table, pd.DataFrame) or not need <= set(table.columns):
        raise AnalysisError(f"expected a correlation_table() result with columns {sorted(need)}")


def correlation_matrix(table: pd.DataFrame) -> pd.DataFrame:
    """Square, symmetric matrix of ``r`` from a :func:`correlation_table` result.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`correlation_table`.

    Returns
    -------
    pandas.DataFrame
        Variables in order of first appearance as index and columns; diagonal 1.

    Examples
    --------
    >>> t = pd.DataFrame({"var1": ["a"], "var2": ["b"], "r": [0.5]})
    >>> correlation_matrix(t).to_dict()
    {'a': {'a': 1.0, 'b': 0.5}, 'b': {'a': 0.5, 'b': 1.0}}
    """
    _check_table(table)
    # first appearance in var1, then var2, restores the column order of correlation_table
    names = list(dict.fromkeys([*table["var1"], *table["var2"]]))
    mat = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
    for a, b, r in zip(table["var1"], table["var2"], table["r"], strict=True):
        mat.loc[a, b] = mat.loc[b, a] = r
    return mat


# --------------------------------------------------------------------------------------
# predictor-outcome associations
# --------------------------------------------------------------------------------------
_ASSOC_COLUMNS = ["variable", "statistic", "test", "estimate", "p_value", "n", "estimate_type"]


def _row(variable, statistic, test, estimate, p, n, estimate_type):
    return {"variable": variable, "statistic": float(statistic), "test": test,
            "estimate": float(estimate), "p_value": float(p), "n": int(n),
            "estimate_type": estimate_type}


def _crosstab_tests(name: str, x: pd.Series, y: pd.Series, levels: list | None = None) -> dict:
    tab = pd.crosstab(x, y)
    if levels is not None:  # codebook order: the odds ratio compares the 2nd level to the 1st
        tab = tab.reindex([lv for lv in levels if lv in tab.index])
    n = int(tab.to_numpy().sum())
    if tab.shape[0] < 2 or tab.shape[1] < 2:
        return _row(name, np.nan, "none (a single observed level)", np.nan, np.nan, n, "")
    chi2, p, _, expected = scipy.stats.chi2_contingency(tab.to_numpy(), correction=False)
    if tab.shape == (2, 2):
        a = tab.to_numpy()
        if (expected < 5).any():
            res = scipy.stats.fisher_exact(a)
            return _row(name, res.statistic, "Fisher exact", res.statistic, res.pvalue, n,
                        "odds ratio")
        with np.errstate(divide="ignore"):
            odds = (a[1, 1] * a[0, 0]) / (a[1, 0] * a[0, 1])
        return _row(name, chi2, "chi-square", odds, p, n, "odds ratio")
    if (expected < 5).any():
        warnings.warn(
            f"column '{name}': {int((expected < 5).sum())} expected cell count(s) below 5 in "
            f"a {tab.shape[0]}x{tab.shape[1]} table; the chi-square p-value is approximate",
            UserWarning,
            stacklevel=caller_stacklevel(),
        )
    k = min(tab.shape) - 1
    cramers_v = np.sqrt(chi2 / (n * k))
    return _row(name, chi2, "chi-square", cramers_v, p, n, "Cramer's V")


def outcome_associations(
    df: pd.DataFrame,
    predictors: Sequence[str],
    outcome: str,
    variables: Mapping[str, Mapping],
) -> pd.DataFrame:
    """Unadjusted association of each predictor with the outcome.

    Tests, by codebook type (rows with either value missing are dropped per predictor):

    ======================= ================ =====================================================
    predictor               outcome          rows (test: statistic, estimate)
    ======================= ================ =====================================================
    numeric / integer       binary           point-biserial (Pearson: r, r);
                                             Mann-Whitney U (U, AUC = P(X1 > X0) + P(=)/2)
    binary / categorical    binary           2x2: chi-square (no continuity correction;
                                             Fisher exact if an expected count < 5) with
                                             the odds ratio of 1 vs 0 (2nd vs 1st codebook
                                             level); larger: chi-square, Cramer's V
    numeric / integer       numeric/integer  Spearman (rho, rho)
    binary                  numeric/integer  Mann-Whitney U (U, AUC of outcome in level 1 vs 0)
    categorical             numeric/integer  Kruskal-Wallis (H, epsilon-squared H / (n - 1))
    ======================= ================ =====================================================

    Parameters
    ----------
    df : pandas.DataFrame
        Data.
    predictors : sequence of str
        Predictor columns.
    outcome : str
        Outcome column (binary, numeric or integer).
    variables : mapping
        Codebook.

    Returns
    -------
    pandas.DataFrame
        ``variable, statistic, test, estimate, p_value, n, estimate_type``.

    Examples
    --------
    >>> df = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6], "y": [0, 0, 0, 1, 1, 1]})
    >>> codebook = {"x": {"type": "numeric"}, "y": {"type": "binary"}}
    >>> outcome_associations(df, ["x"], "y", codebook)[["test", "estimate"]].round(3).values.tolist()
    [['point-biserial', 0.878], ['Mann-Whitney U', 1.0]]
    """
    predictors = as_list(predictors, "predictors")
    require_columns(df, [*predictors, outcome])
    otype = codebook_entry(variables, outcome)["type"]
    if otype == "binary":
        yall = binary_values(df[outcome], outcome)
    elif otype in {"numeric", "integer"}:
        yall = numeric_values(df[outcome], outcome)
    else:
        raise AnalysisError(
            f"outcome '{outcome}' has type '{otype}'; expected binary, numeric or integer"
        )
    rows = []
    for name in predictors:
        spec = codebook_entry(variables, name)
        ptype = spec["type"]
        if ptype == "categorical":
            xall, _ = categorical_values(df[name], name, spec)
        elif ptype == "binary":
            xall = binary_values(df[name], name)
        elif ptype in {"numeric", "integer"}:
            xall = numeric_values(df[name], name)
        else:
            raise AnalysisError(f"column '{name}' has type '{ptype}' and cannot be tested")
        ok = xall.notna() & yall.notna()
        x, y = xall[ok], yall[ok]
        n = int(ok.sum())
        if n < 3:
            raise AnalysisError(f"column '{name}': {n} rows complete with '{outcome}' (< 3)")
        if otype == "binary":
            if ptype in {"numeric", "integer"}:
                x1, x0 = x[y == 1].to_numpy(), x[y == 0].to_numpy()
                if len(x1) == 0 or len(x0) == 0:
                    raise AnalysisError(f"outcome '{outcome}' has one value where '{name}' is observed")
                pb = scipy.stats.pearsonr(x.to_numpy(), y.to_numpy())
                rows.append(_row(name, pb.statistic, "point-biserial", pb.statistic, pb.pvalue, n,
                                 "correlation r"))
                mw = scipy.stats.mannwhitneyu(x1, x0, alternative="two-sided")
                rows.append(_row(name, mw.statistic, "Mann-Whitney U",
                                 mw.statistic / (len(x1) * len(x0)), mw.pvalue, n,
                                 "AUC P(outcome=1 higher)"))
            else:
                levels = list(spec["levels"]) if ptype == "categorical" else None
                rows.append(_crosstab_tests(name, x, y.astype(int), levels))
        else:
            if ptype in {"numeric", "integer"}:
                res = scipy.stats.spearmanr(x.to_numpy(), y.to_numpy())
                rows.append(_row(name, res.statistic, "Spearman", res.statistic, res.pvalue, n,
                                 "Spearman rho"))
            elif ptype == "binary":
                y1, y0 = y[x == 1].to_numpy(), y[x == 0].to_numpy()
                if len(y1) == 0 or len(y0) == 0:
                    rows.append(_row(name, np.nan, "none (a single observed level)", np.nan,
                                     np.nan, n, ""))
                    continue
                mw = scipy.stats.mannwhitneyu(y1, y0, alternative="two-sided")
                rows.append(_row(name, mw.statistic, "Mann-Whitney U",
                                 mw.statistic / (len(y1) * len(y0)), mw.pvalue, n,
                                 "AUC P(level 1 higher)"))
            else:
                groups = [y[x == lv].to_numpy() for lv in pd.unique(x)]
                if len(groups) < 2:
                    rows.append(_row(name, np.nan, "none (a single observed level)", np.nan,
                                     np.nan, n, ""))
                    continue
                kw = scipy.stats.kruskal(*groups)
                rows.append(_row(name, kw.statistic, "Kruskal-Wallis", kw.statistic / (n - 1),
                                 kw.pvalue, n, "epsilon-squared"))
    return pd.DataFrame(rows, columns=_ASSOC_COLUMNS)


# --------------------------------------------------------------------------------------
# variance inflation factors
# --------------------------------------------------------------------------------------
def vif_table(df: pd.DataFrame, columns: Sequence[str], variables: Mapping[str, Mapping]) -> pd.DataFrame:
    """Variance inflation factor of every model column, on complete cases.

    Parameters
    ----------
    df : pandas.DataFrame
        Data.
    columns : sequence of str
        Predictors (numeric, integer, binary, categorical); categorical ones enter as
        dummies of their non-reference levels (see :func:`analysis.regression.design_matrix`).
    variables : mapping
        Codebook.

    Returns
    -------
    pandas.DataFrame
        ``variable, vif`` then ``term`` and ``n``: one row per model column, where
        ``variable`` is the predictor and ``term`` the column (``race[black]``); VIF from
        ``statsmodels``' ``variance_inflation_factor`` with an intercept in the design.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"a": rng.normal(size=50), "b": rng.normal(size=50)})
    >>> codebook = {"a": {"type": "numeric"}, "b": {"type": "numeric"}}
    >>> bool((vif_table(df, ["a", "b"], codebook)["vif"] < 1.2).all())
    True
    """
    columns = as_list(columns, "columns")
    require_columns(df, columns)
    data = df.loc[df[columns].notna().all(axis=1), columns]
    X = design_matrix(data, columns, variables)
    if X.shape[1] < 2:
        raise AnalysisError(f"VIF needs at least 2 model columns, got {list(X.columns)}")
    A = np.column_stack([np.ones(len(X)), X.to_numpy(dtype=float)])
    with np.errstate(divide="ignore"):
        vifs = [float(variance_inflation_factor(A, i + 1)) for i in range(X.shape[1])]
    term_variable = X.attrs["term_variable"]
    return pd.DataFrame(
        {
            "variable": [term_variable[t] for t in X.columns],
            "vif": vifs,
            "term": list(X.columns),
            "n": len(X),
        }
    )
