"""Missing-data report: per-variable counts, complete cases and missingness patterns.

All functions are pure: they read a DataFrame and return a new table, a number
or a matplotlib Figure (never saved to disk). A value is missing when
``pandas.isna`` says so (NaN, None, NaT, pd.NA).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError

__all__ = [
    "complete_case_share",
    "missingness_patterns",
    "missingness_table",
]


def _check_columns(df: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    if not isinstance(df, pd.DataFrame):
        raise AnalysisError("df: must be a pandas DataFrame")
    if isinstance(columns, str):
        raise AnalysisError("columns: must be a list of column names, not a string")
    names = list(columns)
    if not names:
        raise AnalysisError("columns: at least one column is required")
    if len(set(names)) != len(names):
        raise AnalysisError(f"columns: duplicated names in {names}")
    absent = [c for c in names if c not in df.columns]
    if absent:
        raise AnalysisError(f"column '{absent[0]}': not in the data (missing columns: {absent})")
    return names


def missingness_table(
    df: pd.DataFrame,
    variables: Mapping[str, Mapping],
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Number and percentage of missing values per variable, in codebook order.

    Parameters
    ----------
    df : pandas.DataFrame
        The data.
    variables : Mapping[str, Mapping]
        The codebook; its key order sets the row order.
    columns : sequence of str, optional
        Variables to report (each must be in the codebook); default every
        codebook variable, id and date types included.

    Returns
    -------
    pandas.DataFrame
        Columns ``variable, n_missing, percent_missing, n`` where ``n`` is the
        number of rows and ``percent_missing = 100 * n_missing / n`` (NaN for
        an empty table).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"age": [30, None, 50, 60], "sex": ["F", "M", None, None]})
    >>> book = {"sex": {"type": "categorical", "levels": ["F", "M"]}, "age": {"type": "numeric"}}
    >>> missingness_table(df, book).values.tolist()
    [['sex', 2, 50.0, 4], ['age', 1, 25.0, 4]]
    """
    if columns is None:
        names = list(variables)
    else:
        names = _check_columns(df, columns)
        unknown = [c for c in names if c not in variables]
        if unknown:
            raise AnalysisError(f"column '{unknown[0]}': not in the codebook")
        wanted = set(names)
        names = [c for c in variables if c in wanted]
    names = _check_columns(df, names)
    n = len(df)
    n_missing = df[names].isna().sum().astype("int64")
    out = pd.DataFrame({
        "variable": names,
        "n_missing": n_missing.to_numpy(),
        "percent_missing": 100.0 * n_missing.to_numpy() / n if n else np.nan,
        "n": np.full(len(names), n, dtype="int64"),
    })
    return out.astype({"variable": object, "percent_missing": "float64"})


def complete_case_share(df: pd.DataFrame, columns: Sequence[str]) -> float:
    """Share (0-1) of rows with no missing value in any of ``columns``.

    Parameters
    ----------
    df : pandas.DataFrame
        The data.
    columns : sequence of str
        The columns an analysis needs.

    Returns
    -------
    float
        Complete rows / all rows; NaN for an empty table.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"a": [1, None, 3, 4], "b": [1, 2, None, 4]})
    >>> complete_case_share(df, ["a", "b"])
    0.5
    """
    names = _check_columns(df, columns)
    if len(df) == 0:
        return float("nan")
    return float(df[names].notna().all(axis=1).mean())


def missingness_patterns(df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Distinct missing-data patterns and how many rows show each (like ``mice::md.pattern``).

    Parameters
    ----------
    df : pandas.DataFrame
        The data.
    columns : sequence of str
        Columns whose missingness is examined, kept in this order.

    Returns
    -------
    pandas.DataFrame
        One row per distinct pattern: one int column per variable (1 observed,
        0 missing - the ``mice`` convention), then ``count`` (rows with that
        pattern) and ``n_missing`` (variables missing in it). Rows are sorted
        by ``n_missing`` ascending, then ``count`` descending, then the pattern
        itself, so the complete-case pattern (if any) comes first. Unlike
        ``md.pattern`` there is no totals row; see :func:`missingness_table`.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"a": [1, None, 3, None], "b": [1, 2, None, 4]})
    >>> missingness_patterns(df, ["a", "b"]).values.tolist()
    [[1, 1, 1, 0], [0, 1, 2, 1], [1, 0, 1, 1]]
    """
    names = _check_columns(df, columns)
    observed = df[names].notna().astype("int64")
    if len(observed) == 0:
        return pd.DataFrame({**{c: pd.Series(dtype="int64") for c in names},
                             "count": pd.Series(dtype="int64"), "n_missing": pd.Series(dtype="int64")})
    counts = observed.value_counts(sort=False).rename("count").reset_index()
    counts.columns = [*names, "count"]
    counts["n_missing"] = len(names) - counts[names].sum(axis=1)
    counts = counts.sort_values(
        ["n_missing", "count", *names], ascending=[True, False, *([False] * len(names))], kind="mergesort"
    ).reset_index(drop=True)
    return counts.astype("int64")


