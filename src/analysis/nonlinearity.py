"""Screen every continuous predictor for nonlinearity with restricted cubic splines."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import pandas as pd

from .errors import AnalysisError
from .regression import nonlinearity_test

COLUMNS = ["variable", "df", "chi2", "p_value", "n", "knots", "note"]


def nonlinearity_tests(df: pd.DataFrame, predictors: Sequence[str], outcome: str,
                       variables: Mapping[str, Mapping], knots: int = 4) -> pd.DataFrame:
    """Likelihood-ratio tests of nonlinearity for each numeric predictor.

    A predictor whose quantile knots coincide (e.g. a dose that is mostly 0) is retried with
    fewer knots, down to 3; if that also fails it is listed with the reason in ``note``.

    Examples
    --------
    >>> # nonlinearity_tests(cohort, ["age", "crp"], "response", codebook)
    """
    rows = []
    for name in predictors:
        if variables[name].get("type") != "numeric":
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
