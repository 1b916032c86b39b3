"""Internal validation of the candidate models: nested cross-validation, comparison,
mechanical model selection and Harrell's bootstrap optimism correction.

* :func:`nested_cv` - repeated, stratified outer folds estimate performance; inside each
  outer training set a grid search over stratified inner folds tunes the
  hyper-parameters.  All preprocessing lives in the pipelines
  (:mod:`analysis.models.zoo`), so it is refitted in every training set.
* :func:`oof_probabilities` - each patient's out-of-fold probability averaged over the
  repeats (for plots; the comparison table scores each repeat separately,
  :func:`analysis.validation.comparison.compare_models`).
* :func:`bootstrap_optimism` - bootstrap-validated performance of one model (Harrell's
  optimism correction, or the .632+ estimator for learners that memorise), refitting
  the whole pipeline (with tuning, and optionally recalibration) on every bootstrap
  sample; :func:`recalibration_from_table` reads back the recalibration it estimated.
* :func:`fit_final` - the tuned pipeline refitted on all patients.

Tuning criterion: the inner grid search maximises ``neg_log_loss``, a strictly proper
scoring rule, so hyper-parameters are chosen for accurate probabilities rather than
for ranking alone (AUC) or for an arbitrary threshold (accuracy).

Every fit runs with BLAS/OpenMP limited to one thread (threadpoolctl): parallelism is
over tasks, and single-threaded fits are both faster on small data and reproducible.
Every score comes from :func:`analysis.evaluation.scores.score_binary`, which clips
probabilities of exactly 0 or 1 (possible for random forests) to
``[PROB_CLIP, 1 - PROB_CLIP]`` (:data:`analysis.validators.PROB_CLIP`) before the
logit-based calibration measures are computed.
"""

from __future__ import annotations

import inspect
import json
import sys
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy.special import expit, logit
from sklearn import config_context
from sklearn.base import clone
from sklearn.dummy import DummyClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import (
    RepeatedStratifiedKFold,
    StratifiedKFold,
)
from threadpoolctl import ThreadpoolController
from tqdm.auto import tqdm

from analysis.errors import AnalysisError
from analysis.evaluation.calibration import recalibration_fit
from analysis.evaluation.scores import score_binary
from analysis.models.estimators import FixedScoreClassifier
from analysis.models.recalibration import RecalibratedClassifier, recalibrate_probability
from analysis.models.tuning import PatientStratifiedKFold, grid_search
from analysis.models.zoo import ModelSpec
from analysis.validation.distributed import resampling_backend
from analysis.validators import clip_probabilities

__all__ = [
    "FAILED_SHARE_FLAG",
    "MEMORISING_COMPLEXITY",
    "OPTIMISM_METRICS",
    "PLUS632_METRICS",
    "METHOD_HARRELL_TUNED",
    "NestedCVResult",
    "bootstrap_optimism",
    "estimate_632plus",
    "fit_final",
    "nested_cv",
    "no_information_loss",
    "oof_probabilities",
    "recalibration_from_table",
]



#: Metrics :func:`bootstrap_optimism` can correct.
OPTIMISM_METRICS = (
    "auc",
    "brier",
    "scaled_brier",
    "log_loss",
    "calibration_intercept",
    "calibration_slope",
    "ici",
)


# ---------------------------------------------------------------------------
# Input checks and fitting helpers
# ---------------------------------------------------------------------------


def _check_models(models) -> dict[str, ModelSpec]:
    if not isinstance(models, Mapping) or not models:
        raise AnalysisError("models must be a non-empty dict of name -> ModelSpec")
    for name, spec in models.items():
        if not isinstance(spec, ModelSpec):
            raise AnalysisError(f"models[{name!r}] must be a ModelSpec, got {type(spec).__name__}")
        if spec.name != name:
            raise AnalysisError(f"models[{name!r}] holds a ModelSpec named {spec.name!r}")
    return dict(models)


def _required_columns(pipeline) -> list[str]:
    cols: list[str] = []
    for _, step in getattr(pipeline, "steps", []):
        if hasattr(step, "transformers"):
            for _, _, c in step.transformers:
                if isinstance(c, str):
                    cols.append(c)
                elif isinstance(c, Iterable):
                    cols.extend(str(v) for v in c)
        if isinstance(step, FixedScoreClassifier) and step.columns is not None:
            cols.extend(step.columns)
    return cols


def _check_xy(X, y, models: Mapping[str, ModelSpec], min_per_class: int):
    if not isinstance(X, pd.DataFrame):
        raise AnalysisError("X must be a pandas DataFrame of the predictor columns")
    yy = np.asarray(y)
    if yy.ndim != 1 or yy.size != len(X):
        raise AnalysisError(f"y must be one-dimensional with one value per row of X ({len(X)})")
    try:
        yf = yy.astype(float)
    except (TypeError, ValueError):
        raise AnalysisError("y must contain only 0/1 values") from None
    if np.isnan(yf).any() or not np.isin(yf, (0.0, 1.0)).all():
        raise AnalysisError("y must contain only 0/1 values (no missing outcomes)")
    yi = yf.astype(int)
    counts = np.bincount(yi, minlength=2)
    if counts.min() < min_per_class:
        raise AnalysisError(
            f"y must have at least {min_per_class} events and non-events for the requested "
            f"folds; has {counts[1]} events and {counts[0]} non-events"
        )
    for name, spec in models.items():
        missing = [c for c in _required_columns(spec.pipeline) if c not in X.columns]
        if missing:
            raise AnalysisError(
                f"X lacks column(s) {sorted(set(missing))} needed by model '{name}'"
            )
    return X.reset_index(drop=True), yi


def _check_int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise AnalysisError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _resolve_n_jobs(n_jobs) -> int:
    return -1 if n_jobs is None else int(n_jobs)


def _task_seed(*keys: int) -> int:
    """A 32-bit seed derived from integer keys (independent of task order)."""
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1)[0])


def _json(params: Mapping) -> str:
    def default(value):
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, tuple):
            return list(value)
        return str(value)

    return json.dumps(dict(params), sort_keys=True, default=default)


_CONTROLLER: tuple[int, ThreadpoolController] | None = None


def _one_thread():
    """``threadpool_limits(limits=1)`` without its scan of the loaded libraries on every call.

    Building a :class:`~threadpoolctl.ThreadpoolController` walks the process's shared
    libraries (about 4 ms, twice per bootstrap replicate); it is kept while no module has
    been imported since (a new extension module may bring a new BLAS or OpenMP runtime).
    """
    global _CONTROLLER
    if _CONTROLLER is None or _CONTROLLER[0] != len(sys.modules):
        controller = ThreadpoolController()
        _CONTROLLER = (len(sys.modules), controller)
    return _CONTROLLER[1].limit(limits=1)


def _fit_spec(spec: ModelSpec, X: pd.DataFrame, y: np.ndarray, inner_splits: int, inner_seed: int,
              groups: np.ndarray | None = None):
    """Fit (tuning if the spec has a grid); return ``(pipeline, best_params, inner_score, n_warn)``.

    ``inner_score`` is the mean inner-fold ``neg_log_loss`` of the chosen parameters (NaN
    when nothing was tuned); ``n_warn`` counts convergence warnings.  ``groups`` (the
    original patient of each row of a bootstrap sample) keeps the copies of a patient in
    one inner fold (:class:`~analysis.models.tuning.PatientStratifiedKFold`), for the grid search and for an estimator
    that tunes itself by CV (its ``fit`` takes ``groups``): otherwise a patient drawn twice
    sits on both sides of an inner split, the inner CV rewards overfitting, and the
    bootstrap's optimism describes a less penalised model than the one that is shipped.
    """
    with warnings.catch_warnings(record=True) as caught, _one_thread():
        warnings.simplefilter("always", ConvergenceWarning)
        warnings.filterwarnings("ignore", message="Found unknown categories")
        grid = {k: list(v) for k, v in (spec.param_grid or {}).items()}
        if spec.tuned:
            cv = (StratifiedKFold(n_splits=inner_splits, shuffle=True, random_state=inner_seed)
                  if groups is None else
                  PatientStratifiedKFold(n_splits=inner_splits, shuffle=True, random_state=inner_seed))
            search = grid_search(spec.pipeline, grid, X, y, cv, groups=groups)
            if not np.isfinite(search.score):
                raise AnalysisError(f"model '{spec.name}': every grid point failed to fit")
            fitted, params, score = search.estimator, search.params, search.score
        else:
            params = {k: v[0] for k, v in grid.items()}
            fit_params = {}
            if groups is not None and _fit_takes_groups(spec.pipeline):
                fit_params[f"{spec.pipeline.steps[-1][0]}__groups"] = groups
            fitted = clone(spec.pipeline).set_params(**params).fit(X, y, **fit_params)
            score = np.nan
            final = fitted.steps[-1][1] if hasattr(fitted, "steps") else fitted
            if hasattr(final, "best_params_"):  # tuned inside the estimator (OOBTunedForest)
                params = {**params, **{f"model__{k}": v for k, v in final.best_params_.items()}}
                score = getattr(final, "best_score_", np.nan)
    n_warn = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    return fitted, params, float(score), int(n_warn)


def _tunes_itself(spec: ModelSpec, fitted) -> bool:
    """Whether the model's hyperparameters are chosen by inner CV (a grid or its own fit)."""
    steps = getattr(fitted, "steps", None)
    final = steps[-1][1] if steps else fitted
    return bool(spec.tuned or hasattr(final, "best_params_"))


def _fit_takes_groups(pipeline) -> bool:
    steps = getattr(pipeline, "steps", None)
    if not steps:
        return False
    return "groups" in inspect.signature(steps[-1][1].fit).parameters


def _predict(pipeline, X: pd.DataFrame) -> np.ndarray:
    with warnings.catch_warnings(), _one_thread():
        warnings.filterwarnings("ignore", message="Found unknown categories")
        proba = pipeline.predict_proba(X)
    classes = list(pipeline.classes_)
    return np.asarray(proba[:, classes.index(1)], dtype=float)


def _is_constant(spec: ModelSpec) -> bool:
    steps = getattr(spec.pipeline, "steps", None)
    final = steps[-1][1] if steps else spec.pipeline
    return isinstance(final, DummyClassifier)


def _run(tasks, n_jobs: int, progress: bool, desc: str) -> list:
    """Run delayed tasks with joblib, in order, with a tqdm bar over completed tasks."""
    tasks = list(tasks)
    bar = tqdm(total=len(tasks), desc=desc, disable=not progress, leave=False)
    try:
        out = []
        # a Dask cluster when ANALYSIS_DASK_SCHEDULER names one (analysis.validation.distributed)
        with resampling_backend():
            for result in Parallel(n_jobs=n_jobs, return_as="generator")(tasks):
                out.append(result)
                bar.update(1)
        return out
    finally:
        bar.close()


# ---------------------------------------------------------------------------
# Nested cross-validation
# ---------------------------------------------------------------------------


@dataclass
class NestedCVResult:
    """Out-of-fold predictions and tuning choices of a nested cross-validation.

    Attributes
    ----------
    predictions : pandas.DataFrame
        ``model, repeat, fold, row, y, probability``: one row per model, repeat and
        patient (``row`` is the positional index into ``X``).
    tuning : pandas.DataFrame
        ``model, repeat, fold, best_params, inner_score, convergence_warnings``;
        ``best_params`` is a JSON string, ``inner_score`` the mean inner-fold
        ``neg_log_loss`` of the chosen parameters (NaN for untuned models).
    models : pandas.DataFrame
        ``model, label, complexity, constant`` (``constant``: predicts the prevalence).
    settings : dict
        ``outer_splits, outer_repeats, inner_splits, seed, n``.

    Examples
    --------
    >>> r = NestedCVResult(pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), {"n": 0})
    >>> r.settings["n"]
    0
    """

    predictions: pd.DataFrame
    tuning: pd.DataFrame
    models: pd.DataFrame
    settings: dict = field(default_factory=dict)

    @property
    def model_names(self) -> list[str]:
        """Model names in the order they were given."""
        return self.models["model"].tolist()


def _cv_task(spec, X, y, train, test, inner_splits, inner_seed):
    fitted, params, score, n_warn = _fit_spec(
        spec, X.iloc[train], y[train], inner_splits, inner_seed
    )
    return _predict(fitted, X.iloc[test]), _json(params), score, n_warn


def nested_cv(
    models: Mapping[str, ModelSpec],
    X: pd.DataFrame,
    y,
    *,
    outer_splits: int = 5,
    outer_repeats: int = 2,
    inner_splits: int = 3,
    seed: int = 0,
    n_jobs: int | None = None,
    progress: bool = True,
) -> NestedCVResult:
    """Nested, repeated, stratified cross-validation of several models.

    Outer loop: :class:`~sklearn.model_selection.RepeatedStratifiedKFold`
    (``outer_splits`` x ``outer_repeats``, ``random_state=seed``).  In each outer training
    set, a model with a grid is tuned by a grid search (:func:`analysis.models.tuning.grid_search`,
    the result of :class:`~sklearn.model_selection.GridSearchCV` with each inner fold's
    preprocessing fitted once)
    over ``StratifiedKFold(inner_splits, shuffle=True)`` with ``scoring="neg_log_loss"``
    (a proper scoring rule) and refitted on the whole outer training set; a model without
    a grid is simply fitted.  The refitted pipeline predicts the held-out fold.  The inner
    split's seed is derived from ``(seed, repeat, fold)``, so every model sees the same
    inner folds, and every task is seeded on its own: results do not depend on
    ``n_jobs`` or on the order in which tasks finish.

    Tasks (one per model and outer fold) run in parallel with
    :class:`joblib.Parallel`; a tqdm bar counts finished tasks.  To run on a Dask
    cluster (``n_jobs=-1`` then means all the cluster's workers), use
    :func:`analysis.validation.distributed.dask_backend` or set the environment variable
    ``ANALYSIS_DASK_SCHEDULER`` (the optional extra ``.[dask]``)::

        from analysis.validation.distributed import dask_backend
        with dask_backend("tcp://scheduler:8786"):
            result = nested_cv(models, X, y, n_jobs=-1)

    The results are identical to a local run with the same seed.

    Parameters
    ----------
    models : dict of str to ModelSpec
        Candidate models (:func:`analysis.models.zoo.model_zoo`).
    X : pandas.DataFrame
        Predictor columns, one row per patient (NaN allowed: pipelines impute).
    y : array_like
        Binary outcome 0/1, no missing values.
    outer_splits, outer_repeats, inner_splits : int, default 5, 2, 3
        Fold counts.
    seed : int, default 0
        Seed of the outer folds and of every inner split.
    n_jobs : int, optional
        Parallel jobs; ``None`` means all cores (``-1``).
    progress : bool, default True
        Show a progress bar.

    Returns
    -------
    NestedCVResult

    Raises
    ------
    AnalysisError
        On invalid inputs (see messages) or when a model cannot be fitted.

    Examples
    --------
    >>> from analysis.models.zoo import model_zoo
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"x": rng.normal(size=60)})
    >>> y = (X["x"] + rng.normal(size=60) > 0).astype(int)
    >>> zoo = model_zoo({"x": {"type": "numeric"}}, ["x"], include=["logistic"])
    >>> r = nested_cv(zoo, X, y, outer_splits=3, outer_repeats=1, n_jobs=1, progress=False)
    >>> r.predictions.shape
    (60, 6)
    """
    models = _check_models(models)
    outer_splits = _check_int(outer_splits, "outer_splits", 2)
    outer_repeats = _check_int(outer_repeats, "outer_repeats", 1)
    inner_splits = _check_int(inner_splits, "inner_splits", 2)
    Xr, yi = _check_xy(X, y, models, max(outer_splits, inner_splits + 1))
    outer = RepeatedStratifiedKFold(
        n_splits=outer_splits, n_repeats=outer_repeats, random_state=int(seed)
    )
    splits = list(outer.split(np.zeros(len(yi)), yi))
    keys, tasks = [], []
    for name, spec in models.items():
        for i, (train, test) in enumerate(splits):
            repeat, fold = divmod(i, outer_splits)
            keys.append((name, repeat, fold, test))
            inner_seed = _task_seed(seed, repeat, fold)
            tasks.append(delayed(_cv_task)(spec, Xr, yi, train, test, inner_splits, inner_seed))
    results = _run(tasks, _resolve_n_jobs(n_jobs), progress, "nested CV")
    pred_parts, tuning_rows = [], []
    for (name, repeat, fold, test), (prob, params, score, n_warn) in zip(
        keys, results, strict=True
    ):
        pred_parts.append(
            pd.DataFrame(
                {
                    "model": name,
                    "repeat": repeat,
                    "fold": fold,
                    "row": test.astype(int),
                    "y": yi[test],
                    "probability": prob,
                }
            )
        )
        tuning_rows.append((name, repeat, fold, params, score, n_warn))
    predictions = pd.concat(pred_parts, ignore_index=True)
    order = {name: k for k, name in enumerate(models)}
    predictions = (
        predictions.assign(_o=predictions["model"].map(order))
        .sort_values(["_o", "repeat", "fold", "row"], kind="stable")
        .drop(columns="_o")
        .reset_index(drop=True)
    )
    tuning = pd.DataFrame(
        tuning_rows,
        columns=["model", "repeat", "fold", "best_params", "inner_score", "convergence_warnings"],
    )
    meta = pd.DataFrame(
        {
            "model": list(models),
            "label": [s.label for s in models.values()],
            "complexity": [s.complexity for s in models.values()],
            "constant": [_is_constant(s) for s in models.values()],
        }
    )
    settings = {
        "outer_splits": outer_splits,
        "outer_repeats": outer_repeats,
        "inner_splits": inner_splits,
        "seed": int(seed),
        "n": int(len(yi)),
    }
    return NestedCVResult(predictions, tuning, meta, settings)


def oof_probabilities(result: NestedCVResult) -> pd.DataFrame:
    """Each patient's out-of-fold probability per model, averaged over the repeats.

    Parameters
    ----------
    result : NestedCVResult

    Returns
    -------
    pandas.DataFrame
        Index ``row`` (0 .. n-1), one column per model (in the result's order).

    Examples
    --------
    >>> pred = pd.DataFrame({"model": "m", "repeat": [0, 0, 1, 1], "fold": [0, 1, 1, 0],
    ...                      "row": [0, 1, 0, 1], "y": [0, 1, 0, 1],
    ...                      "probability": [0.2, 0.6, 0.4, 0.8]})
    >>> meta = pd.DataFrame({"model": ["m"], "label": ["m"], "complexity": [1],
    ...                      "constant": [False]})
    >>> oof = oof_probabilities(NestedCVResult(pred, pd.DataFrame(), meta, {"n": 2}))
    >>> oof["m"].round(2).tolist()
    [0.3, 0.7]
    """
    if not isinstance(result, NestedCVResult):
        raise AnalysisError("result must be a NestedCVResult from nested_cv")
    wide = (
        result.predictions.groupby(["row", "model"], sort=True)["probability"]
        .mean()
        .unstack("model")
    )
    n = result.settings.get("n", len(wide))
    wide = wide.reindex(index=pd.RangeIndex(n, name="row"), columns=result.model_names)
    if wide.isna().any().any():
        raise AnalysisError("result: some patients have no out-of-fold prediction")
    wide.columns.name = None
    return wide


# ---------------------------------------------------------------------------
# Final model and bootstrap optimism
# ---------------------------------------------------------------------------


def fit_final(spec: ModelSpec, X: pd.DataFrame, y, *, inner_splits: int = 3, seed: int = 0):
    """The model refitted on all patients, tuned by the same inner grid search.

    For a spec with a grid, a grid search (:func:`analysis.models.tuning.grid_search`, equal to
    ``GridSearchCV``) (``StratifiedKFold(inner_splits,
    shuffle=True, random_state=seed)``, ``neg_log_loss``) chooses the parameters on all
    patients and its ``best_estimator_`` (refitted on all of them) is returned; otherwise
    the pipeline is simply fitted.

    Parameters
    ----------
    spec : ModelSpec
    X : pandas.DataFrame
    y : array_like
        Binary outcome 0/1.
    inner_splits : int, default 3
    seed : int, default 0

    Returns
    -------
    sklearn.pipeline.Pipeline
        Fitted; ``best_params_`` (dict) is attached as an attribute.

    Examples
    --------
    >>> from analysis.models.zoo import model_zoo
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"x": rng.normal(size=60)})
    >>> y = (X["x"] + rng.normal(size=60) > 0).astype(int)
    >>> spec = model_zoo({"x": {"type": "numeric"}}, ["x"], smoke=True)["lasso"]
    >>> sorted(fit_final(spec, X, y).best_params_)
    ['model__C']
    """
    if not isinstance(spec, ModelSpec):
        raise AnalysisError(f"spec must be a ModelSpec, got {type(spec).__name__}")
    inner_splits = _check_int(inner_splits, "inner_splits", 2)
    Xr, yi = _check_xy(X, y, {spec.name: spec}, inner_splits)
    fitted, params, _, _ = _fit_spec(spec, Xr, yi, inner_splits, int(seed))
    fitted.best_params_ = dict(params)
    return fitted


#: Metrics the .632+ estimator covers (others fall back to the out-of-bag mean).
PLUS632_METRICS = ("auc", "brier", "scaled_brier", "log_loss")
#: Spec complexity from which a learner is treated as memorising (.632+ by default).
MEMORISING_COMPLEXITY = 3
#: Share of failed bootstrap replicates above which a metric is flagged.
FAILED_SHARE_FLAG = 0.10

_METHOD_HARRELL = "Harrell optimism"
#: Harrell's method for a model whose penalty (or other hyperparameter) is chosen by inner
#: cross-validation in every replicate; :func:`analysis.validation.estimates.prefer_nested_cv`
#: replaces its calibration rows, which Harrell's optimism does not estimate for it.
METHOD_HARRELL_TUNED = "Harrell optimism, penalty re-tuned in every replicate"
_METHOD_632 = ".632+"
_METHOD_OOB = "out-of-bag bootstrap (.632+ undefined for this metric)"
_RECAL_ROWS = ("recalibration_intercept", "recalibration_slope")


def estimate_632plus(
    apparent: float, loo: float, no_information: float, *, higher_is_better: bool = False
) -> float:
    """The .632+ bootstrap estimate of Efron & Tibshirani (JASA 1997;92:548-60).

    For a loss (lower is better) with apparent value ``err``, leave-one-out bootstrap
    value ``err1`` and no-information value ``gamma``::

        err1' = min(err1, gamma)
        R'    = (err1' - err) / (gamma - err)   if err1 > err and gamma > err, else 0
        w     = 0.632 / (1 - 0.368 R')
        Err   = (1 - w) err + w err1'

    For a score where higher is better (the AUC, ``gamma = 0.5``) the same formula is
    applied to ``1 - score`` (equivalently with every inequality reversed).

    Parameters
    ----------
    apparent, loo, no_information : float
        ``err``, ``err1`` and ``gamma``.
    higher_is_better : bool, default False
        True for the AUC.

    Returns
    -------
    float
        NaN if any input is NaN.

    Examples
    --------
    >>> round(estimate_632plus(0.10, 0.20, 0.30), 6)  # R' = 0.5, w = 0.632 / 0.816
    0.177451
    >>> round(estimate_632plus(1.0, 0.5, 0.5, higher_is_better=True), 6)  # no information
    0.5
    """
    values = np.array([apparent, loo, no_information], dtype=float)
    if not np.isfinite(values).all():
        return np.nan
    if higher_is_better:
        return 1.0 - estimate_632plus(1.0 - apparent, 1.0 - loo, 1.0 - no_information)
    err, err1, gamma = (float(v) for v in values)
    err1p = min(err1, gamma)
    r = (err1p - err) / (gamma - err) if (err1 > err and gamma > err) else 0.0
    r = float(np.clip(r, 0.0, 1.0))
    w = 0.632 / (1.0 - 0.368 * r)
    return float((1.0 - w) * err + w * err1p)


def no_information_loss(y, p, metric: str) -> float:
    """No-information error rate ``gamma``: the loss averaged over all n x n (outcome,
    prediction) pairs, i.e. with predictors and outcomes independent (Efron & Tibshirani
    1997, eq. 27).

    ``brier``: ``mean_i mean_j (y_i - p_j)^2``; ``log_loss``:
    ``-mean_i mean_j [y_i log p_j + (1 - y_i) log(1 - p_j)]`` (``p`` clipped to machine
    epsilon, as :func:`analysis.evaluation.metrics.log_loss`).

    Examples
    --------
    >>> round(no_information_loss([0, 1], [0.2, 0.6], "brier"), 4)  # (.04+.36+.64+.16)/4
    0.3
    """
    yy = np.asarray(y, dtype=float)
    pp = np.asarray(p, dtype=float)
    q = yy.mean()
    if metric == "brier":
        return float(q * np.mean((1.0 - pp) ** 2) + (1.0 - q) * np.mean(pp**2))
    if metric == "log_loss":
        eps = np.finfo(float).eps
        pc = np.clip(pp, eps, 1 - eps)
        return float(-(q * np.mean(np.log(pc)) + (1.0 - q) * np.mean(np.log1p(-pc))))
    raise AnalysisError(f"no-information loss is defined for brier and log_loss, not {metric!r}")


def _pointwise_losses(y: np.ndarray, p: np.ndarray) -> dict[str, np.ndarray]:
    eps = np.finfo(float).eps
    pc = np.clip(p, eps, 1 - eps)
    return {
        "brier": (p - y) ** 2,
        "log_loss": -(y * np.log(pc) + (1 - y) * np.log1p(-pc)),
    }


def _metric_values(y: np.ndarray, p: np.ndarray, metrics: Sequence[str]) -> dict[str, float]:
    """:func:`score_binary` of ``metrics`` (NaN where undefined)."""
    scores = score_binary(y, p, metrics=list(metrics))
    return {m: scores[m] for m in metrics}


def _recalibrated(fitted, a: float, b: float):
    return RecalibratedClassifier(fitted, float(a), float(b)).fit()


def _boot_task(spec, X, y, idx, inner_splits, inner_seed, metrics, recalibrate, keep=False):
    """One replicate: ``(values, error)``; with ``keep``, ``(values, error, refit)`` where
    ``refit`` is the model fitted on the bootstrap sample (before any recalibration)."""
    kept: list | None = [] if keep else None
    values, error = _boot_values(spec, X, y, idx, inner_splits, inner_seed, metrics, recalibrate,
                                 kept)
    if not keep:
        return values, error
    return values, error, (kept[0] if kept and values is not None else None)


def _boot_values(spec, X, y, idx, inner_splits, inner_seed, metrics, recalibrate, kept=None):
    yb = y[idx]
    if np.bincount(yb, minlength=2).min() < inner_splits:
        return None, "bootstrap sample has too few events or non-events"
    oob = np.ones(y.size, dtype=bool)
    oob[idx] = False
    try:
        # the copies of a patient stay together in the inner folds of the refit's tuning;
        # the pipeline's parameters and grid points were checked by the apparent fit, so
        # scikit-learn need not check them again in every replicate
        with config_context(skip_parameter_validation=True):
            fitted, _, _, _ = _fit_spec(spec, X.iloc[idx], yb, inner_splits, inner_seed,
                                        groups=idx)
        if kept is not None:
            kept.append(fitted)
        coef = (np.nan, np.nan, np.nan, np.nan)
        p_held = None
        # one prediction of the original patients: the bootstrap sample's rows are copies of
        # them and the fitted pipeline scores every row on its own, so its predictions on
        # the sample are these, indexed by ``idx``
        p_orig = _predict(fitted, X)
        if recalibrate:
            if not (0 < y[oob].sum() < oob.sum()):
                return None, "out-of-bag patients lack events or non-events to recalibrate"
            p_raw = clip_probabilities(p_orig)
            on_oob = recalibration_fit(y[oob], p_raw[oob])
            on_all = recalibration_fit(y, p_raw)
            coef = (on_oob["intercept"], on_oob["slope"], on_all["intercept"], on_all["slope"])
            p_held = _cross_fitted_recalibration(y, p_raw, oob, inner_seed)
            # what RecalibratedClassifier(fitted, a_b, b_b).predict_proba gives
            p_orig = recalibrate_probability(p_orig, on_oob["intercept"], on_oob["slope"])
        p_boot = p_orig[idx]
    except Exception as exc:  # noqa: BLE001 - any failed refit counts as a failed replicate
        return None, f"{type(exc).__name__}: {exc}"
    # out-of-bag predictions; with recalibration, each out-of-bag patient's prediction is
    # recalibrated by coefficients estimated on the *other* half of the out-of-bag patients
    p_out = p_orig if p_held is None else p_held
    held = oob & np.isfinite(p_out)
    if 0 < y[held].sum() < held.sum():
        oob_values = _metric_values(y[held], p_out[held], metrics)
    else:
        oob_values = dict.fromkeys(metrics, np.nan)
    losses = {
        k: np.where(held, v, np.nan)
        for k, v in _pointwise_losses(y, np.where(held, p_out, 0.5)).items()
    }
    values = (
        _metric_values(yb, p_boot, metrics),
        _metric_values(y, p_orig, metrics),
        oob_values,
        losses,
        coef,
    )
    return values, None


def _cross_fitted_recalibration(y, p_raw, oob, seed) -> np.ndarray:
    """Out-of-bag probabilities recalibrated by 2-fold cross-fitting (NaN elsewhere).

    The out-of-bag patients are split at random (stratified by outcome) into two halves;
    each half's probabilities are recalibrated with the logistic recalibration estimated
    on the other half, so the out-of-bag evaluation of "fit + recalibrate" does not use
    the patients that estimated the recalibration.  A half whose partner cannot be
    fitted (one outcome class, separation) stays NaN.
    """
    out = np.full(y.size, np.nan)
    rows = np.flatnonzero(oob)
    rng = np.random.default_rng(seed)
    half = np.zeros(rows.size, dtype=int)
    for k in (0, 1):
        members = np.flatnonzero(y[rows] == k)
        half[rng.permutation(members)[: members.size // 2]] = 1
    for h in (0, 1):
        fit_rows, apply_rows = rows[half != h], rows[half == h]
        try:
            fit = recalibration_fit(y[fit_rows], p_raw[fit_rows])
        except Exception:  # noqa: BLE001 - an unfittable half leaves its partner undefined
            continue
        eta = np.clip(fit["intercept"] + fit["slope"] * logit(p_raw[apply_rows]), -700, 700)
        out[apply_rows] = expit(eta)
    return out


def _finite_mean(values) -> float:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else np.nan


def bootstrap_optimism(
    spec: ModelSpec,
    X: pd.DataFrame,
    y,
    *,
    n_boot: int = 200,
    seed: int = 0,
    n_jobs: int | None = None,
    progress: bool = True,
    metrics: Sequence[str] = ("auc", "brier", "calibration_intercept", "calibration_slope"),
    inner_splits: int = 3,
    recalibrate: bool = False,
    method: str = "auto",
    keep_refits: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, list]:
    """Bootstrap-validated performance of the model that is shipped.

    1. *Apparent*: fit the whole pipeline (imputation, scaling, and tuning by the inner
       grid search when the spec has a grid) on all patients (:func:`fit_final`) and
       evaluate it on the same patients.
    2. For ``b = 1..B``: draw ``n`` patients with replacement, fit the whole pipeline -
       tuning included - on that sample, and evaluate it on the bootstrap sample
       (``boot``), on the original patients (``test``) and on the patients left out of
       the sample (out-of-bag, ``oob``).
    3. ``corrected`` by one of two methods, named in the ``method`` column:

       * ``"Harrell optimism"`` (regression-type learners, spec complexity below
         :data:`MEMORISING_COMPLEXITY`): ``optimism = mean_b(boot - test)`` and
         ``corrected = apparent - optimism``.  For a model whose penalty is tuned by inner
         CV (a grid, or its own fit like the flexible model) the label is
         :data:`METHOD_HARRELL_TUNED`: each replicate re-tunes it, with the copies of a
         patient kept in one inner fold.
       * ``".632+"`` (learners that memorise their training data: complexity >= 3,
         i.e. forests, boosting, SVM, neural networks): Harrell's "test" evaluation
         contains the ~63% of patients the replicate model was trained on, so its
         optimism is far too small (and its slope optimism meaningless).  Instead the
         .632+ estimator of Efron & Tibshirani (1997), :func:`estimate_632plus`, with
         ``err1`` the leave-one-out bootstrap value and ``gamma`` the no-information
         value.  AUC: ``err1`` = mean out-of-bag AUC over the replicates, ``gamma =
         0.5``.  Brier and log loss: ``err1 = mean_i`` of the mean loss of patient ``i``
         over the replicates that left ``i`` out (the paper's definition), ``gamma``
         from all (outcome, prediction) pairs of the apparent fit
         (:func:`no_information_loss`).  Scaled Brier: ``1 - Brier(.632+) /
         (prev (1 - prev))``.  The calibration intercept, slope and ICI have no .632+
         form: their ``corrected`` value is the mean out-of-bag value (method
         ``"out-of-bag bootstrap ..."``).  ``optimism = apparent - corrected``.

       ``method="auto"`` chooses by complexity; ``"harrell"`` or ``".632+"`` force one.

    ``shrinkage`` is the corrected calibration slope of the shipped model: the row
    repeats the ``calibration_slope`` row's numbers (computed even when that metric is
    not requested), so the two can never disagree.

    **Recalibration** (``recalibrate=True``): the procedure validated is "fit, then
    recalibrate".  In every replicate the model fitted on the bootstrap sample is
    recalibrated, ``logit p' = a_b + b_b logit p``, with ``(a_b, b_b)`` estimated by
    maximum likelihood on that replicate's out-of-bag patients (new patients for that
    model), and ``boot``/``test`` are the metrics of the recalibrated replicate model.
    Its out-of-bag (``oob``, and the .632+ leave-one-out) metrics use 2-fold
    cross-fitting within the out-of-bag patients: each half is recalibrated with the
    coefficients estimated on the other half, so the patients that estimate a
    recalibration never judge it.  The shipped model is the final fit recalibrated with ``(a, b)``, the mean
    over the replicates of:

    * for memorising learners (``.632+``), the out-of-bag ``(a_b, b_b)`` above;
    * for regression-type learners (Harrell), the recalibration of the replicate model
      on the *original* patients - the bootstrap estimate of the shrinkage a model
      fitted on all ``n`` patients needs (Harrell, *Regression Modeling Strategies*,
      5.3; Steyerberg, *Clinical Prediction Models*, ch. 13).  The out-of-bag
      coefficients are not used for them: a replicate model is fitted on only ~63%
      distinct patients and is more over-fitted than the final model, so its out-of-bag
      slope over-shrinks it (in simulation, 12 predictors and 120 patients: out-of-bag
      slope 0.2-0.5 where 0.5-0.75 was needed, giving external slopes of 1-3 after
      recalibration instead of about 1).

    ``apparent`` is the recalibrated final model on all patients.  Two extra rows,
    ``recalibration_intercept`` and ``recalibration_slope``, carry ``(a, b)`` in
    ``apparent`` and ``corrected`` (``optimism`` and ``oob`` NaN); read them back with
    :func:`recalibration_from_table` and wrap the final model with
    :class:`analysis.models.recalibration.RecalibratedClassifier`.

    Bootstrap samples are drawn up front from ``numpy.random.default_rng(seed)`` and each
    replicate's inner split is seeded from ``(seed, b)``, so the table does not depend on
    ``n_jobs``.  A replicate that cannot be fitted (e.g. too few events for the inner
    folds, or a recalibration fit that fails) is skipped; a metric undefined in a
    replicate (e.g. the calibration slope under perfect separation) is skipped for that
    metric.  ``n_failed`` counts the replicates not used for each row, ``failed_share =
    n_failed / n_boot``, and ``flag`` is True when more than 10%
    (:data:`FAILED_SHARE_FLAG`) failed: such a row rests on a selected subset of
    replicates and should not be trusted.

    The ``oob`` column is the mean performance of the bootstrap models on the patients
    left out of their bootstrap sample (the leave-one-out bootstrap of Efron 1983),
    slightly pessimistic as each model is trained on only ~63% distinct patients.

    Parameters
    ----------
    spec : ModelSpec
    X : pandas.DataFrame
    y : array_like
        Binary outcome 0/1.
    n_boot : int, default 200
        Bootstrap replicates ``B``.
    seed : int, default 0
    n_jobs : int, optional
        Parallel jobs (``None``: all cores).  See :func:`nested_cv` for Dask.
    progress : bool, default True
        Show a progress bar.
    metrics : sequence of str
        Any of :data:`OPTIMISM_METRICS`.
    inner_splits : int, default 3
        Inner folds of the grid search.
    recalibrate : bool, default False
        Validate "fit + logistic recalibration" and estimate the final recalibration.
    method : {"auto", "harrell", ".632+"}, default "auto"
        Correction method; ``"auto"``: ``.632+`` when ``spec.complexity >= 3``.
    keep_refits : bool, default False
        Also return the replicates' refits (no extra fit: the models the bootstrap fitted
        anyway), for prediction intervals of the shipped model
        (:func:`analysis.models.artifact.save_model` ``refits=``).  With ``recalibrate=True``
        each refit is wrapped in a :class:`RecalibratedClassifier`: a memorising learner's
        with its own replicate's out-of-bag ``(a_b, b_b)`` (the kind the shipped model
        averages), a regression-type learner's with the shipped ``(a, b)`` - its own
        recalibration on the original patients would refit it to all patients (a
        one-predictor logistic refit becomes exactly the full-data fit) and hide the
        variation the intervals are for.

    Returns
    -------
    pandas.DataFrame
        ``model, metric, apparent, optimism, corrected, oob, n_boot, n_failed, method,
        failed_share, flag``; one row per metric, then ``shrinkage``, then (with
        ``recalibrate=True``) ``recalibration_intercept`` and ``recalibration_slope``.
        With ``keep_refits=True``: ``(table, refits)``, ``refits`` the fitted estimators
        of the replicates that succeeded, in replicate order.

    Raises
    ------
    AnalysisError
        On invalid inputs or when every replicate fails.

    Examples
    --------
    >>> from analysis.models.zoo import model_zoo
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"x": rng.normal(size=80)})
    >>> y = (X["x"] + rng.normal(size=80) > 0).astype(int)
    >>> spec = model_zoo({"x": {"type": "numeric"}}, ["x"])["logistic"]
    >>> t = bootstrap_optimism(spec, X, y, n_boot=10, n_jobs=1, progress=False)
    >>> t["metric"].tolist()
    ['auc', 'brier', 'calibration_intercept', 'calibration_slope', 'shrinkage']
    >>> t["method"].unique().tolist()
    ['Harrell optimism']
    >>> t = bootstrap_optimism(spec, X, y, n_boot=10, n_jobs=1, progress=False,
    ...                        recalibrate=True)
    >>> a, b = recalibration_from_table(t)
    >>> bool(0.5 < b < 1.5)
    True
    """
    if not isinstance(spec, ModelSpec):
        raise AnalysisError(f"spec must be a ModelSpec, got {type(spec).__name__}")
    n_boot = _check_int(n_boot, "n_boot", 1)
    inner_splits = _check_int(inner_splits, "inner_splits", 2)
    metrics = list(metrics)
    bad = [m for m in metrics if m not in OPTIMISM_METRICS]
    if bad or not metrics or len(set(metrics)) != len(metrics):
        raise AnalysisError(
            f"metrics must be distinct names from {list(OPTIMISM_METRICS)}, got {metrics}"
        )
    if method not in ("auto", "harrell", ".632+"):
        raise AnalysisError(f"method must be 'auto', 'harrell' or '.632+', got {method!r}")
    use_632 = method == ".632+" or (
        method == "auto" and int(spec.complexity) >= MEMORISING_COMPLEXITY
    )
    computed = list(dict.fromkeys([*metrics, "calibration_slope"]))
    Xr, yi = _check_xy(X, y, {spec.name: spec}, inner_splits)
    fitted, _, _, _ = _fit_spec(spec, Xr, yi, inner_splits, int(seed))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, yi.size, size=(n_boot, yi.size))
    tasks = [
        delayed(_boot_task)(
            spec, Xr, yi, idx[b], inner_splits, _task_seed(seed, b), computed, bool(recalibrate),
            bool(keep_refits),
        )
        for b in range(n_boot)
    ]
    results = _run(tasks, _resolve_n_jobs(n_jobs), progress, f"bootstrap {spec.name}")
    refits = [r[2] for r in results if r[0] is not None] if keep_refits else []
    results = [r[:2] for r in results]
    ok = [r for r, _ in results if r is not None]
    if not ok:
        raise AnalysisError(
            f"bootstrap_optimism: all {n_boot} replicates of model '{spec.name}' failed "
            f"(first error: {results[0][1]})"
        )
    coef = (np.nan, np.nan)
    final = fitted
    if recalibrate:
        coefs = np.array([c for *_, c in ok], dtype=float)
        # memorising learners: the replicates' out-of-bag recalibration; regression-type
        # learners: the replicate models' recalibration on the original patients
        cols = [0, 1] if use_632 else [2, 3]
        coef = (_finite_mean(coefs[:, cols[0]]), _finite_mean(coefs[:, cols[1]]))
        final = _recalibrated(fitted, *coef)
        # kept refits, recalibrated as the shipped model: memorising learners with their own
        # out-of-bag (a_b, b_b); regression-type ones with the shipped (a, b) - their own
        # recalibration on the original patients would refit them to all patients
        if keep_refits and use_632:
            refits = [_recalibrated(m, *c[cols]) for m, c in zip(refits, coefs, strict=True)
                      if np.isfinite(c[cols]).all()]
        elif keep_refits:
            refits = [_recalibrated(m, *coef) for m in refits]
    p_app = _predict(final, Xr)
    apparent = _metric_values(yi, p_app, computed)
    suffix = " (fit + recalibration)" if recalibrate else ""
    harrell = METHOD_HARRELL_TUNED if _tunes_itself(spec, fitted) else _METHOD_HARRELL

    rows = {}
    for m in computed:
        app = float(apparent[m])
        oob_vals = np.array([o[m] for _, _, o, _, _ in ok], dtype=float)
        oob = _finite_mean(oob_vals)
        if use_632 and m in PLUS632_METRICS:
            if m == "auc":
                corrected = estimate_632plus(app, oob, 0.5, higher_is_better=True)
                n_used = int(np.isfinite(oob_vals).sum())
            else:
                loss = "brier" if m == "scaled_brier" else m
                per_patient = np.array([lo[loss] for *_, lo, _ in ok], dtype=float)
                seen = np.isfinite(per_patient).any(axis=0)
                err1 = float(np.nanmean(per_patient[:, seen], axis=0).mean())
                gamma = no_information_loss(yi, p_app, loss)
                app_loss = float(apparent[loss]) if loss in apparent else float(
                    score_binary(yi, p_app, metrics=[loss])[loss]
                )
                corrected = estimate_632plus(app_loss, err1, gamma)
                if m == "scaled_brier":
                    prev = float(yi.mean())
                    corrected = 1.0 - corrected / (prev * (1.0 - prev))
                n_used = len(ok)
            row_method = _METHOD_632
        elif use_632:
            corrected, n_used = oob, int(np.isfinite(oob_vals).sum())
            row_method = _METHOD_OOB
        else:
            diff = np.array([b[m] - t[m] for b, t, *_ in ok], dtype=float)
            corrected = app - _finite_mean(diff)
            n_used = int(np.isfinite(diff).sum())
            row_method = harrell
        optimism = app - corrected
        if row_method == harrell:
            optimism = _finite_mean(np.array([b[m] - t[m] for b, t, *_ in ok], dtype=float))
            corrected = app - optimism
        rows[m] = [spec.name, m, app, optimism, corrected, oob, n_boot, n_boot - n_used,
                   row_method + suffix]
    out = [rows[m] for m in metrics]
    out.append([spec.name, "shrinkage", *rows["calibration_slope"][2:]])
    if recalibrate:
        n_used = int(np.isfinite(np.array([c for *_, c in ok], dtype=float)).all(axis=1).sum())
        where = "out-of-bag patients" if use_632 else "original patients"
        text = (
            f"logistic recalibration of the replicate models on the {where}, mean over "
            f"{n_used} bootstrap replicates"
        )
        for name, value in zip(_RECAL_ROWS, coef, strict=True):
            out.append([spec.name, name, value, np.nan, value, np.nan, n_boot, n_boot - n_used,
                        text])
    columns = ["model", "metric", "apparent", "optimism", "corrected", "oob", "n_boot",
               "n_failed", "method"]
    table = pd.DataFrame(out, columns=columns)
    table["failed_share"] = table["n_failed"] / table["n_boot"]
    table["flag"] = table["failed_share"] > FAILED_SHARE_FLAG
    return (table, refits) if keep_refits else table


def recalibration_from_table(table: pd.DataFrame, model: str | None = None):
    """The recalibration ``(a, b)`` that :func:`bootstrap_optimism` (``recalibrate=True``)
    estimated for the final model, read from its table (also after a CSV round trip).

    Parameters
    ----------
    table : pandas.DataFrame
        ``bootstrap_optimism`` output (columns ``metric`` and ``apparent``, optionally
        ``model``), e.g. read back from ``validation.csv``.
    model : str, optional
        Restrict to this model's rows when the table holds several.

    Returns
    -------
    tuple of float or None
        ``(intercept, slope)`` for ``logit p' = a + b logit p``
        (:class:`analysis.models.recalibration.RecalibratedClassifier`), or ``None``
        when the table has no recalibration rows.

    Examples
    --------
    >>> t = pd.DataFrame({"metric": ["auc", "recalibration_intercept", "recalibration_slope"],
    ...                   "apparent": [0.7, -0.1, 0.8]})
    >>> recalibration_from_table(t)
    (-0.1, 0.8)
    >>> recalibration_from_table(t.iloc[:1]) is None
    True
    """
    if not isinstance(table, pd.DataFrame) or not {"metric", "apparent"} <= set(table.columns):
        raise AnalysisError("table must be bootstrap_optimism output (columns metric, apparent)")
    if model is not None and "model" in table.columns:
        table = table[table["model"] == model]
    rows = table[table["metric"].isin(_RECAL_ROWS)]
    if rows.empty:
        return None
    if rows["metric"].duplicated().any() or len(rows) != 2:
        raise AnalysisError("table: expected one recalibration_intercept and one "
                            "recalibration_slope row (give model=...)")
    values = rows.set_index("metric")["apparent"].astype(float)
    a, b = float(values["recalibration_intercept"]), float(values["recalibration_slope"])
    if not (np.isfinite(a) and np.isfinite(b)):
        raise AnalysisError("table: the recalibration coefficients are not finite")
    return a, b
