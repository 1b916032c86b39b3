"""Screen every numeric or integer predictor for nonlinearity with restricted cubic splines."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import pandas as pd
import scipy.linalg
import scipy.optimize
import scipy.stats

from analysis.errors import AnalysisError
from analysis.regression.design import (
    binary_outcome,
    complete_rows,
    continuous_outcome,
    design_matrix,
)
from analysis.regression.fits import fit_linear, fit_logistic
from analysis.validators import codebook_entry, require_columns

COLUMNS = ["variable", "df", "chi2", "p_value", "n", "knots", "note"]


def nonlinearity_tests(df: pd.DataFrame, predictors: Sequence[str], outcome: str,
                       variables: Mapping[str, Mapping], knots: int = 4) -> pd.DataFrame:
    """Likelihood-ratio tests of nonlinearity for each numeric or integer predictor.

    A predictor whose quantile knots coincide (e.g. a dose that is mostly 0) is retried with
    fewer knots, down to 3; if that also fails it is listed with the reason in ``note``.

    Examples
    --------
    >>> # nonlinearity_tests(cohort, ["age", "crp"], "response", codebook)
    """
    rows = []
    for name in predictors:
        if variables[name].get("type") not in {"numeric", "integer"}:
            continue
        note = ""
        for k in range(knots, 2, -1):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    result = nonlinearity_test(df, name, outcome, variables, knots=k)
            except AnalysisError as exc:
                note = str(exc)
                continue
            row = result.iloc[0].to_dict()
            row["note"] = "" if k == knots else f"{knots} knots not distinct: used {k}"
            rows.append(row)
            break
        else:
            rows.append({"variable": name, "note": f"not tested: {note}"})
    return pd.DataFrame(rows).reindex(columns=COLUMNS)


def nonlinearity_test(
    df: pd.DataFrame,
    predictor: str,
    outcome: str,
    variables: Mapping[str, Mapping],
    knots: int | Sequence[float] = 4,
    adjust_for: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Likelihood-ratio test of the nonlinear spline terms of one predictor.

    Compares a model with a restricted cubic spline of ``predictor`` to the model with
    ``predictor`` entered linearly (both optionally adjusted for ``adjust_for``), on the
    complete cases. Logistic for a binary outcome, linear (Gaussian likelihood) otherwise.

    Parameters
    ----------
    df : pandas.DataFrame
        Analysis data.
    predictor : str
        Numeric predictor to test.
    outcome : str
        Binary or continuous outcome.
    variables : mapping
        Codebook.
    knots : int or sequence of float, default 4
        Number of knots (Harrell's quantiles) or the knots themselves.
    adjust_for : sequence of str, optional
        Other predictors entered in both models.

    Returns
    -------
    pandas.DataFrame
        One row: ``variable, df, chi2, p_value`` then ``n, knots`` (knots as a list).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"x": rng.uniform(-3, 3, 400)})
    >>> df["y"] = df["x"] ** 2 + rng.normal(size=400)
    >>> codebook = {"x": {"type": "numeric"}, "y": {"type": "numeric"}}
    >>> row = nonlinearity_test(df, "x", "y", codebook).iloc[0]
    >>> int(row["df"]), bool(row["p_value"] < 1e-10)
    (2, True)
    """
    adjust = list(adjust_for or [])
    if predictor in adjust:
        raise AnalysisError(f"predictor '{predictor}' is also listed in adjust_for")
    require_columns(df, [predictor, outcome, *adjust])
    ptype = codebook_entry(variables, predictor)["type"]
    if ptype not in {"numeric", "integer"}:
        raise AnalysisError(f"column '{predictor}' has type '{ptype}'; a spline needs a numeric predictor")
    otype = codebook_entry(variables, outcome)["type"]
    sub = complete_rows(df, [predictor, outcome, *adjust])
    preds = [predictor, *adjust]
    X_lin = design_matrix(sub, preds, variables)
    if predictor not in X_lin.attrs["variable_terms"]:
        raise AnalysisError(f"predictor '{predictor}' is constant in the complete cases")
    X_rcs = design_matrix(sub, preds, variables, splines={predictor: knots})
    if otype == "binary":
        y = binary_outcome(sub, outcome, variables).to_numpy()
        full = fit_logistic(X_rcs, y, outcome)
        lin = fit_logistic(X_lin, y, outcome, warn=False)
    else:
        y = continuous_outcome(sub, outcome, variables).to_numpy()
        full = fit_linear(X_rcs, y, outcome)
        lin = fit_linear(X_lin, y, outcome)
    dof = X_rcs.shape[1] - X_lin.shape[1]
    chi2 = max(2.0 * (full.llf - lin.llf), 0.0)
    return pd.DataFrame(
        {
            "variable": [predictor],
            "df": [int(dof)],
            "chi2": [chi2],
            "p_value": [float(scipy.stats.chi2.sf(chi2, dof))],
            "n": [len(y)],
            "knots": [X_rcs.attrs["knots"][predictor]],
        }
    )
