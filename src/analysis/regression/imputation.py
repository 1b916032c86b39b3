"""Multiple imputation by chained equations (MICE) and Rubin's rules.

Imputation engine: statsmodels' :class:`statsmodels.imputation.mice.MICEData`, chosen over
scikit-learn's ``IterativeImputer`` because it imputes by predictive mean matching (PMM):
every imputed value is a value observed in another row, so binary columns stay 0/1 and
categorical columns stay on their codebook levels, and the imputation-model parameters are
drawn from their approximate posterior (``perturbation_method="gaussian"``) so that the
imputations carry between-imputation uncertainty.

Details of :func:`impute_mice`:

* every column (predictors *and* outcome) is imputed from the main effects of all the
  others by OLS + PMM with ``k_pmm`` donors; categorical columns enter the other columns'
  imputation models as dummies and are themselves imputed on their level codes (PMM keeps
  them on observed levels, but the linear predictor treats the codes as ordered: a
  limitation for unordered categories with many levels);
* the conditional design matrices are built with numpy rather than statsmodels' formulas
  (same main-effects models, several times faster); parameter draws and PMM are
  statsmodels';
* numeric columns are imputed on their raw scale (a codebook ``transform`` is applied
  afterwards, when the model is built);
* each of the ``m`` imputations is the end of its own chain of ``burn_in`` cycles, as in
  R's ``mice``; chain ``j`` uses ``numpy.random.SeedSequence(seed).spawn(m)[j]``, so results
  are reproducible and do not touch numpy's global random state.

:func:`mice_fits` fits the analysis model to every imputed data set and
:func:`rubins_rules` pools the estimates (Rubin 1987) with the Barnard-Rubin (1999)
small-sample degrees of freedom.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from statsmodels.imputation.mice import MICEData

from analysis.errors import AnalysisError

__all__ = ["MiceFits", "impute_mice", "mice_fits", "rubins_rules"]

_MICE_HAS_RNG = "rng" in inspect.signature(MICEData).parameters


@dataclass
class MiceFits:
    """Per-imputation fits of one analysis model.

    Attributes
    ----------
    imputations : list of pandas.DataFrame
        The ``m`` completed data sets (columns: predictors and outcome, original index).
    terms : list of str
        Parameter names, ``"(intercept)"`` first, then the design terms.
    estimates, variances : numpy.ndarray, shape (m, len(terms))
        Coefficients and their squared standard errors in each imputed data set.
    n : int
        Rows analysed.
    df_complete : float
        Complete-data residual degrees of freedom, ``n - len(terms)``.
    design : pandas.DataFrame
        Design matrix of the *observed* data (with NaN); its ``attrs`` describe the terms.
    separated : numpy.ndarray of bool
        Parameters flagged for separation in any imputed data set (logistic models).
    model : str
        ``"logistic"`` or ``"linear"``.
    """

    imputations: list[pd.DataFrame]
    terms: list[str]
    estimates: np.ndarray
    variances: np.ndarray
    n: int
    df_complete: float
    design: pd.DataFrame
    separated: np.ndarray
    model: str
    knots: dict = field(default_factory=dict)


def _encode(df: pd.DataFrame, columns: Sequence[str], variables: Mapping) -> tuple[pd.DataFrame, dict]:
    """Numeric copy of ``columns`` with safe names; categorical levels become codes."""
    from analysis.regression.design import binary_values, categorical_values, numeric_values
    from analysis.validators import codebook_entry

    encoded = {}
    levels_of = {}
    for i, name in enumerate(columns):
        spec = codebook_entry(variables, name)
        vtype = spec["type"]
        safe = f"v{i}"
        if vtype == "categorical":
            values, levels = categorical_values(df[name], name, spec)
            codes = {lv: float(k) for k, lv in enumerate(levels)}
            encoded[safe] = values.map(lambda v, codes=codes: codes.get(v, np.nan)).astype(float)
            levels_of[name] = levels
        elif vtype == "binary":
            encoded[safe] = binary_values(df[name], name)
        elif vtype in {"numeric", "integer"}:
            encoded[safe] = numeric_values(df[name], name)
        else:
            raise AnalysisError(f"column '{name}' has type '{vtype}' and cannot be imputed")
    return pd.DataFrame(encoded, index=df.index), levels_of


def _decode(data: pd.DataFrame, columns: Sequence[str], variables: Mapping, levels_of: dict,
            index: pd.Index) -> pd.DataFrame:
    out = {}
    for i, name in enumerate(columns):
        values = data[f"v{i}"].to_numpy()
        if name in levels_of:
            levels = levels_of[name]
            out[name] = pd.Series([levels[int(round(v))] for v in values], index=index,
                                  dtype=object)
        elif variables[name]["type"] in {"binary", "integer"}:
            out[name] = pd.Series(np.round(values).astype(int), index=index)
        else:
            out[name] = pd.Series(values, index=index)
    return pd.DataFrame(out, index=index)


def impute_mice(
    df: pd.DataFrame,
    columns: Sequence[str],
    variables: Mapping[str, Mapping],
    m: int = 20,
    seed: int = 0,
    burn_in: int = 10,
    k_pmm: int = 5,
) -> list[pd.DataFrame]:
    """Draw ``m`` completed data sets by chained equations with predictive mean matching.

    Parameters
    ----------
    df : pandas.DataFrame
        Data with missing values.
    columns : sequence of str
        Columns to impute and to impute from (codebook types numeric, integer, binary,
        categorical).
    variables : mapping
        Codebook.
    m : int, default 20
        Number of imputations (independent chains).
    seed : int, default 0
        Seed; chain ``j`` uses ``SeedSequence(seed).spawn(m)[j]``.
    burn_in : int, default 10
        Chained-equation cycles per chain.
    k_pmm : int, default 5
        Donors for predictive mean matching.

    Returns
    -------
    list of pandas.DataFrame
        ``m`` data sets with ``columns`` only, the original index, observed values
        unchanged, categorical values on codebook levels and binary/integer columns as int.

    Raises
    ------
    AnalysisError
        Unknown column, non-imputable type, a column with no observed value or a row
        with no observed value, ``m < 2`` or ``burn_in < 1``.

    Examples
    --------
    >>> df = pd.DataFrame({"x": [1.0, 2.0, np.nan, 4.0, 5.0, 6.0, 7.0, 8.0],
    ...                    "y": [0, 0, 1, 0, 1, 1, 1, 1]})
    >>> codebook = {"x": {"type": "numeric"}, "y": {"type": "binary"}}
    >>> imps = impute_mice(df, ["x", "y"], codebook, m=2, seed=1, burn_in=2)
    >>> len(imps), bool(imps[0]["x"].notna().all())
    (2, True)
    """
    from analysis.validators import as_list, require_columns

    columns = as_list(columns, "columns")
    require_columns(df, columns)
    if isinstance(m, bool) or not isinstance(m, int | np.integer) or m < 2:
        raise AnalysisError(f"m (number of imputations) must be an integer >= 2, got {m!r}")
    if isinstance(burn_in, bool) or not isinstance(burn_in, int | np.integer) or burn_in < 1:
        raise AnalysisError(f"burn_in must be a positive integer, got {burn_in!r}")
    encoded, levels_of = _encode(df, columns, variables)
    for i, name in enumerate(columns):
        if encoded[f"v{i}"].isna().all():
            raise AnalysisError(f"column '{name}' has no observed values to impute from")
    if encoded.isna().all(axis=1).any():
        raise AnalysisError(f"some rows have no observed value in any of {columns}")
    categorical_codes = {
        f"v{i}": sorted(encoded[f"v{i}"].dropna().unique().tolist())
        for i, name in enumerate(columns)
        if name in levels_of
    }
    index = df.index
    data = encoded.reset_index(drop=True)
    children = np.random.SeedSequence(seed).spawn(int(m))
    imputations = []
    for child in children:
        imputations.append(
            _decode(_one_chain(data, categorical_codes, child, burn_in, k_pmm),
                    columns, variables, levels_of, index)
        )
    return imputations


class _MainEffectsMICEData(MICEData):
    """``MICEData`` whose conditional models are main effects of all other columns.

    statsmodels builds each conditional design matrix from a formula at every update,
    which dominates the run time on small data; here it is built with numpy (intercept,
    numeric columns, dummies of the observed codes of categorical columns, first code as
    reference). Parameter perturbation and predictive mean matching are statsmodels'.
    """

    def __init__(self, data: pd.DataFrame, categorical_codes: Mapping[str, list[float]], **kwargs):
        self._categorical_codes = dict(categorical_codes)
        super().__init__(data, **kwargs)

    def _exog(self, vname: str) -> np.ndarray:
        cols = [np.ones(len(self.data))]
        for col in self.data.columns:
            if col == vname:
                continue
            values = self.data[col].to_numpy(dtype=float)
            if col in self._categorical_codes:
                cols.extend((values == code).astype(float) for code in self._categorical_codes[col][1:])
            else:
                cols.append(values)
        return np.column_stack(cols)

    def get_fitting_data(self, vname):  # noqa: D102 - same contract as MICEData's
        ix = self.ix_obs[vname]
        endog = self.data[vname].to_numpy(dtype=float)[ix].copy()
        exog = self._exog(vname)[ix, :]
        return endog, exog, {}, {}

    def get_split_data(self, vname):  # noqa: D102 - same contract as MICEData's
        exog = self._exog(vname)
        ixo, ixm = self.ix_obs[vname], self.ix_miss[vname]
        endog_obs = self.data[vname].to_numpy(dtype=float)[ixo].copy()
        return endog_obs, exog[ixo, :], exog[ixm, :], {}, {}


def _one_chain(data: pd.DataFrame, categorical_codes: dict, seed_seq, burn_in: int,
               k_pmm: int) -> pd.DataFrame:
    def build(rng):
        kwargs = {"rng": rng} if rng is not None else {}
        imp = _MainEffectsMICEData(data, categorical_codes, k_pmm=k_pmm, **kwargs)
        imp.update_all(burn_in)
        return imp.data.copy()

    if _MICE_HAS_RNG:
        return build(np.random.default_rng(seed_seq))
    # statsmodels < 0.15 draws from numpy's global RandomState: seed it and restore it
    state = np.random.get_state()  # noqa: NPY002 - statsmodels 0.14 has no rng argument
    try:
        np.random.seed(seed_seq.generate_state(1)[0])  # noqa: NPY002
        return build(None)
    finally:
        np.random.set_state(state)  # noqa: NPY002


def mice_fits(
    df: pd.DataFrame,
    predictors: Sequence[str],
    outcome: str,
    variables: Mapping[str, Mapping],
    m: int = 20,
    seed: int = 0,
    burn_in: int = 10,
    *,
    model: str = "auto",
    splines: Mapping[str, int | Sequence[float]] | None = None,
    k_pmm: int = 5,
) -> MiceFits:
    """Impute with :func:`impute_mice` and fit the analysis model to each data set.

    Parameters
    ----------
    df : pandas.DataFrame
        Analysis data; rows with a missing outcome are dropped (with a warning). The
        outcome is used to impute the predictors.
    predictors : sequence of str
        Model predictors.
    outcome : str
        Outcome column.
    variables : mapping
        Codebook.
    m, seed, burn_in : int
        As in :func:`impute_mice`.
    model : {"auto", "logistic", "linear"}, default "auto"
        ``"auto"`` picks logistic for a binary outcome and linear otherwise.
    splines : mapping, optional
        Restricted cubic splines; knots are placed once on the observed values and reused
        in every imputed data set.
    k_pmm : int, default 5
        Donors for predictive mean matching.

    Returns
    -------
    MiceFits
        Imputed data sets, per-imputation estimates and variances (intercept first).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"x": rng.normal(size=60)})
    >>> df["y"] = 2 * df["x"] + rng.normal(size=60)
    >>> df.loc[:9, "x"] = np.nan
    >>> codebook = {"x": {"type": "numeric"}, "y": {"type": "numeric"}}
    >>> fits = mice_fits(df, ["x"], "y", codebook, m=3, burn_in=2)
    >>> fits.terms, fits.estimates.shape
    (['(intercept)', 'x'], (3, 2))
    """
    from analysis.regression.design import design_matrix
    from analysis.regression.fits import fit_linear, fit_logistic
    from analysis.validators import as_list, caller_stacklevel, codebook_entry, require_columns

    predictors = as_list(predictors, "predictors")
    if outcome in predictors:
        raise AnalysisError(f"outcome '{outcome}' is also listed among the predictors")
    require_columns(df, [*predictors, outcome])
    otype = codebook_entry(variables, outcome)["type"]
    if model == "auto":
        model = "logistic" if otype == "binary" else "linear"
    if model not in {"logistic", "linear"}:
        raise AnalysisError(f"model must be 'auto', 'logistic' or 'linear', got {model!r}")
    data = df[[*predictors, outcome]]
    n_missing_outcome = int(data[outcome].isna().sum())
    if n_missing_outcome:
        warnings.warn(
            f"outcome '{outcome}' is missing in {n_missing_outcome} rows; they are excluded",
            UserWarning,
            stacklevel=caller_stacklevel(),
        )
        data = data.loc[data[outcome].notna()]
    observed = design_matrix(data, predictors, variables, splines=splines)
    terms = list(observed.columns)
    if not terms:
        raise AnalysisError(f"no model terms left for {predictors} after dropping")
    knots = observed.attrs["knots"]
    imputations = impute_mice(data, [*predictors, outcome], variables, m=m, seed=seed,
                              burn_in=burn_in, k_pmm=k_pmm)
    estimates, variances, separated = [], [], np.zeros(len(terms) + 1, dtype=bool)
    for imp in imputations:
        X = design_matrix(imp, predictors, variables, splines=knots or None,
                          drop_constant=False)[terms]
        X.attrs = observed.attrs
        y = imp[outcome].to_numpy(dtype=float)
        if model == "logistic":
            fit = fit_logistic(X, y, outcome, warn=False)
            separated |= fit.separated
        else:
            fit = fit_linear(X, y, outcome)
        estimates.append(fit.params)
        variances.append(np.diag(fit.cov))
    if separated.any():
        flagged = [t for t, s in zip(["(intercept)", *terms], separated, strict=True) if s]
        warnings.warn(
            f"logistic model for '{outcome}': complete or quasi-complete separation for "
            f"term(s) {flagged} in at least one imputed data set; pooled estimates of the "
            "flagged terms are meaningless",
            UserWarning,
            stacklevel=caller_stacklevel(),
        )
    n = len(data)
    return MiceFits(
        imputations=imputations,
        terms=["(intercept)", *terms],
        estimates=np.vstack(estimates),
        variances=np.vstack(variances),
        n=n,
        df_complete=float(n - len(terms) - 1),
        design=observed,
        separated=separated,
        model=model,
        knots=dict(knots),
    )


def rubins_rules(
    estimates,
    variances,
    df_complete: float = np.inf,
    terms: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Pool estimates from ``m`` imputed data sets with Rubin's rules.

    With ``Q`` the estimates and ``U`` their variances (rows = imputations):
    ``Qbar = mean(Q)``, within ``W = mean(U)``, between ``B = var(Q, ddof=1)``, total
    ``T = W + (1 + 1/m) B``, ``lambda = (1 + 1/m) B / T``, relative increase in variance
    ``riv = (1 + 1/m) B / W``. Degrees of freedom (Barnard & Rubin 1999):
    ``df_old = (m - 1) / lambda^2``, ``df_obs = (df_com + 1) / (df_com + 3) * df_com *
    (1 - lambda)``, ``df = df_old * df_obs / (df_old + df_obs)`` (``df_old`` alone when
    ``df_complete`` is infinite). Fraction of missing information as in R's ``mice``:
    ``fmi = (riv + 2 / (df + 3)) / (riv + 1)``.

    Parameters
    ----------
    estimates : array_like, shape (m, k)
        Point estimates, one row per imputation.
    variances : array_like, shape (m, k)
        Squared standard errors, same shape.
    df_complete : float, default inf
        Complete-data degrees of freedom (e.g. ``n - k``).
    terms : sequence of str, optional
        Names for the ``k`` parameters, returned in a ``term`` column.

    Returns
    -------
    pandas.DataFrame
        One row per parameter: ``estimate, within, between, total, se, riv, lambda, df,
        fmi`` (preceded by ``term`` if given).

    Examples
    --------
    >>> pooled = rubins_rules([[1.0], [2.0], [3.0]], [[0.5], [0.5], [0.5]])
    >>> pooled[["estimate", "between", "total"]].round(4).to_dict("records")
    [{'estimate': 2.0, 'between': 1.0, 'total': 1.8333}]
    """
    Q = np.asarray(estimates, dtype=float)
    U = np.asarray(variances, dtype=float)
    if Q.ndim == 1:
        Q = Q[:, None]
    if U.ndim == 1:
        U = U[:, None]
    if Q.shape != U.shape or Q.ndim != 2:
        raise AnalysisError(
            f"estimates and variances must be (m, k) arrays of one shape, got {Q.shape} and {U.shape}"
        )
    m, k = Q.shape
    if m < 2:
        raise AnalysisError(f"Rubin's rules need at least 2 imputations, got {m}")
    if np.any(U < 0):
        raise AnalysisError("variances must be non-negative")
    if not (df_complete > 0):
        raise AnalysisError(f"df_complete must be positive, got {df_complete}")
    qbar = Q.mean(axis=0)
    within = U.mean(axis=0)
    between = Q.var(axis=0, ddof=1)
    total = within + (1 + 1 / m) * between
    with np.errstate(divide="ignore", invalid="ignore"):
        riv = (1 + 1 / m) * between / within
        lam = (1 + 1 / m) * between / total
        df_old = np.where(lam > 0, (m - 1) / lam**2, np.inf)
    if np.isinf(df_complete):
        df = df_old
    else:
        df_obs = (df_complete + 1) / (df_complete + 3) * df_complete * (1 - lam)
        with np.errstate(invalid="ignore"):
            df = np.where(np.isinf(df_old), df_obs, df_old * df_obs / (df_old + df_obs))
    fmi = (riv + 2 / (df + 3)) / (riv + 1)
    out = pd.DataFrame(
        {
            "estimate": qbar,
            "within": within,
            "between": between,
            "total": total,
            "se": np.sqrt(total),
            "riv": riv,
            "lambda": lam,
            "df": df,
            "fmi": fmi,
        }
    )
    if terms is not None:
        terms = list(terms)
        if len(terms) != k:
            raise AnalysisError(f"{len(terms)} terms given for {k} parameters")
        out.insert(0, "term", terms)
    return out
