"""Data-driven phenotypes: latent classes of mixed-type patient data.

The workflow, each step a pure function returning a tidy table (or a fitted model):

* :func:`phenotype_variables` - how each variable enters the model: its margin, its
  transform and the rule that chose it, its variance floor;
* :func:`select_clusters` - BIC (with log-likelihood, parameters, entropy) and silhouette
  for each number of clusters ``k``, the chosen ``k`` (minimum BIC) in ``attrs["k"]`` and
  the ``chosen`` column;
* :func:`fit_phenotypes` - the :class:`PhenotypeModel` (scikit-learn style), with
  clusters numbered by size (1 = largest) so that runs are reproducible;
* :func:`cluster_stability` - Hennig's (2007) bootstrap Jaccard stability;
* :func:`cluster_profiles` - what each cluster looks like (raw scale);
* :func:`outcome_by_cluster` - response rates per cluster with exact CIs and a test;
* :func:`truth_agreement` - the adjusted Rand index against known phenotypes (a check on
  simulated data only);
* :func:`phenotype_matrix` - the standardised, imputed numeric matrix (FAMD scaling) on
  which the silhouette is measured.

The model (:class:`analysis.regression.mixture.LatentClassMixture`)
------------------------------------------------------------------
A latent class (latent profile) model with local independence, fitted by EM from several
seeded starts: continuous variables have Gaussian margins (a mean and a variance per
class), binary and categorical variables categorical margins (a proportion per level and
class), as in poLCA, Mplus or StepMix (it reaches the same maximum likelihood as StepMix
3.0 on the ra-refractory demo cohort). A binary variable therefore informs the classes
through its class proportions, never through a Gaussian spike on 0/1 values, and missing
values drop out of a patient's likelihood (no imputation; valid when missing at random).

Continuous variables (numeric and integer):

* transform: the codebook's ``transform`` when declared (``log`` and ``log1p`` both mean
  ``log1p``, the shifted log that accepts zeros; ``sqrt``; ``none``); otherwise the rule
  :data:`SKEW_RULE`: ``log1p`` when the variable is non-negative, its sample skewness
  exceeds :data:`SKEW_THRESHOLD` (0.5, moderately right-skewed) and ``log1p`` brings the
  skewness closer to 0 (skewed labs and joint counts), else none. The choice, the rule and
  both skewnesses are in :func:`phenotype_variables`.
* then centred and scaled to unit variance (observed values);
* within-class variance floor: :data:`VARIANCE_FLOOR` (1%) of the variable's variance and,
  for an integer variable, Sheppard's rounding variance of its smallest observed value on
  the transformed scale, ``(f(x_min + 1) - f(x_min))^2 / 12`` (if larger). The floor keeps
  the likelihood bounded (no class collapses onto one value of a count) and EM monotone.

The standardisation and :class:`PhenotypeModel` live in :mod:`analysis.regression.latent_classes`
(re-exported here), shared with the phenotype offered to the prediction models as a candidate
predictor (:class:`analysis.models.phenotype.PhenotypeFeatures`).

Conventions: clusters are the integers ``1..k``; ``labels`` arguments are aligned with the
rows of ``frame``; bad input raises :class:`~analysis.errors.AnalysisError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import AnalysisError
from analysis.evaluation.metrics import proportion_ci
from analysis.regression.latent_classes import (
    NUMERIC_TYPES,
    SKEW_RULE,
    SKEW_THRESHOLD,
    VARIANCE_FLOOR,
    MixedStandardiser,
    PhenotypeModel,
    binary_values,
    categorical_keys,
    check_k,
    check_variables,
    numeric_values,
)
from analysis.validators import check_alpha

__all__ = [
    "OUTCOME_COLUMNS",
    "PROFILE_COLUMNS",
    "SELECTION_COLUMNS",
    "SKEW_RULE",
    "SKEW_THRESHOLD",
    "STABILITY_COLUMNS",
    "TRUTH_COLUMNS",
    "VARIABLE_COLUMNS",
    "VARIANCE_FLOOR",
    "PhenotypeModel",
    "cluster_profiles",
    "cluster_stability",
    "fit_phenotypes",
    "outcome_by_cluster",
    "phenotype_matrix",
    "phenotype_variables",
    "select_clusters",
    "truth_agreement",
]

#: Jaccard thresholds of Hennig (2007): stable, shows a pattern, unstable below.
STABLE, PATTERN = 0.75, 0.6
SELECTION_COLUMNS = ("k", "bic", "silhouette", "log_likelihood", "n_parameters", "entropy",
                     "converged", "chosen")
VARIABLE_COLUMNS = ("variable", "type", "margin", "transform", "rule", "skewness",
                    "skewness_transformed", "n_missing", "variance_floor")
PROFILE_COLUMNS = ("variable", "level", "cluster", "n", "summary", "mean", "sd",
                   "median", "q1", "q3", "count", "percent")
STABILITY_COLUMNS = ("cluster", "n", "mean_jaccard", "sd", "ci_lower", "ci_upper",
                     "dissolved", "n_boot", "verdict")
OUTCOME_COLUMNS = ("cluster", "outcome", "n", "events", "proportion", "ci_lower",
                   "ci_upper", "p_value", "method")
TRUTH_COLUMNS = ("n", "clusters", "true_groups", "adjusted_rand_index", "method")


# --------------------------------------------------------------------------- input checks
def _labels(frame, labels) -> np.ndarray:
    lab = np.asarray(labels)
    if lab.ndim != 1 or len(lab) != len(frame):
        raise AnalysisError(f"labels: need one label per row of frame ({len(frame)}), got shape {lab.shape}")
    if pd.isna(pd.Series(lab)).any():
        raise AnalysisError("labels: contain missing values")
    return lab


def phenotype_matrix(frame: pd.DataFrame, variables: Sequence[str],
                     codebook: Mapping[str, Mapping]) -> tuple[np.ndarray, list[str]]:
    """The standardised, imputed matrix of mixed-type variables (FAMD scaling).

    The silhouette of :func:`select_clusters` is measured on this matrix; the latent class
    model itself needs no imputation. Numeric/integer variables are transformed as in the
    model (see :func:`phenotype_variables`), median-imputed and z-scored; binary variables
    are mode-imputed and z-scored, ``(x - p) / sqrt(p (1 - p))``; categorical variables
    become one indicator per codebook level, mode-imputed, centred and divided by
    ``sqrt(p_l)`` (the standardisation of factor analysis of mixed data, Pages 2004; total
    variance ``L - 1``), so every variable weighs in proportion to its degrees of freedom
    in the Euclidean distance.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per patient.
    variables : sequence of str
        The clustering variables (columns of ``frame``, entries of ``codebook``).
    codebook : Mapping[str, Mapping]
        ``{name: {"type": "numeric" | "integer" | "binary" | "categorical",
        "levels": [...], "transform": "log" | "log1p" | "sqrt" | "none"}}``.

    Returns
    -------
    (numpy.ndarray, list of str)
        The ``n x p`` float matrix and its feature names (``"name"`` or
        ``"name[level]"`` for categorical indicators).

    Raises
    ------
    AnalysisError
        For an unknown variable, an unsupported type, values that do not match
        the type, or a variable without any value.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"crp": [1.0, 3.0, None, 7.0], "rf": [0, 1, 1, None],
    ...                    "line": ["1", "2", "2", "1"]})
    >>> book = {"crp": {"type": "numeric"}, "rf": {"type": "binary"},
    ...         "line": {"type": "categorical", "levels": ["1", "2"]}}
    >>> X, names = phenotype_matrix(df, ["crp", "rf", "line"], book)
    >>> names, X.shape, X.var(axis=0).round(2).tolist()
    (['crp', 'rf', 'line[1]', 'line[2]'], (4, 4), [1.0, 1.0, 0.5, 0.5])
    """
    names = check_variables(frame, variables, codebook)
    std = MixedStandardiser(names, codebook).fit(frame)
    return std.matrix(frame), list(std.feature_names_)


def phenotype_variables(frame: pd.DataFrame, variables: Sequence[str],
                        codebook: Mapping[str, Mapping]) -> pd.DataFrame:
    """How each variable enters the phenotype model, and the rule that decided it.

    Parameters
    ----------
    frame, variables, codebook
        As in :func:`phenotype_matrix`.

    Returns
    -------
    pandas.DataFrame
        One row per variable: ``variable, type, margin`` (``"Gaussian"`` or
        ``"categorical (L levels)"``), ``transform`` (``none``, ``log1p`` or ``sqrt``;
        empty for categorical margins), ``rule`` (why: declared in the codebook or
        :data:`SKEW_RULE`), ``skewness`` (raw values) and ``skewness_transformed``,
        ``n_missing`` and ``variance_floor`` (on the standardised scale).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"crp": [0.5, 1, 1, 2, 3, 5, 40.0], "age": [30, 40, 50, 60, 70, 45, 55],
    ...                    "rf": [0, 1, 1, 0, 1, 1, 0]})
    >>> book = {"crp": {"type": "numeric"}, "age": {"type": "numeric"}, "rf": {"type": "binary"}}
    >>> t = phenotype_variables(df, ["crp", "age", "rf"], book)
    >>> t[["variable", "margin", "transform", "rule"]].values.tolist()  # doctest: +NORMALIZE_WHITESPACE
    [['crp', 'Gaussian', 'log1p', 'skewness > 0.5, reduced by log1p'],
     ['age', 'Gaussian', 'none', 'skewness <= 0.5'],
     ['rf', 'categorical (2 levels)', '', '']]
    """
    names = check_variables(frame, variables, codebook)
    std = MixedStandardiser(names, codebook).fit(frame)
    out = pd.DataFrame(std.info_, columns=list(VARIABLE_COLUMNS))
    return out.astype({"skewness": "float64", "skewness_transformed": "float64",
                       "n_missing": "int64", "variance_floor": "float64"})


def fit_phenotypes(frame: pd.DataFrame, variables: Sequence[str], codebook: Mapping[str, Mapping],
                   *, k: int, seed: int = 0, n_init: int = 10) -> PhenotypeModel:
    """Fit the phenotype model with ``k`` clusters (numbered by size, 1 = largest).

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per patient.
    variables : sequence of str
        The clustering variables.
    codebook : Mapping[str, Mapping]
        The codebook.
    k : int
        Number of clusters, at most the number of patients.
    seed, n_init : int
        Seed and number of the EM starts.

    Returns
    -------
    PhenotypeModel
        The fitted model; ``labels_`` holds each patient's cluster.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"x": [0.0, 0.1, 0.2, 5.0, 5.1]})
    >>> fit_phenotypes(df, ["x"], {"x": {"type": "numeric"}}, k=2).labels_.tolist()
    [1, 1, 1, 2, 2]
    """
    return PhenotypeModel(variables, codebook, k=k, seed=seed, n_init=n_init).fit(frame)


# --------------------------------------------------------------------------- choosing k
def select_clusters(frame: pd.DataFrame, variables: Sequence[str], codebook: Mapping[str, Mapping],
                    *, k_range: Sequence[int] = range(1, 7), seed: int = 0,
                    n_init: int = 10) -> pd.DataFrame:
    """BIC, fit statistics and silhouette of the latent class model for each number of clusters.

    For each ``k`` the model of :class:`PhenotypeModel` is fitted; ``bic`` is its Bayesian
    information criterion (lower is better), ``log_likelihood`` and ``n_parameters`` its
    parts, ``entropy`` the relative entropy of the posterior class probabilities
    (``1 - sum(-p log p) / (n log k)``: 1 = every patient certainly classified; NaN for
    ``k = 1``), ``converged`` whether EM converged, and ``silhouette`` the mean silhouette
    width of the most-probable-class assignment in Euclidean distance on
    :func:`phenotype_matrix` (NaN for ``k = 1`` or when fewer than 2 clusters are
    occupied). The chosen ``k`` is the one with the minimum BIC.

    Parameters
    ----------
    frame, variables, codebook
        As in :func:`phenotype_matrix`.
    k_range : sequence of int, default range(1, 7)
        Numbers of clusters to try; each at most the number of patients.
    seed, n_init : int
        Seed and number of the EM starts.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SELECTION_COLUMNS` (``chosen`` marks the chosen row);
        ``attrs["k"]`` is the chosen ``k`` and ``attrs["rule"]`` the rule that chose it.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"x": np.r_[rng.normal(0, 1, 40), rng.normal(8, 1, 40)]})
    >>> table = select_clusters(df, ["x"], {"x": {"type": "numeric"}}, k_range=[1, 2, 3])
    >>> table.attrs["k"], table["chosen"].tolist()
    (2, [False, True, False])
    """
    from sklearn.metrics import silhouette_score

    names = check_variables(frame, variables, codebook)
    ks = [k_range] if isinstance(k_range, int | np.integer) else list(k_range)
    if not ks:
        raise AnalysisError("k_range: no number of clusters given")
    if len(set(ks)) != len(ks):
        raise AnalysisError(f"k_range: duplicated values in {ks}")
    ks = [check_k(k, len(frame), "k_range") for k in ks]
    X = MixedStandardiser(names, codebook).fit(frame).matrix(frame)
    rows = []
    for k in ks:
        model = PhenotypeModel(names, codebook, k=k, seed=seed, n_init=n_init).fit(frame)
        labels = model.labels_
        occupied = len(np.unique(labels))
        sil = float(silhouette_score(X, labels)) if 2 <= occupied < len(X) else np.nan
        entropy = np.nan
        if k > 1:
            post = model.mixture_.predict_proba(model.standardiser_.mixture_data(frame))
            with np.errstate(divide="ignore", invalid="ignore"):
                h = -np.nansum(np.where(post > 0, post * np.log(post), 0.0))
            entropy = float(1 - h / (len(frame) * np.log(k)))
        rows.append({"k": k, "bic": model.bic_, "silhouette": sil,
                     "log_likelihood": model.log_likelihood_,
                     "n_parameters": int(model.mixture_.n_parameters_), "entropy": entropy,
                     "converged": bool(model.mixture_.converged_), "chosen": False})
    table = pd.DataFrame(rows, columns=list(SELECTION_COLUMNS)).astype(
        {"k": "int64", "bic": "float64", "silhouette": "float64", "log_likelihood": "float64",
         "n_parameters": "int64", "entropy": "float64", "converged": "bool", "chosen": "bool"})
    best = int(table["bic"].idxmin())
    table.loc[best, "chosen"] = True
    table.attrs["k"] = int(table.loc[best, "k"])
    table.attrs["rule"] = "minimum BIC"
    return table


# --------------------------------------------------------------------------- truth (simulations)
def truth_agreement(labels, truth) -> pd.DataFrame:
    """Adjusted Rand index between the clusters and known phenotypes (simulated data only).

    Parameters
    ----------
    labels : array_like
        Cluster of each patient.
    truth : array_like
        The known phenotype of the same patients (missing values leave the patient out).

    Returns
    -------
    pandas.DataFrame
        One row: ``n, clusters, true_groups, adjusted_rand_index`` (Hubert and Arabie
        1985: 1 = the same partition, about 0 for chance agreement) and ``method``.

    Examples
    --------
    >>> t = truth_agreement([1, 1, 2, 2, 3], ["a", "a", "b", "b", "b"])
    >>> t.columns.tolist(), round(float(t.adjusted_rand_index[0]), 4)
    (['n', 'clusters', 'true_groups', 'adjusted_rand_index', 'method'], 0.5455)
    """
    from sklearn.metrics import adjusted_rand_score

    lab = np.asarray(labels)
    true = pd.Series(np.asarray(truth, dtype=object))
    if lab.ndim != 1 or len(lab) != len(true):
        raise AnalysisError(f"truth: need one value per label ({len(lab)}), got {len(true)}")
    keep = true.notna().to_numpy()
    if keep.sum() < 2:
        raise AnalysisError("truth: fewer than 2 patients with a known phenotype")
    lab, true = lab[keep], true[keep].astype(str).to_numpy()
    ari = float(adjusted_rand_score(true, lab))
    return pd.DataFrame([(int(keep.sum()), len(np.unique(lab)), len(np.unique(true)), ari,
                          "adjusted Rand index (Hubert and Arabie 1985)")],
                        columns=list(TRUTH_COLUMNS))


# --------------------------------------------------------------------------- stability
def _verdict(j: float) -> str:
    if np.isnan(j):
        return "not assessed"
    if j >= STABLE:
        return "stable"
    return "pattern" if j >= PATTERN else "unstable"


def cluster_stability(frame: pd.DataFrame, variables: Sequence[str], codebook: Mapping[str, Mapping],
                      *, k: int, n_boot: int = 50, seed: int = 0, n_init: int = 10) -> pd.DataFrame:
    """Bootstrap stability of each cluster: Hennig's (2007) ``clusterboot``.

    The clusters of :func:`fit_phenotypes` (same ``k``, ``seed``, ``n_init``)
    are compared with those of the same procedure - standardisation included -
    refitted on ``n_boot`` bootstrap samples of the patients. In each sample,
    on the resampled patients (duplicates counted, as in ``fpc::clusterboot``),
    an original cluster's similarity is its maximum Jaccard coefficient
    ``|A & B| / |A | B|`` with any bootstrap cluster. Samples that hold no
    member of the cluster are skipped.

    Verdict on the mean Jaccard (Hennig 2007): ``"stable"`` >= 0.75,
    ``"pattern"`` in [0.6, 0.75) (the cluster reflects some pattern but its
    membership is uncertain), ``"unstable"`` < 0.6.

    Parameters
    ----------
    frame, variables, codebook
        As in :func:`phenotype_matrix`.
    k : int
        Number of clusters.
    n_boot : int, default 50
        Bootstrap samples.
    seed : int, default 0
        Seeds both the resampling and the mixtures.
    n_init : int, default 10
        EM initialisations of every mixture.

    Returns
    -------
    pandas.DataFrame
        One row per cluster: ``cluster, n`` (size in the original fit),
        ``mean_jaccard, sd, ci_lower, ci_upper`` (2.5 and 97.5 percentiles of
        the bootstrap Jaccards), ``dissolved`` (share of samples with Jaccard
        <= 0.5), ``n_boot`` (samples used) and ``verdict``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"x": np.r_[rng.normal(0, 1, 30), rng.normal(9, 1, 30)]})
    >>> s = cluster_stability(df, ["x"], {"x": {"type": "numeric"}}, k=2, n_boot=5, n_init=1)
    >>> s[["cluster", "mean_jaccard", "verdict"]].values.tolist()
    [[1, 1.0, 'stable'], [2, 1.0, 'stable']]
    """
    names = check_variables(frame, variables, codebook)
    k = check_k(k, len(frame))
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 1:
        raise AnalysisError(f"n_boot: must be a positive integer, got {n_boot!r}")
    original = fit_phenotypes(frame, names, codebook, k=k, seed=seed, n_init=n_init).labels_
    rng = np.random.default_rng(seed)
    n = len(frame)
    jac = np.full((n_boot, k), np.nan)
    for b in range(n_boot):
        idx = rng.integers(0, n, n)
        sample = frame.iloc[idx].reset_index(drop=True)
        try:
            boot = fit_phenotypes(sample, names, codebook, k=k, seed=seed, n_init=n_init).labels_
        except AnalysisError:  # e.g. a variable without values in this sample
            continue
        orig = original[idx]
        for c in range(1, k + 1):
            a = orig == c
            if not a.any():
                continue
            best = 0.0
            for d in range(1, k + 1):
                bset = boot == d
                best = max(best, (a & bset).sum() / (a | bset).sum())
            jac[b, c - 1] = best
    rows = []
    for c in range(1, k + 1):
        j = jac[:, c - 1]
        j = j[~np.isnan(j)]
        mean = float(j.mean()) if len(j) else np.nan
        rows.append({
            "cluster": c, "n": int((original == c).sum()), "mean_jaccard": mean,
            "sd": float(j.std(ddof=1)) if len(j) > 1 else np.nan,
            "ci_lower": float(np.percentile(j, 2.5)) if len(j) else np.nan,
            "ci_upper": float(np.percentile(j, 97.5)) if len(j) else np.nan,
            "dissolved": float(np.mean(j <= 0.5)) if len(j) else np.nan,
            "n_boot": len(j), "verdict": _verdict(mean),
        })
    return pd.DataFrame(rows, columns=list(STABILITY_COLUMNS))


# --------------------------------------------------------------------------- profiles
def _fmt(x: float, decimals: int = 1) -> str:
    return "NA" if pd.isna(x) else f"{x:.{decimals}f}"


def cluster_profiles(frame: pd.DataFrame, labels, variables: Sequence[str],
                     codebook: Mapping[str, Mapping]) -> pd.DataFrame:
    """What each cluster looks like, on the raw (untransformed, unimputed) scale.

    * numeric/integer: one row per cluster, ``level = ""``: ``n`` non-missing,
      ``mean``, ``sd`` (ddof=1), ``median``, ``q1``, ``q3`` (linear
      interpolation); ``count``/``percent`` NaN.
    * binary: one row per cluster, ``level = ""``: ``count`` of ones and
      ``percent`` of the ``n`` non-missing values.
    * categorical: one row per codebook level and cluster, ``count`` and
      ``percent`` of the ``n`` non-missing values.

    ``summary`` is the display text: ``"mean (SD); median [Q1, Q3]"`` or
    ``"count (percent%)"``, one decimal.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per patient.
    labels : array_like
        Cluster of each row (e.g. ``PhenotypeModel.labels_``), no missing values.
    variables : sequence of str
        Variables to profile.
    codebook : Mapping[str, Mapping]
        The codebook.

    Returns
    -------
    pandas.DataFrame
        Columns ``variable, level, cluster, n, summary, mean, sd, median, q1,
        q3, count, percent``; variables in the given order, clusters sorted.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"age": [40, 50, 60, 70], "rf": [1, 0, 1, 1]})
    >>> book = {"age": {"type": "numeric"}, "rf": {"type": "binary"}}
    >>> p = cluster_profiles(df, [1, 1, 2, 2], ["age", "rf"], book)
    >>> p[["variable", "cluster", "summary"]].values.tolist()
    [['age', 1, '45.0 (7.1); 45.0 [42.5, 47.5]'], ['age', 2, '65.0 (7.1); 65.0 [62.5, 67.5]'], ['rf', 1, '1 (50.0%)'], ['rf', 2, '2 (100.0%)']]
    """
    names = check_variables(frame, variables, codebook)
    lab = _labels(frame, labels)
    clusters = sorted(pd.unique(lab))
    nan = np.nan
    rows = []
    for name in names:
        vtype = codebook[name]["type"]
        if vtype in NUMERIC_TYPES:
            x = numeric_values(frame, codebook, name)
            for c in clusters:
                obs = x[lab == c].dropna()
                m = len(obs)
                mean, sd = (obs.mean() if m else nan), (obs.std(ddof=1) if m > 1 else nan)
                med, q1, q3 = ((obs.median(), obs.quantile(0.25), obs.quantile(0.75)) if m
                               else (nan, nan, nan))
                text = f"{_fmt(mean)} ({_fmt(sd)}); {_fmt(med)} [{_fmt(q1)}, {_fmt(q3)}]"
                rows.append((name, "", c, m, text, mean, sd, med, q1, q3, nan, nan))
            continue
        if vtype == "binary":
            x = binary_values(frame, name)
            levels, keys = [""], x.map(lambda v: "" if v == 1 else "0", na_action="ignore")
        else:
            levels, keys = categorical_keys(frame, codebook, name)
        for level in levels:
            for c in clusters:
                obs = keys[lab == c].dropna()
                m, count = len(obs), int((obs == level).sum())
                pct = 100.0 * count / m if m else nan
                rows.append((name, level, c, m, f"{count} ({_fmt(pct)}%)", nan, nan, nan, nan,
                             nan, float(count), pct))
    out = pd.DataFrame(rows, columns=list(PROFILE_COLUMNS))
    return out.astype({"n": "int64", **{c: "float64" for c in PROFILE_COLUMNS[5:]}})


# --------------------------------------------------------------------------- outcomes
def outcome_by_cluster(frame: pd.DataFrame, labels, outcomes: Sequence[str], *,
                       alpha: float = 0.05) -> pd.DataFrame:
    """Response rate per cluster with exact CIs, and a test of equal rates.

    For each binary outcome (0/1, missing values left out) and cluster:
    ``n`` patients with the outcome observed, ``events``, ``proportion`` and
    its Clopper-Pearson exact ``1 - alpha`` interval
    (:func:`analysis.evaluation.metrics.proportion_ci`). ``p_value`` (the same
    on every row of an outcome) is Pearson's chi-square test of the clusters x
    outcome table (:func:`scipy.stats.chi2_contingency`, ``correction=False``),
    NaN when fewer than 2 clusters or only one outcome value are observed.
    ``method`` names the interval and the test and warns when more than 20% of
    expected counts are below 5 (the chi-square approximation is then poor).

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per patient.
    labels : array_like
        Cluster of each row, no missing values.
    outcomes : sequence of str
        Binary outcome columns (e.g. ACR50 or EULAR good response).
    alpha : float, default 0.05
        One minus the confidence level.

    Returns
    -------
    pandas.DataFrame
        Columns ``cluster, outcome, n, events, proportion, ci_lower, ci_upper,
        p_value, method``, outcomes in the given order, clusters sorted.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"acr50": [1, 1, 1, 0, 0, 1, 0, 0]})
    >>> t = outcome_by_cluster(df, [1, 1, 1, 1, 2, 2, 2, 2], ["acr50"])
    >>> t.events.tolist(), t.proportion.tolist()
    ([3, 1], [0.75, 0.25])
    >>> round(float(t.ci_lower[0]), 4), round(float(t.p_value[0]), 4)
    (0.1941, 0.1573)
    """
    alpha = check_alpha(alpha)
    if not isinstance(frame, pd.DataFrame):
        raise AnalysisError(f"frame: must be a pandas DataFrame, got {type(frame).__name__}")
    names = [outcomes] if isinstance(outcomes, str) else list(outcomes)
    if not names:
        raise AnalysisError("outcomes: no outcomes given")
    if len(set(names)) != len(names):
        raise AnalysisError(f"outcomes: duplicated names in {names}")
    for name in names:
        if name not in frame.columns:
            raise AnalysisError(f"outcome '{name}': not a column of the data")
    lab = _labels(frame, labels)
    clusters = sorted(pd.unique(lab))
    rows = []
    for name in names:
        y = binary_values(frame, name).to_numpy()
        seen = ~np.isnan(y)
        n = np.array([int((seen & (lab == c)).sum()) for c in clusters])
        events = np.array([int(((y == 1) & (lab == c)).sum()) for c in clusters])
        lo, hi = proportion_ci(events, n, alpha=alpha, method="clopper-pearson")
        table = np.column_stack([events, n - events])[n > 0]
        method = "Clopper-Pearson; chi-square test"
        p = np.nan
        if table.shape[0] >= 2 and (table.sum(axis=0) > 0).all():
            res = stats.chi2_contingency(table, correction=False)
            p = float(res.pvalue)
            if np.mean(res.expected_freq < 5) > 0.2:
                method += " (over 20% of expected counts < 5: approximate)"
        else:
            method += " (not tested: fewer than 2 clusters or one outcome value)"
        with np.errstate(invalid="ignore", divide="ignore"):
            prop = np.where(n > 0, events / np.maximum(n, 1), np.nan)
        for i, c in enumerate(clusters):
            rows.append((c, name, n[i], events[i], prop[i], lo[i], hi[i], p, method))
    out = pd.DataFrame(rows, columns=list(OUTCOME_COLUMNS))
    return out.astype({"n": "int64", "events": "int64", "proportion": "float64",
                       "ci_lower": "float64", "ci_upper": "float64", "p_value": "float64"})
