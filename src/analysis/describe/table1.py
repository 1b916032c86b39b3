"""Table 1: descriptive statistics, group comparisons and the manuscript layout.

The module has three layers, each a pure function of its inputs:

* :func:`table1` (and :func:`table1_by`) - the tidy, machine-readable Table 1,
  one row per variable x group (x level for categorical variables);
* :func:`table1_tests` - one row per variable with the test, p-value and
  standardised mean difference (SMD) comparing the groups;
* :func:`format_table1` - the human-readable table a manuscript shows.

:func:`summary_choice` decides, per numeric variable, whether mean (SD) or
median [Q1, Q3] is shown (and so which family of tests is used).

Conventions (chosen to agree with the ``tableone`` package, which the golden
tests use as reference):

* Quartiles use linear interpolation (``pandas.Series.quantile``, identical to
  ``numpy.percentile``), SD uses ``ddof=1``.
* Categorical percentages are of the non-missing values in the group.
* Binary variables (0/1) are summarised as categorical with both levels
  ``"0"`` and ``"1"`` reported, like ``tableone`` does.
* Rows whose group value is missing are part of ``Overall`` but of no group
  column, and are left out of the tests and SMDs (``tableone`` does the same).
  Their number is the ``missing`` value of the ``Overall`` row of the
  pseudo-variable ``"n"``.
* Chi-squared tests use :func:`scipy.stats.chi2_contingency` with its default
  ``correction=True``, which is what ``tableone`` does: Yates' continuity
  correction is applied to 2x2 tables (one degree of freedom) only. Pass
  ``correction=False`` to :func:`table1_tests` for the uncorrected statistic.
* Two groups and a median-summarised variable: the Mann-Whitney U test with the
  normal approximation, tie correction and no continuity correction. Its
  p-value equals that of the Kruskal-Wallis test which ``tableone`` runs in
  this case.
* The continuous SMD is signed: (second group - first group) / pooled SD, as in
  ``tableone``; the categorical SMD (a Mahalanobis distance) is never negative.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import AnalysisError
from analysis.formatting import format_pvalue

__all__ = [
    "TABLE1_COLUMNS",
    "TESTS_COLUMNS",
    "format_pvalue",
    "format_table1",
    "summary_choice",
    "table1",
    "table1_by",
    "table1_tests",
]

#: The public column contract of :func:`table1`, in order.
TABLE1_COLUMNS = (
    "variable", "level", "group", "n", "mean", "sd", "median",
    "q1", "q3", "count", "percent", "missing",
)
#: The public column contract of :func:`table1_tests` (``note`` follows them).
TESTS_COLUMNS = ("variable", "test", "p_value", "smd")

OVERALL = "Overall"
N_ROW = "n"
_CONTINUOUS = frozenset({"numeric", "integer"})
_CATEGORICAL = frozenset({"binary", "categorical"})
_NOT_SUMMARISED = frozenset({"id", "date"})
_KNOWN_TYPES = _CONTINUOUS | _CATEGORICAL | _NOT_SUMMARISED
_SUMMARIES = ("mean", "median")
_SKEW_N = 5000  # above this Shapiro-Wilk p-values are unreliable: use skewness


# --------------------------------------------------------------------------- helpers
def _level_str(value: Any) -> str:
    """Render a level or group value as a string: ``1.0`` -> ``"1"``, ``True`` -> ``"1"``."""
    if isinstance(value, bool | np.bool_):
        return str(int(value))
    if isinstance(value, np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating) and np.isfinite(value) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _spec(variables: Mapping[str, Mapping], name: str) -> Mapping:
    if name not in variables:
        raise AnalysisError(f"column '{name}': not in the codebook (every summarised column needs an entry)")
    spec = variables[name]
    vtype = spec.get("type")
    if vtype not in _KNOWN_TYPES:
        raise AnalysisError(
            f"column '{name}': codebook type {vtype!r} is not one of {sorted(_KNOWN_TYPES)}"
        )
    return spec


def _resolve_columns(
    df: pd.DataFrame,
    variables: Mapping[str, Mapping],
    columns: Sequence[str] | None,
    group: str | None = None,
) -> list[str]:
    """Columns to summarise, validated; the group column is never summarised."""
    if not isinstance(df, pd.DataFrame):
        raise AnalysisError("df: must be a pandas DataFrame")
    if columns is None:
        names = [n for n in variables if _spec(variables, n).get("type") not in _NOT_SUMMARISED]
    else:
        if isinstance(columns, str):
            raise AnalysisError("columns: must be a list of column names, not a string")
        names = list(columns)
        if len(set(names)) != len(names):
            raise AnalysisError(f"columns: duplicated names in {names}")
        for name in names:
            vtype = _spec(variables, name).get("type")
            if vtype in _NOT_SUMMARISED:
                raise AnalysisError(f"column '{name}': type '{vtype}' cannot be summarised in Table 1")
    names = [n for n in names if n != group]
    for name in names:
        if name == N_ROW:
            raise AnalysisError(f"column '{name}': the name 'n' is reserved for the group-size row")
        if name not in df.columns:
            raise AnalysisError(f"column '{name}': in the codebook but not in the data")
    return names


def _numeric(df: pd.DataFrame, variables: Mapping[str, Mapping], name: str) -> pd.Series:
    """The column as float, after checking it is numeric (and whole for 'integer')."""
    col = df[name]
    if pd.api.types.is_bool_dtype(col) or not pd.api.types.is_numeric_dtype(col):
        raise AnalysisError(f"column '{name}': type '{variables[name]['type']}' requires numeric values (dtype is {col.dtype})")
    values = col.astype(float)
    if variables[name]["type"] == "integer":
        finite = values.dropna()
        if not np.all(np.mod(finite, 1) == 0):
            raise AnalysisError(f"column '{name}': type 'integer' requires whole numbers")
    return values


def _categorical(df: pd.DataFrame, variables: Mapping[str, Mapping], name: str) -> tuple[list[str], pd.Series]:
    """(level strings in display order, column as level strings with NaN for missing)."""
    spec = variables[name]
    if spec["type"] == "binary":
        levels = ["0", "1"]
        rule = "type 'binary' requires values 0/1"
    else:
        raw = spec.get("levels")
        if raw is None or isinstance(raw, str) or len(raw) == 0:
            raise AnalysisError(f"column '{name}': type 'categorical' requires a non-empty 'levels' list")
        levels = [_level_str(v) for v in raw]
        if len(set(levels)) != len(levels):
            raise AnalysisError(f"column '{name}': codebook 'levels' are not distinct: {levels}")
        rule = f"values must be one of the codebook levels {levels}"
    col = df[name]
    keys = pd.Series([_level_str(v) if not pd.isna(v) else np.nan for v in col], index=col.index, dtype=object)
    unknown = sorted(set(keys.dropna()) - set(levels))
    if unknown:
        raise AnalysisError(f"column '{name}': {rule}; found {unknown[:5]}")
    return levels, keys


def _groups(df: pd.DataFrame, variables: Mapping[str, Mapping], group: str | None) -> list[tuple[str, np.ndarray]]:
    """[(label, row mask)], Overall first; rows with a missing group are only in Overall."""
    out = [(OVERALL, np.ones(len(df), dtype=bool))]
    if group is None:
        return out
    if not isinstance(group, str) or group not in df.columns:
        raise AnalysisError(f"group '{group}': not a column of the data")
    col = df[group]
    if col.notna().sum() == 0:
        raise AnalysisError(f"group '{group}': has no non-missing values")
    if group in variables and variables[group].get("type") in _CATEGORICAL:
        labels, keys = _categorical(df, variables, group)
    else:
        observed = pd.unique(col.dropna())
        try:
            observed = sorted(observed)
        except TypeError:  # mixed types: sort by their text
            observed = sorted(observed, key=_level_str)
        labels = [_level_str(v) for v in observed]
        keys = pd.Series([_level_str(v) if not pd.isna(v) else np.nan for v in col], index=col.index, dtype=object)
        if len(set(labels)) != len(labels):
            raise AnalysisError(f"group '{group}': distinct values render to the same text: {labels}")
    if OVERALL in labels:
        raise AnalysisError(f"group '{group}': the level name '{OVERALL}' is reserved")
    values = keys.to_numpy()
    out += [(label, values == label) for label in labels]
    return out


def _continuous_row(x: pd.Series) -> dict[str, float]:
    obs = x.dropna()
    return {
        "n": len(obs),
        "mean": obs.mean() if len(obs) else np.nan,
        "sd": obs.std(ddof=1) if len(obs) > 1 else np.nan,
        "median": obs.median() if len(obs) else np.nan,
        "q1": obs.quantile(0.25) if len(obs) else np.nan,
        "q3": obs.quantile(0.75) if len(obs) else np.nan,
        "count": np.nan,
        "percent": np.nan,
        "missing": int(x.isna().sum()),
    }


# --------------------------------------------------------------------------- summary choice
def summary_choice(
    df: pd.DataFrame,
    variables: Mapping[str, Mapping],
    columns: Sequence[str] | None = None,
    normality: str | None = "shapiro",
    alpha: float = 0.05,
) -> dict[str, str]:
    """Decide, per numeric variable, whether to show mean (SD) or median [Q1, Q3].

    The codebook's ``summary`` entry wins when given. Otherwise, with
    ``normality="shapiro"``, a variable is ``"median"``-summarised when the
    Shapiro-Wilk test on all its non-missing values (all rows, whatever their
    group) has ``p < alpha``; when there are more than 5000 values, where
    Shapiro-Wilk p-values are unreliable and trivially small, the rule is
    instead ``|skewness| > 1`` (``scipy.stats.skew``, the Fisher-Pearson
    coefficient). Variables with fewer than 3 values or no variation get
    ``"mean"``. With ``normality=None`` every variable without a codebook
    ``summary`` gets ``"mean"``.

    Parameters
    ----------
    df : pandas.DataFrame
        The data.
    variables : Mapping[str, Mapping]
        The codebook.
    columns : sequence of str, optional
        Variables to consider; default all codebook variables except id/date.
        Only numeric/integer variables appear in the result.
    normality : {"shapiro", None}
        The rule used when the codebook gives no ``summary``.
    alpha : float
        Significance level of the Shapiro-Wilk test, in (0, 1).

    Returns
    -------
    dict of str to str
        ``{variable: "mean" | "median"}`` in ``columns`` order.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"age": [30, 41, 35, 52, 47], "crp": [1, 1, 2, 1, 90]})
    >>> book = {"age": {"type": "numeric"}, "crp": {"type": "numeric"}}
    >>> summary_choice(df, book)
    {'age': 'mean', 'crp': 'median'}
    """
    if normality not in ("shapiro", None):
        raise AnalysisError(f"normality: must be 'shapiro' or None, got {normality!r}")
    if not (isinstance(alpha, int | float) and 0 < alpha < 1):
        raise AnalysisError(f"alpha: must be a number in (0, 1), got {alpha!r}")
    choice: dict[str, str] = {}
    for name in _resolve_columns(df, variables, columns):
        spec = variables[name]
        if spec["type"] not in _CONTINUOUS:
            continue
        x = _numeric(df, variables, name).dropna().to_numpy()
        given = spec.get("summary")
        if given is not None:
            if given not in _SUMMARIES:
                raise AnalysisError(f"column '{name}': codebook 'summary' must be 'mean' or 'median', got {given!r}")
            choice[name] = given
        elif normality is None or len(x) < 3 or np.ptp(x) == 0:
            choice[name] = "mean"
        elif len(x) > _SKEW_N:
            choice[name] = "median" if abs(stats.skew(x)) > 1 else "mean"
        else:
            choice[name] = "median" if stats.shapiro(x).pvalue < alpha else "mean"
    return choice


# --------------------------------------------------------------------------- table1
def table1(
    df: pd.DataFrame,
    variables: Mapping[str, Mapping],
    columns: Sequence[str] | None = None,
    group: str | None = None,
    normality: str | None = "shapiro",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """The tidy Table 1: descriptive statistics per variable, group and level.

    Columns, in order: ``variable, level, group, n, mean, sd, median, q1, q3,
    count, percent, missing``. The first block is the pseudo-variable ``"n"``
    (``n`` and ``count`` = group size; ``missing`` = number of rows whose group
    is missing, on the Overall row). Then one block per variable in ``columns``
    order, with ``group="Overall"`` first followed by the group levels (codebook
    order for a binary/categorical group, sorted values otherwise; all as
    strings).

    * numeric/integer: one row per group, ``level=""``; ``n`` non-missing,
      ``mean``, ``sd`` (ddof=1, NaN when n < 2), ``median``, ``q1``, ``q3``
      (linear interpolation); ``count``/``percent`` NaN.
    * categorical/binary: one row per level (both ``"0"`` and ``"1"`` for
      binary); ``count``, ``percent`` of the non-missing values of the group
      (0-100), ``n`` non-missing; mean..q3 NaN.
    * ``missing`` is the number of missing values in the group.

    Rows with a missing group value count in Overall only. The per-variable
    mean/median choice of :func:`summary_choice` (using ``normality`` and
    ``alpha``) is stored in ``result.attrs["summary_choice"]`` for
    :func:`format_table1`; the numbers themselves do not depend on it.

    Parameters
    ----------
    df : pandas.DataFrame
        The data, one row per subject.
    variables : Mapping[str, Mapping]
        Codebook: ``{name: {"type": ..., "levels": [...], "label": ..., "unit": ..., "summary": ...}}``.
    columns : sequence of str, optional
        Variables to summarise; default all codebook variables except id/date
        types. The group column is never summarised (dropped if listed).
    group : str, optional
        Column defining the comparison groups; it need not be in the codebook.
    normality : {"shapiro", None}
        Passed to :func:`summary_choice`.
    alpha : float
        Passed to :func:`summary_choice`.

    Returns
    -------
    pandas.DataFrame
        The tidy table (``n`` and ``missing`` int64, statistics float64).

    Raises
    ------
    AnalysisError
        For a column missing from the data or codebook, an unknown type, a
        non-numeric numeric column, a value outside the codebook levels, or a
        binary column not coded 0/1.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"age": [30, 40, 50, 60], "sex": ["F", "M", "F", None],
    ...                    "arm": ["A", "A", "B", "B"]})
    >>> book = {"age": {"type": "numeric"}, "sex": {"type": "categorical", "levels": ["F", "M"]},
    ...         "arm": {"type": "categorical", "levels": ["A", "B"]}}
    >>> t = table1(df, book, group="arm")
    >>> t.loc[t.variable == "age", ["group", "n", "mean"]].to_string(index=False)
    '  group  n  mean\\nOverall  4  45.0\\n      A  2  35.0\\n      B  2  55.0'
    """
    names = _resolve_columns(df, variables, columns, group)
    groups = _groups(df, variables, group)
    choice = summary_choice(df, variables, names, normality=normality, alpha=alpha)

    rows: list[dict[str, Any]] = []
    n_missing_group = 0 if group is None else int(df[group].isna().sum())
    for label, mask in groups:
        size = int(mask.sum())
        rows.append({
            "variable": N_ROW, "level": "", "group": label, "n": size,
            "mean": np.nan, "sd": np.nan, "median": np.nan, "q1": np.nan, "q3": np.nan,
            "count": float(size), "percent": np.nan,
            "missing": n_missing_group if label == OVERALL else 0,
        })
    for name in names:
        if variables[name]["type"] in _CONTINUOUS:
            values = _numeric(df, variables, name)
            for label, mask in groups:
                rows.append({"variable": name, "level": "", "group": label,
                             **_continuous_row(values[mask])})
        else:
            levels, keys = _categorical(df, variables, name)
            for label, mask in groups:
                sub = keys[mask]
                observed = sub.dropna()
                n_obs = len(observed)
                counts = observed.value_counts()
                for level in levels:
                    count = int(counts.get(level, 0))
                    rows.append({
                        "variable": name, "level": level, "group": label, "n": n_obs,
                        "mean": np.nan, "sd": np.nan, "median": np.nan, "q1": np.nan, "q3": np.nan,
                        "count": float(count),
                        "percent": 100.0 * count / n_obs if n_obs else np.nan,
                        "missing": int(sub.isna().sum()),
                    })
    out = pd.DataFrame(rows, columns=list(TABLE1_COLUMNS))
    out = out.astype({"variable": object, "level": object, "group": object, "n": "int64", "missing": "int64",
                      **{c: "float64" for c in ("mean", "sd", "median", "q1", "q3", "count", "percent")}})
    out.attrs["summary_choice"] = dict(choice)
    out.attrs["group"] = group
    return out


def table1_by(
    df: pd.DataFrame,
    variables: Mapping[str, Mapping],
    by: str,
    columns: Sequence[str] | None = None,
    normality: str | None = "shapiro",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Table 1 stratified by any column (e.g. the outcome): :func:`table1` with ``group=by``.

    Parameters
    ----------
    df : pandas.DataFrame
        The data.
    variables : Mapping[str, Mapping]
        The codebook.
    by : str
        Column whose values define the groups; it is left out of the rows.
    columns, normality, alpha
        As in :func:`table1`.

    Returns
    -------
    pandas.DataFrame
        Same tidy schema as :func:`table1`.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"age": [30, 40, 50, 60], "response": [0, 1, 0, 1]})
    >>> book = {"age": {"type": "numeric"}, "response": {"type": "binary"}}
    >>> t = table1_by(df, book, by="response")
    >>> t.loc[t.variable == "age", "mean"].tolist()
    [45.0, 40.0, 50.0]
    """
    if not isinstance(by, str):
        raise AnalysisError(f"by: must be a column name, got {by!r}")
    return table1(df, variables, columns=columns, group=by, normality=normality, alpha=alpha)


# --------------------------------------------------------------------------- tests
def _cohen_d(a: np.ndarray, b: np.ndarray) -> float:
    """(mean(b) - mean(a)) / sqrt((sd_a^2 + sd_b^2) / 2), ddof=1 (Yang & Dalton 2012)."""
    if len(a) < 2 or len(b) < 2:
        return np.nan
    pooled = np.sqrt((np.var(a, ddof=1) + np.var(b, ddof=1)) / 2)
    return float((np.mean(b) - np.mean(a)) / pooled) if pooled > 0 else np.nan


def _multinomial_smd(table: np.ndarray) -> float:
    """Mahalanobis SMD of Yang & Dalton (2012) for a 2 x k table of counts.

    Levels absent from both groups are dropped; the first remaining level is the
    reference (the distance does not depend on which level is dropped).
    """
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return np.nan
    props = table / table.sum(axis=1, keepdims=True)
    p1, p2 = props[0, 1:], props[1, 1:]
    covs = []
    for p in (p1, p2):
        cov = -np.outer(p, p)
        cov[np.diag_indices_from(cov)] = p * (1 - p)
        covs.append(cov)
    diff = (p2 - p1).reshape(1, -1)
    try:
        dist2 = diff @ np.linalg.inv((covs[0] + covs[1]) / 2) @ diff.T
    except np.linalg.LinAlgError:
        return np.nan
    return float(np.sqrt(dist2[0, 0]))


def _continuous_test(xs: list[np.ndarray], summary: str) -> tuple[str, float, str]:
    k = len(xs)
    if any(len(x) == 0 for x in xs):
        return "", np.nan, "not tested: a group has no observed values"
    pooled = np.concatenate(xs)
    if np.ptp(pooled) == 0:
        return "", np.nan, "not tested: no variation"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if summary == "mean":
            if any(len(x) < 2 for x in xs):
                return "", np.nan, "not tested: a group has fewer than 2 observed values"
            if k == 2:
                return "Welch t-test", float(stats.ttest_ind(xs[0], xs[1], equal_var=False).pvalue), ""
            return "One-way ANOVA", float(stats.f_oneway(*xs).pvalue), ""
        if k == 2:
            res = stats.mannwhitneyu(xs[0], xs[1], alternative="two-sided",
                                     method="asymptotic", use_continuity=False)
            return "Mann-Whitney U", float(res.pvalue), ""
        return "Kruskal-Wallis", float(stats.kruskal(*xs).pvalue), ""


def _categorical_test(table: np.ndarray, correction: bool) -> tuple[str, float, str]:
    if np.any(table.sum(axis=1) == 0):
        return "", np.nan, "not tested: a group has no observed values"
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return "", np.nan, "not tested: no variation"
    res = stats.chi2_contingency(table, correction=correction)
    small = bool(res.expected_freq.min() < 5)
    if small and table.shape == (2, 2):
        return "Fisher's exact", float(stats.fisher_exact(table).pvalue), ""
    return "Chi-squared", float(res.pvalue), "expected count < 5" if small else ""


def table1_tests(
    df: pd.DataFrame,
    variables: Mapping[str, Mapping],
    columns: Sequence[str] | None = None,
    group: str | None = None,
    normality: str | None = "shapiro",
    alpha: float = 0.05,
    choice: Mapping[str, str] | None = None,
    correction: bool = True,
) -> pd.DataFrame:
    """Group comparisons for Table 1: test, p-value and SMD per variable.

    Columns: ``variable, test, p_value, smd, note``. Without ``group`` the test
    is ``""`` and p-value and SMD are NaN. Groups are the group levels with at
    least one row (rows with a missing group are left out). The test depends on
    the variable and on its summary (:func:`summary_choice`):

    =====================  =================  ==================
    variable               2 groups           more than 2 groups
    =====================  =================  ==================
    mean-summarised        "Welch t-test"     "One-way ANOVA"
    median-summarised      "Mann-Whitney U"   "Kruskal-Wallis"
    categorical / binary   "Chi-squared", or "Fisher's exact" for a 2x2
                           table with an expected count < 5
    =====================  =================  ==================

    A larger table with an expected count < 5 keeps the chi-squared test and
    gets ``note="expected count < 5"``. Chi-squared uses ``correction`` (Yates,
    2x2 only; default True as in ``tableone``); Mann-Whitney U uses the normal
    approximation without continuity correction (equal to Kruskal-Wallis for
    two groups, which is what ``tableone`` reports). Levels never observed are
    dropped from the contingency table. When a group has no observed values or
    the variable does not vary, the test is ``""``, p is NaN and ``note`` says why.

    The SMD is computed for exactly two groups only (NaN otherwise): Cohen's d
    ``(mean2 - mean1) / sqrt((sd1^2 + sd2^2) / 2)`` (signed, second group minus
    first) for numeric variables whatever their summary, and the multinomial
    Mahalanobis distance of Yang & Dalton (2012) for categorical/binary ones.

    Parameters
    ----------
    df : pandas.DataFrame
        The data.
    variables : Mapping[str, Mapping]
        The codebook.
    columns : sequence of str, optional
        As in :func:`table1`.
    group : str, optional
        The grouping column.
    normality, alpha
        Passed to :func:`summary_choice` when ``choice`` is not given.
    choice : Mapping[str, str], optional
        Precomputed ``{variable: "mean" | "median"}``.
    correction : bool
        Yates' continuity correction for 2x2 chi-squared tests.

    Returns
    -------
    pandas.DataFrame
        One row per variable, in ``columns`` order.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"age": [30, 40, 50, 60, 35, 45], "arm": ["A", "A", "A", "B", "B", "B"]})
    >>> book = {"age": {"type": "numeric", "summary": "mean"},
    ...         "arm": {"type": "categorical", "levels": ["A", "B"]}}
    >>> t = table1_tests(df, book, group="arm")
    >>> t[["variable", "test"]].values.tolist(), round(float(t.smd[0]), 3)
    ([['age', 'Welch t-test']], 0.587)
    """
    names = _resolve_columns(df, variables, columns, group)
    if choice is None:
        choice = summary_choice(df, variables, names, normality=normality, alpha=alpha)
    groups = _groups(df, variables, group)[1:]
    groups = [(label, mask) for label, mask in groups if mask.any()]
    rows = []
    for name in names:
        test, p, smd, note = "", np.nan, np.nan, ""
        if variables[name]["type"] in _CONTINUOUS:
            if name not in choice or choice[name] not in _SUMMARIES:
                raise AnalysisError(f"column '{name}': choice must give 'mean' or 'median'")
            if len(groups) >= 2:
                values = _numeric(df, variables, name).to_numpy()
                xs = [values[mask][~np.isnan(values[mask])] for _, mask in groups]
                test, p, note = _continuous_test(xs, choice[name])
                if len(groups) == 2:
                    smd = _cohen_d(xs[0], xs[1])
        else:
            levels, keys = _categorical(df, variables, name)
            if len(groups) >= 2:
                table = np.array([[int((keys[mask] == lvl).sum()) for lvl in levels] for _, mask in groups])
                test, p, note = _categorical_test(table, correction)
                if len(groups) == 2:
                    smd = _multinomial_smd(table)
        if group is not None and len(groups) < 2:
            note = "not tested: fewer than 2 groups with data"
        rows.append({"variable": name, "test": test, "p_value": p, "smd": smd, "note": note})
    out = pd.DataFrame(rows, columns=[*TESTS_COLUMNS, "note"])
    return out.astype({"variable": object, "test": object, "p_value": "float64", "smd": "float64", "note": object})


# --------------------------------------------------------------------------- formatting
def _fmt(x: float, decimals: int) -> str:
    return "NA" if pd.isna(x) else f"{x:.{decimals}f}"


def format_table1(
    tidy: pd.DataFrame,
    tests: pd.DataFrame | None,
    variables: Mapping[str, Mapping],
    choice: Mapping[str, str] | None = None,
    decimals: int = 1,
) -> pd.DataFrame:
    """Lay out Table 1 as a manuscript shows it.

    One row per numeric variable (``"Age, years, mean (SD)"`` or
    ``"CRP, mg/L, median [Q1, Q3]"``), and for a categorical/binary variable a
    header row ``"Sex, n (%)"`` followed by one row per level indented by four
    spaces. Columns: ``Variable``, ``"Overall (n=200)"``, one ``"<level> (n=...)"``
    per group, ``Missing`` (Overall count), and - when there are groups and
    ``tests`` is given - ``P-value`` (``"<0.001"`` or 3 decimals), ``Test``
    (with its note in parentheses, if any) and ``SMD`` (3 decimals). Every cell
    is a string; NaN statistics print as ``"NA"``.

    Parameters
    ----------
    tidy : pandas.DataFrame
        Output of :func:`table1` / :func:`table1_by`.
    tests : pandas.DataFrame or None
        Output of :func:`table1_tests`, or None to leave out test columns.
    variables : Mapping[str, Mapping]
        The codebook (labels and units).
    choice : Mapping[str, str], optional
        ``{variable: "mean" | "median"}``; default ``tidy.attrs["summary_choice"]``
        (set by :func:`table1`), else the codebook ``summary``.
    decimals : int
        Decimals for means, SDs, quantiles and percentages.

    Returns
    -------
    pandas.DataFrame
        The formatted table.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"age": [30, 40, 50, 60], "arm": ["A", "A", "B", "B"]})
    >>> book = {"age": {"type": "numeric", "label": "Age", "unit": "years", "summary": "mean"},
    ...         "arm": {"type": "categorical", "levels": ["A", "B"]}}
    >>> f = format_table1(table1(df, book, group="arm"), None, book)
    >>> f.iloc[0].tolist()
    ['Age, years, mean (SD)', '45.0 (12.9)', '35.0 (7.1)', '55.0 (7.1)', '0']
    """
    missing_cols = [c for c in TABLE1_COLUMNS if c not in tidy.columns]
    if missing_cols:
        raise AnalysisError(f"tidy: missing the table1 columns {missing_cols}")
    if not isinstance(decimals, int) or decimals < 0:
        raise AnalysisError(f"decimals: must be a non-negative integer, got {decimals!r}")
    if choice is None:
        choice = tidy.attrs.get("summary_choice", {})
    sizes = tidy[tidy["variable"] == N_ROW]
    if sizes.empty:
        raise AnalysisError("tidy: has no 'n' rows (group sizes); pass the output of table1")
    group_labels = list(dict.fromkeys(tidy["group"]))
    size_of = dict(zip(sizes["group"], sizes["count"].astype(int), strict=True))
    headers = {g: f"{g} (n={size_of[g]})" for g in group_labels}
    with_tests = tests is not None and len(group_labels) > 1
    test_rows = {}
    if with_tests:
        lacking = [c for c in TESTS_COLUMNS if c not in tests.columns]
        if lacking:
            raise AnalysisError(f"tests: missing the table1_tests columns {lacking}")
        test_rows = {r["variable"]: r for r in tests.to_dict("records")}

    def base_row(label: str) -> dict[str, str]:
        row = {"Variable": label, **{headers[g]: "" for g in group_labels}, "Missing": ""}
        if with_tests:
            row.update({"P-value": "", "Test": "", "SMD": ""})
        return row

    def add_tests(row: dict[str, str], name: str) -> None:
        if with_tests and name in test_rows:
            r = test_rows[name]
            note = r.get("note", "")
            note = "" if pd.isna(note) else str(note)
            test = "" if pd.isna(r["test"]) else str(r["test"])
            row["P-value"] = format_pvalue(r["p_value"])
            row["Test"] = f"{test} ({note})" if test and note else (test or note)
            row["SMD"] = "" if pd.isna(r["smd"]) else f"{r['smd']:.3f}"

    out = []
    body = tidy[tidy["variable"] != N_ROW]
    for name, block in body.groupby("variable", sort=False):
        spec = variables.get(name, {})
        label = ", ".join(str(x) for x in (spec.get("label", name), spec.get("unit")) if x)
        first = block[block["group"] == OVERALL]
        if (block["level"] == "").all():  # numeric
            summary = choice.get(name, spec.get("summary"))
            if summary not in _SUMMARIES:
                raise AnalysisError(f"column '{name}': no mean/median choice; pass choice=summary_choice(...)")
            row = base_row(f"{label}, mean (SD)" if summary == "mean" else f"{label}, median [Q1, Q3]")
            for r in block.to_dict("records"):
                if r["n"] == 0:
                    cell = ""
                elif summary == "mean":
                    cell = f"{_fmt(r['mean'], decimals)} ({_fmt(r['sd'], decimals)})"
                else:
                    cell = f"{_fmt(r['median'], decimals)} [{_fmt(r['q1'], decimals)}, {_fmt(r['q3'], decimals)}]"
                row[headers[r["group"]]] = cell
            row["Missing"] = str(int(first["missing"].iloc[0]))
            add_tests(row, name)
            out.append(row)
        else:
            head = base_row(f"{label}, n (%)")
            head["Missing"] = str(int(first["missing"].iloc[0]))
            add_tests(head, name)
            out.append(head)
            for level, lblock in block.groupby("level", sort=False):
                row = base_row(f"    {level}")
                for r in lblock.to_dict("records"):
                    row[headers[r["group"]]] = f"{int(r['count'])} ({_fmt(r['percent'], decimals)})"
                out.append(row)
    columns = ["Variable", *headers.values(), "Missing"] + (["P-value", "Test", "SMD"] if with_tests else [])
    return pd.DataFrame(out, columns=columns)
