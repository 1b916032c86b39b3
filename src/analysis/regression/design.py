"""Design matrices from a codebook: typed columns, dummy coding, splines, events per parameter."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.optimize
import scipy.stats

from analysis.errors import AnalysisError
from analysis.regression.splines import rcs_basis, rcs_column_names, rcs_knots
from analysis.validators import as_list, caller_stacklevel, codebook_entry, require_columns

MODEL_TYPES = {"numeric", "integer", "binary", "categorical"}


EPP_THRESHOLD = 10.0


def numeric_values(series: pd.Series, name: str) -> pd.Series:
    if series.dtype == bool:
        series = series.astype(float)
    if not pd.api.types.is_numeric_dtype(series):
        raise AnalysisError(f"column '{name}' is numeric in the codebook but holds {series.dtype}")
    return series.astype(float)


def binary_values(series: pd.Series, name: str) -> pd.Series:
    values = numeric_values(series, name)
    bad = sorted(set(values.dropna().unique()) - {0.0, 1.0})
    if bad:
        raise AnalysisError(f"column '{name}' is binary and must hold 0/1; found {bad[:5]}")
    return values


def categorical_values(series: pd.Series, name: str, spec: Mapping) -> tuple[pd.Series, list]:
    levels = list(spec.get("levels") or [])
    if len(levels) < 2:
        raise AnalysisError(f"column '{name}' is categorical and needs >= 2 codebook 'levels'")
    if len(set(levels)) != len(levels):
        raise AnalysisError(f"column '{name}': codebook levels are not unique: {levels}")
    values = series.astype(object) if isinstance(series.dtype, pd.CategoricalDtype) else series
    observed = values.dropna()
    bad = observed[~observed.isin(levels)].unique().tolist()
    if bad:
        raise AnalysisError(
            f"column '{name}' holds values {bad[:5]} that are not among its codebook levels {levels}"
        )
    return values, levels


def binary_outcome(df: pd.DataFrame, outcome: str, variables: Mapping) -> pd.Series:
    spec = codebook_entry(variables, outcome)
    if spec["type"] != "binary":
        raise AnalysisError(
            f"outcome '{outcome}' has codebook type '{spec['type']}'; logistic regression needs 'binary'"
        )
    return binary_values(df[outcome], outcome)


def continuous_outcome(df: pd.DataFrame, outcome: str, variables: Mapping) -> pd.Series:
    spec = codebook_entry(variables, outcome)
    if spec["type"] not in {"numeric", "integer"}:
        raise AnalysisError(
            f"outcome '{outcome}' has codebook type '{spec['type']}'; linear regression needs "
            "'numeric' or 'integer'"
        )
    return numeric_values(df[outcome], outcome)


def design_matrix(
    df: pd.DataFrame,
    predictors: Sequence[str],
    variables: Mapping[str, Mapping],
    splines: Mapping[str, int | Sequence[float]] | None = None,
    drop_constant: bool = True,
) -> pd.DataFrame:
    """Build the model columns (no intercept) for ``predictors``.

    Parameters
    ----------
    df : pandas.DataFrame
        Analysis data; missing values give NaN in every column of that predictor.
    predictors : sequence of str
        Predictor columns, each described in ``variables`` with type numeric, integer,
        binary or categorical.
    variables : mapping
        Codebook. Categorical entries list ``levels``; the first is the reference.
        ``"transform": "log"`` log-transforms a numeric predictor (values must be > 0) to base 2,
        so that its odds ratio is per doubling.
    splines : mapping of str to int or sequence of float, optional
        Predictors to expand as restricted cubic splines: a number of knots (3 to 7, placed
        at Harrell's quantiles of the non-missing values) or the knots themselves.
    drop_constant : bool, default True
        Drop, with a warning naming the column, predictors that are constant among the
        non-missing rows and categorical levels that never occur. If the reference level
        never occurs, the first observed level becomes the reference (with a warning).

    Returns
    -------
    pandas.DataFrame
        Float columns named ``var``, ``var[level]`` or ``var``, ``var'``, ... (splines),
        same index as ``df``. ``.attrs`` holds ``reference_levels`` ({var: level}),
        ``term_variable`` ({term: var}), ``variable_terms`` ({var: [terms]}), ``knots``
        ({var: [knots]}) and ``dropped`` (list of dropped predictors or terms).

    Raises
    ------
    AnalysisError
        Unknown column, codebook type that cannot be modelled (id, date), values outside
        the codebook (non-0/1 binary, unknown level), log of values <= 0, or splines of a
        non-numeric predictor.

    Examples
    --------
    >>> df = pd.DataFrame({"age": [30.0, 40, 50, 60], "race": ["white", "black", "other", "white"]})
    >>> codebook = {"age": {"type": "numeric"},
    ...             "race": {"type": "categorical", "levels": ["white", "black", "other"]}}
    >>> X = design_matrix(df, ["age", "race"], codebook)
    >>> list(X.columns)
    ['age', 'race[black]', 'race[other]']
    >>> X.attrs["reference_levels"]
    {'race': 'white'}
    """
    predictors = as_list(predictors, "predictors")
    require_columns(df, predictors)
    splines = dict(splines or {})
    unknown = set(splines) - set(predictors)
    if unknown:
        raise AnalysisError(f"splines requested for {sorted(unknown)}, which are not predictors")

    blocks: list[pd.DataFrame] = []
    reference_levels: dict[str, object] = {}
    term_variable: dict[str, str] = {}
    variable_terms: dict[str, list[str]] = {}
    knots_used: dict[str, list[float]] = {}
    dropped: list[str] = []

    for name in predictors:
        spec = codebook_entry(variables, name)
        vtype = spec["type"]
        if vtype not in MODEL_TYPES:
            raise AnalysisError(
                f"column '{name}' has codebook type '{vtype}' and cannot be a model predictor"
            )
        if name in splines and vtype not in {"numeric", "integer"}:
            raise AnalysisError(f"column '{name}' has type '{vtype}'; splines need a numeric predictor")

        if vtype == "categorical":
            values, levels = categorical_values(df[name], name, spec)
            present = [lv for lv in levels if values.isin([lv]).any()]
            ref = levels[0]
            keep_levels = levels[1:]
            if drop_constant:
                if len(present) <= 1:
                    warnings.warn(
                        f"predictor '{name}' has {len(present)} observed level(s) "
                        f"{present} in the analysis rows; dropped from the model",
                        UserWarning,
                        stacklevel=caller_stacklevel(),
                    )
                    dropped.append(name)
                    continue
                if ref not in present:
                    warnings.warn(
                        f"predictor '{name}': reference level {ref!r} never occurs in the "
                        f"analysis rows; using {present[0]!r} as the reference instead",
                        UserWarning,
                        stacklevel=caller_stacklevel(),
                    )
                    ref = present[0]
                empty = [lv for lv in levels[1:] if lv not in present]
                for lv in empty:
                    warnings.warn(
                        f"predictor '{name}': level {lv!r} never occurs in the analysis rows; "
                        f"term '{name}[{lv}]' dropped",
                        UserWarning,
                        stacklevel=caller_stacklevel(),
                    )
                    dropped.append(f"{name}[{lv}]")
                keep_levels = [lv for lv in levels if lv in present and lv != ref]
            missing = values.isna().to_numpy()
            cols = {}
            for lv in keep_levels:
                col = values.isin([lv]).to_numpy(dtype=float)
                col[missing] = np.nan
                cols[f"{name}[{lv}]"] = col
            block = pd.DataFrame(cols, index=df.index)
            reference_levels[name] = ref
        else:
            if vtype == "binary":
                values = binary_values(df[name], name)
            else:
                values = numeric_values(df[name], name)
            if spec.get("transform") == "log":
                if (values.dropna() <= 0).any():
                    raise AnalysisError(
                        f"column '{name}' has transform 'log' but holds values <= 0"
                    )
                values = np.log2(values)  # an odds ratio per doubling
            elif spec.get("transform") not in (None, "", "none"):
                raise AnalysisError(
                    f"column '{name}': unknown transform {spec.get('transform')!r} (only 'log')"
                )
            if drop_constant and values.dropna().nunique() <= 1:
                warnings.warn(
                    f"predictor '{name}' is constant in the analysis rows "
                    f"(values {values.dropna().unique()[:1].tolist()}); dropped from the model",
                    UserWarning,
                    stacklevel=caller_stacklevel(),
                )
                dropped.append(name)
                continue
            if name in splines:
                spec_knots = splines[name]
                if isinstance(spec_knots, int | np.integer) and not isinstance(spec_knots, bool):
                    knots = rcs_knots(values.to_numpy(), int(spec_knots), name=name)
                else:
                    knots = np.asarray(spec_knots, dtype=float)
                basis = rcs_basis(values.to_numpy(), knots)
                names = rcs_column_names(name, len(knots))
                block = pd.DataFrame(basis, index=df.index, columns=names)
                knots_used[name] = [float(k) for k in knots]
            else:
                block = pd.DataFrame({name: values.to_numpy(dtype=float)}, index=df.index)
        blocks.append(block)
        variable_terms[name] = list(block.columns)
        for term in block.columns:
            term_variable[term] = name

    X = pd.concat(blocks, axis=1) if blocks else pd.DataFrame(index=df.index)
    X.attrs = {
        "reference_levels": reference_levels,
        "term_variable": term_variable,
        "variable_terms": variable_terms,
        "knots": knots_used,
        "dropped": dropped,
    }
    return X


def check_rank(X: pd.DataFrame) -> None:
    """Raise if the design (with intercept) is rank deficient, naming a culprit term."""
    A = np.column_stack([np.ones(len(X)), X.to_numpy(dtype=float)])
    if A.shape[1] > A.shape[0]:
        raise AnalysisError(
            f"{A.shape[1]} model parameters but only {A.shape[0]} complete rows"
        )
    _, r, piv = scipy.linalg.qr(A, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    tol = diag.max() * max(A.shape) * np.finfo(float).eps * 10
    rank = int((diag > tol).sum())
    if rank < A.shape[1]:
        names = ["(intercept)", *X.columns]
        culprits = [names[i] for i in piv[rank:]]
        raise AnalysisError(
            f"model terms are collinear: {culprits} are linear combinations of the other terms"
        )


def events_per_parameter(df: pd.DataFrame, outcome: str, n_parameters: int) -> float:
    """Events per candidate parameter (EPP) of a binary outcome.

    Parameters
    ----------
    df : pandas.DataFrame
        Data; rows with a missing outcome are ignored.
    outcome : str
        0/1 outcome column.
    n_parameters : int
        Number of regression parameters, intercept excluded.

    Returns
    -------
    float
        ``min(#1, #0) / n_parameters``: the count of the rarer outcome class (Harrell's
        limiting sample size) per parameter.

    Examples
    --------
    >>> events_per_parameter(pd.DataFrame({"y": [1, 1, 0, 0, 0, 0]}), "y", 1)
    2.0
    """
    require_columns(df, [outcome])
    if isinstance(n_parameters, bool) or not isinstance(n_parameters, int | np.integer) or n_parameters < 1:
        raise AnalysisError(f"n_parameters must be a positive integer, got {n_parameters!r}")
    y = binary_values(df[outcome], outcome).dropna()
    events = min(int((y == 1).sum()), int((y == 0).sum()))
    return events / int(n_parameters)


def warn_events_per_parameter(y: np.ndarray, n_parameters: int, outcome: str, what: str) -> float:
    if n_parameters < 1:
        return np.inf
    ones, zeros = int((y == 1).sum()), int((y == 0).sum())
    limiting = min(ones, zeros)
    epp = limiting / n_parameters
    if epp < EPP_THRESHOLD:
        warnings.warn(
            f"{what} for '{outcome}': events per parameter (EPP) = {epp:.1f} "
            f"({limiting} events of the rarer outcome class / {n_parameters} parameters) is "
            f"below {EPP_THRESHOLD:g}; estimates may be unstable and overfitted",
            UserWarning,
            stacklevel=caller_stacklevel(),
        )
    return epp


def complete_rows(df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    return df.loc[df[list(columns)].notna().all(axis=1), list(columns)]
