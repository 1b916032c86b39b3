"""Latent classes of a study's mixed-type variables: codebook-driven standardisation and the model.

The outcome-free core shared by the descriptive phenotypes (:mod:`analysis.describe.phenotypes`,
notebook 09) and the phenotype offered to the prediction models as a candidate predictor
(:class:`analysis.models.phenotype.PhenotypeFeatures`), so both use one implementation:

* :class:`MixedStandardiser` - learns, from the fitting rows, each variable's margin and
  transform (the codebook's, else :data:`SKEW_RULE`), its centring and scaling, its
  within-class variance floor and its imputation (for the FAMD matrix only), and applies
  them to new rows;
* :class:`PhenotypeModel` - the :class:`~analysis.regression.mixture.LatentClassMixture`
  fitted on the standardised variables, its classes numbered ``1..k`` in a canonical order
  (decreasing size on the fitting data, then decreasing class weight, then the mixture's
  order), so that a fixed seed gives identical labels and a refit the same labels where the
  classes are the same;
* :func:`bic_by_classes` - the Bayesian information criterion for each number of classes and
  the one it chooses (minimum BIC).

The input checks (:func:`check_variables`, :func:`numeric_values`, :func:`binary_values`,
:func:`categorical_keys`, :func:`check_k`) raise :class:`~analysis.errors.AnalysisError`
naming the variable.

Continuous variables (numeric and integer):

* transform: the codebook's ``transform`` when declared (``log`` and ``log1p`` both mean
  ``log1p``, the shifted log that accepts zeros; ``sqrt``; ``none``); otherwise the rule
  :data:`SKEW_RULE`;
* then centred and scaled to unit variance (observed values);
* within-class variance floor: :data:`VARIANCE_FLOOR` of the variable's variance and, for an
  integer variable, Sheppard's rounding variance of its smallest observed value on the
  transformed scale (if larger).

Binary and categorical variables enter with categorical margins (codes ``0..L-1``); missing
values stay NaN and drop out of a patient's likelihood (no imputation).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import AnalysisError
from analysis.regression.mixture import LatentClassMixture

__all__ = [
    "BIC_COLUMNS",
    "CLUSTER_TYPES",
    "NUMERIC_TYPES",
    "SKEW_RULE",
    "SKEW_THRESHOLD",
    "VARIANCE_FLOOR",
    "MixedStandardiser",
    "PhenotypeModel",
    "bic_by_classes",
    "binary_values",
    "categorical_keys",
    "check_k",
    "check_variables",
    "numeric_values",
]

#: Floor of the within-class variance of a continuous variable, as a share of its variance.
VARIANCE_FLOOR = 0.01
#: Sample skewness above which an undeclared non-negative variable is considered for log1p.
SKEW_THRESHOLD = 0.5
#: The transform rule for variables whose codebook entry declares none.
SKEW_RULE = (f"log1p if non-negative, skewness > {SKEW_THRESHOLD} and log1p brings the "
             "skewness closer to 0")
NUMERIC_TYPES = frozenset({"numeric", "integer"})
CLUSTER_TYPES = NUMERIC_TYPES | {"binary", "categorical"}
_FUNCTIONS = {"none": lambda x: x, "log1p": np.log1p, "sqrt": np.sqrt}


# --------------------------------------------------------------------------- input checks
def _level_str(value) -> str:
    if isinstance(value, bool | np.bool_):
        return str(int(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating) and np.isfinite(value) and float(value).is_integer():
        return str(int(value))
    return str(value)


def check_variables(frame, variables, codebook) -> list[str]:
    """The variable names, checked: columns of ``frame``, in the codebook, of a clusterable type.

    Examples
    --------
    >>> check_variables(pd.DataFrame({"a": [1.0, 2.0]}), "a", {"a": {"type": "numeric"}})
    ['a']
    """
    if not isinstance(frame, pd.DataFrame):
        raise AnalysisError(f"frame: must be a pandas DataFrame, got {type(frame).__name__}")
    if isinstance(variables, str):
        variables = [variables]
    names = list(variables)
    if not names:
        raise AnalysisError("variables: no variables given")
    if len(set(names)) != len(names):
        raise AnalysisError(f"variables: duplicated names in {names}")
    for name in names:
        if name not in frame.columns:
            raise AnalysisError(f"variable '{name}': not a column of the data")
        if name not in codebook:
            raise AnalysisError(f"variable '{name}': not in the codebook")
        vtype = codebook[name].get("type")
        if vtype not in CLUSTER_TYPES:
            raise AnalysisError(
                f"variable '{name}': codebook type {vtype!r} cannot be clustered "
                f"(one of {sorted(CLUSTER_TYPES)})")
        if frame[name].isna().all():
            raise AnalysisError(f"variable '{name}': has no non-missing values")
    if len(frame) < 2:
        raise AnalysisError(f"frame: needs at least 2 patients, has {len(frame)}")
    return names


def numeric_values(frame, codebook, name) -> pd.Series:
    """Column ``name`` as float (NaN = missing); refuses non-numeric or infinite values.

    Examples
    --------
    >>> numeric_values(pd.DataFrame({"a": [1, None]}), {"a": {"type": "numeric"}}, "a").tolist()
    [1.0, nan]
    """
    col = frame[name]
    if pd.api.types.is_bool_dtype(col) or not pd.api.types.is_numeric_dtype(col):
        raise AnalysisError(f"variable '{name}': type '{codebook[name]['type']}' requires numeric values")
    values = col.astype(float)
    if np.isinf(values).any():
        raise AnalysisError(f"variable '{name}': holds infinite values")
    return values


def binary_values(frame, name) -> pd.Series:
    """Column ``name`` as float 0/1 (NaN = missing); refuses any other value.

    Examples
    --------
    >>> binary_values(pd.DataFrame({"a": [True, False, None]}), "a").tolist()
    [1.0, 0.0, nan]
    """
    col = frame[name]
    values = pd.to_numeric(col.astype(object).where(col.notna(), np.nan), errors="coerce")
    bad = col.notna() & ~values.isin([0, 1])
    if bad.any():
        raise AnalysisError(f"variable '{name}': type 'binary' requires values 0/1; "
                            f"found {sorted(map(str, col[bad].unique()))[:5]}")
    return values.astype(float)


def categorical_keys(frame, codebook, name) -> tuple[list[str], pd.Series]:
    """The codebook levels of ``name`` as strings and each row's level (NaN = missing).

    Examples
    --------
    >>> levels, keys = categorical_keys(pd.DataFrame({"line": [2, None]}),
    ...                                 {"line": {"type": "categorical", "levels": [1, 2]}}, "line")
    >>> levels, keys.tolist()
    (['1', '2'], ['2', nan])
    """
    raw = codebook[name].get("levels")
    if raw is None or isinstance(raw, str) or len(raw) == 0:
        raise AnalysisError(f"variable '{name}': type 'categorical' requires a non-empty 'levels' list")
    levels = [_level_str(v) for v in raw]
    keys = pd.Series([np.nan if pd.isna(v) else _level_str(v) for v in frame[name]],
                     index=frame.index, dtype=object)
    unknown = sorted(set(keys.dropna()) - set(levels))
    if unknown:
        raise AnalysisError(f"variable '{name}': values outside the codebook levels {levels}: {unknown[:5]}")
    return levels, keys


def check_k(k, n: int, what: str = "k") -> int:
    """``k`` as int: a positive integer no larger than the ``n`` patients.

    Examples
    --------
    >>> check_k(3, 10)
    3
    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise AnalysisError(f"{what}: must be a positive integer, got {k!r}")
    if k > n:
        raise AnalysisError(f"{what}: {k} clusters cannot be fitted to {n} patients")
    return int(k)


# --------------------------------------------------------------------------- transforms
def _skew(x: np.ndarray) -> float:
    x = x[~np.isnan(x)]
    if len(np.unique(x)) < 3:
        return np.nan
    return float(stats.skew(x))


def _choose_transform(name: str, x: np.ndarray, declared) -> tuple[str, str]:
    """(transform, rule) of a continuous variable: the codebook's, else :data:`SKEW_RULE`."""
    obs = x[~np.isnan(x)]
    if declared not in (None, ""):
        if declared in ("log", "log1p"):
            if (obs <= -1).any():
                raise AnalysisError(f"variable '{name}': transform '{declared}' (log1p) needs values > -1")
            return "log1p", f"declared in the codebook ({declared}, as log1p)"
        if declared == "sqrt":
            if (obs < 0).any():
                raise AnalysisError(f"variable '{name}': transform 'sqrt' needs values >= 0")
            return "sqrt", "declared in the codebook"
        if declared == "none":
            return "none", "declared in the codebook"
        raise AnalysisError(f"variable '{name}': unknown transform {declared!r} "
                            "(log, log1p, sqrt or none)")
    skew = _skew(x)
    if (obs < 0).any():
        return "none", "has negative values"
    if not skew > SKEW_THRESHOLD:
        return "none", f"skewness <= {SKEW_THRESHOLD}"
    if abs(_skew(np.log1p(x))) < abs(skew):
        return "log1p", f"skewness > {SKEW_THRESHOLD}, reduced by log1p"
    return "none", "log1p does not reduce the skewness"


# --------------------------------------------------------------------------- standardisation
class MixedStandardiser:
    """Learns transforms, scaling and imputation from the fitting rows; applies them to new rows.

    Follows scikit-learn: ``variables`` and ``codebook`` are stored unchanged, :meth:`fit`
    returns ``self``; ``feature_names_``, ``floors_`` (variance floors of the continuous
    variables, standardised scale) and ``levels_`` (0 for a continuous variable, else its
    number of levels: the ``levels`` of :class:`~analysis.regression.mixture.LatentClassMixture`)
    are learned.

    ``mixture_data`` gives the latent class model's input (continuous variables transformed
    and standardised, categories as codes, NaN where missing); ``matrix`` the imputed FAMD
    matrix of :func:`phenotype_matrix`.
    """

    def __init__(self, variables, codebook):
        self.variables = list(variables)
        self.codebook = codebook

    def fit(self, frame):
        self.steps_, self.info_ = [], []
        names, floors, levels = [], [], []
        for name in self.variables:
            vtype = self.codebook[name]["type"]
            if vtype in NUMERIC_TYPES:
                raw = numeric_values(frame, self.codebook, name).to_numpy()
                transform, rule = _choose_transform(name, raw, self.codebook[name].get("transform"))
                x = _FUNCTIONS[transform](raw)
                mean, sd = float(np.nanmean(x)), float(np.nanstd(x))
                sd = sd if sd > 0 else 1.0
                median = float(np.nanmedian(x))
                filled = np.where(np.isnan(x), median, x)
                fsd = float(filled.std())
                floor = VARIANCE_FLOOR
                if vtype == "integer":
                    low = float(np.nanmin(raw))
                    f = _FUNCTIONS[transform]
                    floor = max(floor, float((f(low + 1.0) - f(low)) ** 2 / 12 / sd**2))
                self.steps_.append((name, "numeric", transform, (mean, sd),
                                    (median, float(filled.mean()), fsd if fsd > 0 else 1.0)))
                self.info_.append((name, vtype, "Gaussian", transform, rule, _skew(raw),
                                   _skew(x) if transform != "none" else np.nan,
                                   int(np.isnan(raw).sum()), floor))
                floors.append(floor)
                levels.append(0)
                names.append(name)
            elif vtype == "binary":
                x = binary_values(frame, name).to_numpy()
                obs = x[~np.isnan(x)]
                mode = float(obs.mean() >= 0.5)  # a tie imputes 1
                p = float(np.where(np.isnan(x), mode, x).mean())
                sd = np.sqrt(p * (1 - p))
                self.steps_.append((name, "binary", None, None, (mode, p, sd if sd > 0 else 1.0)))
                self.info_.append((name, vtype, "categorical (2 levels)", "", "", np.nan, np.nan,
                                   int(np.isnan(x).sum()), np.nan))
                levels.append(2)
                names.append(name)
            else:
                cats, keys = categorical_keys(frame, self.codebook, name)
                counts = keys.value_counts()
                mode = max(cats, key=lambda lv: (counts.get(lv, 0), -cats.index(lv)))
                filled = keys.fillna(mode).to_numpy()
                props = np.array([np.mean(filled == lv) for lv in cats])
                self.steps_.append((name, "categorical", cats, None, (mode, props, None)))
                self.info_.append((name, vtype, f"categorical ({len(cats)} levels)", "", "",
                                   np.nan, np.nan, int(keys.isna().sum()), np.nan))
                levels.append(len(cats))
                names += [f"{name}[{lv}]" for lv in cats]
        self.feature_names_ = names
        self.floors_ = np.array(floors)
        self.levels_ = levels
        return self

    def _check(self, frame):
        if not isinstance(frame, pd.DataFrame):
            raise AnalysisError(f"frame: must be a pandas DataFrame, got {type(frame).__name__}")
        missing = [name for name in self.variables if name not in frame.columns]
        if missing:
            raise AnalysisError(f"frame: missing the clustering variable(s) {missing}")

    def _transformed(self, frame, name, transform):
        x = numeric_values(frame, self.codebook, name).to_numpy()
        obs = x[~np.isnan(x)]
        if (transform == "log1p" and (obs <= -1).any()) or (transform == "sqrt" and (obs < 0).any()):
            raise AnalysisError(f"variable '{name}': values outside the domain of {transform}")
        return _FUNCTIONS[transform](x)

    def mixture_data(self, frame) -> np.ndarray:
        """One column per variable: standardised continuous values or category codes; NaN = missing."""
        self._check(frame)
        cols = []
        for name, kind, how, scaling, _ in self.steps_:
            if kind == "numeric":
                cols.append((self._transformed(frame, name, how) - scaling[0]) / scaling[1])
            elif kind == "binary":
                cols.append(binary_values(frame, name).to_numpy())
            else:
                _, keys = categorical_keys(frame, self.codebook, name)
                code = {lv: float(i) for i, lv in enumerate(how)}
                cols.append(keys.map(code).astype(float).to_numpy())
        return np.column_stack(cols)

    def matrix(self, frame) -> np.ndarray:
        """The imputed, FAMD-standardised matrix of :func:`phenotype_matrix`."""
        self._check(frame)
        blocks = []
        for name, kind, how, _, (fill, centre, scale) in self.steps_:
            if kind == "numeric":
                x = self._transformed(frame, name, how)
                blocks.append(((np.where(np.isnan(x), fill, x) - centre) / scale)[:, None])
            elif kind == "binary":
                x = binary_values(frame, name).to_numpy()
                blocks.append(((np.where(np.isnan(x), fill, x) - centre) / scale)[:, None])
            else:
                props = centre
                _, keys = categorical_keys(frame, self.codebook, name)
                filled = keys.fillna(fill).to_numpy()
                ind = np.column_stack([(filled == lv).astype(float) for lv in how])
                safe = np.where(props > 0, props, 1.0)
                blocks.append((ind - props) / np.sqrt(safe))
        return np.hstack(blocks)


# --------------------------------------------------------------------------- the model
class PhenotypeModel:
    """Latent class model of mixed-type data, on the study's declared phenotype variables.

    Follows scikit-learn: the parameters are set in the constructor, :meth:`fit` learns
    the transforms, the standardisation and the
    :class:`~analysis.regression.mixture.LatentClassMixture` and returns ``self``.
    Clusters are numbered ``1..k`` by decreasing size on the fitting data (ties broken by
    the class weight, then the mixture's component order), so a fixed ``seed`` gives
    identical labels.

    Parameters
    ----------
    variables : sequence of str
        The clustering variables.
    codebook : Mapping[str, Mapping]
        The codebook (types, levels, transforms).
    k : int
        Number of clusters.
    seed : int, default 0
        Seeds the EM starts.
    n_init : int, default 10
        Number of EM starts; the best likelihood is kept.

    Attributes
    ----------
    labels_ : numpy.ndarray
        Cluster (1..k) of each fitting row (the most probable class).
    feature_names_ : list of str
        Columns of :func:`phenotype_matrix`.
    mixture_ : LatentClassMixture
        The fitted mixture (its classes in its own order).
    order_ : numpy.ndarray
        ``order_[c - 1]`` is the mixture class of cluster ``c``.
    bic_, log_likelihood_ : float
        BIC and log-likelihood of the mixture on the fitting data (standardised scale).
    transforms_ : dict
        The transform of each continuous variable.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> df = pd.DataFrame({"das28": np.r_[rng.normal(3, .3, 30), rng.normal(6, .3, 20)]})
    >>> model = PhenotypeModel(["das28"], {"das28": {"type": "numeric"}}, k=2).fit(df)
    >>> np.bincount(model.labels_).tolist(), model.predict(pd.DataFrame({"das28": [6.1]})).tolist()
    ([0, 30, 20], [2])
    """

    def __init__(self, variables: Sequence[str], codebook: Mapping[str, Mapping], k: int,
                 seed: int = 0, n_init: int = 10):
        self.variables = variables
        self.codebook = codebook
        self.k = k
        self.seed = seed
        self.n_init = n_init

    def fit(self, frame: pd.DataFrame, y=None) -> PhenotypeModel:
        """Learn the transforms, the standardisation and the mixture from ``frame``; return ``self``."""
        names = check_variables(frame, self.variables, self.codebook)
        k = check_k(self.k, len(frame))
        if isinstance(self.n_init, bool) or not isinstance(self.n_init, int | np.integer) or self.n_init < 1:
            raise AnalysisError(f"n_init: must be a positive integer, got {self.n_init!r}")
        self.standardiser_ = MixedStandardiser(names, self.codebook).fit(frame)
        self.feature_names_ = list(self.standardiser_.feature_names_)
        self.transforms_ = {s[0]: s[2] for s in self.standardiser_.steps_ if s[1] == "numeric"}
        X = self.standardiser_.mixture_data(frame)
        self.mixture_ = LatentClassMixture(
            k, self.standardiser_.levels_, min_variance=self.standardiser_.floors_,
            n_init=int(self.n_init), random_state=self.seed).fit(X)
        raw = self.mixture_.predict(X)
        sizes = np.bincount(raw, minlength=k)
        weights = self.mixture_.weights_
        self.order_ = np.array(sorted(range(k), key=lambda c: (-sizes[c], -weights[c], c)))
        self._relabel = np.empty(k, dtype=int)
        self._relabel[self.order_] = np.arange(1, k + 1)
        self.labels_ = self._relabel[raw]
        self.log_likelihood_ = float(self.mixture_.log_likelihood_)
        self.bic_ = float(-2 * self.log_likelihood_ + self.mixture_.n_parameters_ * np.log(len(X)))
        return self

    def _data(self, frame):
        if not hasattr(self, "mixture_"):
            raise AnalysisError("PhenotypeModel: call fit before predict")
        return self.standardiser_.mixture_data(frame)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Cluster (1..k) of each row of ``frame``, transformed and scaled as the fitting data."""
        X = self._data(frame)
        return self._relabel[self.mixture_.predict(X)]

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Posterior probability of each cluster; column ``c - 1`` is cluster ``c``."""
        X = self._data(frame)
        return self.mixture_.predict_proba(X)[:, self.order_]


#: Columns of :func:`bic_by_classes`.
BIC_COLUMNS = ("k", "bic", "log_likelihood", "n_parameters", "converged", "chosen")


def bic_by_classes(frame: pd.DataFrame, variables: Sequence[str], codebook: Mapping[str, Mapping],
                   *, k_range: Sequence[int] = range(1, 7), seed: int = 0,
                   n_init: int = 10) -> pd.DataFrame:
    """BIC of the :class:`PhenotypeModel` for each number of classes; the minimum is chosen.

    Unsupervised: only ``variables`` enter, never an outcome.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per patient.
    variables : sequence of str
        The clustering variables.
    codebook : Mapping[str, Mapping]
        The codebook.
    k_range : sequence of int, default range(1, 7)
        Numbers of classes to try, each at most the number of patients.
    seed, n_init : int
        Seed and number of the EM starts.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`BIC_COLUMNS`; ``attrs["k"]`` is the ``k`` of minimum BIC (the smaller
        ``k`` on a tie), ``attrs["rule"]`` the rule.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"x": np.r_[rng.normal(0, 1, 40), rng.normal(8, 1, 40)]})
    >>> bic_by_classes(df, ["x"], {"x": {"type": "numeric"}}, k_range=[2, 3, 4]).attrs["k"]
    2
    """
    names = check_variables(frame, variables, codebook)
    ks = [k_range] if isinstance(k_range, int | np.integer) else list(k_range)
    if not ks:
        raise AnalysisError("k_range: no number of classes given")
    if len(set(ks)) != len(ks):
        raise AnalysisError(f"k_range: duplicated values in {ks}")
    ks = [check_k(k, len(frame), "k_range") for k in ks]
    rows = []
    for k in ks:
        model = PhenotypeModel(names, codebook, k=k, seed=seed, n_init=n_init).fit(frame)
        rows.append({"k": k, "bic": model.bic_, "log_likelihood": model.log_likelihood_,
                     "n_parameters": int(model.mixture_.n_parameters_),
                     "converged": bool(model.mixture_.converged_), "chosen": False})
    table = pd.DataFrame(rows, columns=list(BIC_COLUMNS))
    best = int(table["bic"].idxmin())
    table.loc[best, "chosen"] = True
    table.attrs["k"] = int(table.loc[best, "k"])
    table.attrs["rule"] = "minimum BIC"
    return table
