"""Internal validation of the candidate models: nested cross-validation, comparison,
mechanical model selection and Harrell's bootstrap optimism correction.

* :func:`nested_cv` - repeated, stratified outer folds estimate performance; inside each
  outer training set a grid search over stratified inner folds tunes the
  hyper-parameters.  All preprocessing lives in the pipelines
  (:mod:`analysis.models.zoo`), so it is refitted in every training set.
* :func:`oof_probabilities` - each patient's out-of-fold probability averaged over the
  repeats.
* :func:`compare_models` - one row per model: discrimination, accuracy, calibration and
  classification of the repeat-averaged out-of-fold probabilities, then
  :func:`select_model`.
* :func:`select_model` and :class:`SelectionRule` - the pre-specified selection rule.
* :func:`bootstrap_optimism` - Harrell's optimism-corrected performance of one model,
  refitting the whole pipeline (with tuning) on every bootstrap sample.
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

import json
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.dummy import DummyClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedKFold
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from analysis.errors import AnalysisError
from analysis.evaluation.scores import score_binary
from analysis.models.estimators import FixedScoreClassifier
from analysis.models.tuning import grid_search
from analysis.models.zoo import ModelSpec

__all__ = [
    "OPTIMISM_METRICS",
    "NestedCVResult",
    "bootstrap_optimism",
    "fit_final",
    "nested_cv",
    "oof_probabilities",
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


def _fit_spec(spec: ModelSpec, X: pd.DataFrame, y: np.ndarray, inner_splits: int, inner_seed: int):
    """Fit (tuning if the spec has a grid); return ``(pipeline, best_params, inner_score, n_warn)``.

    ``inner_score`` is the mean inner-fold ``neg_log_loss`` of the chosen parameters (NaN
    when nothing was tuned); ``n_warn`` counts convergence warnings.
    """
    with warnings.catch_warnings(record=True) as caught, threadpool_limits(limits=1):
        warnings.simplefilter("always", ConvergenceWarning)
        warnings.filterwarnings("ignore", message="Found unknown categories")
        grid = {k: list(v) for k, v in (spec.param_grid or {}).items()}
        if spec.tuned:
            cv = StratifiedKFold(n_splits=inner_splits, shuffle=True, random_state=inner_seed)
            search = grid_search(spec.pipeline, grid, X, y, cv)
            if not np.isfinite(search.score):
                raise AnalysisError(f"model '{spec.name}': every grid point failed to fit")
            fitted, params, score = search.estimator, search.params, search.score
        else:
            params = {k: v[0] for k, v in grid.items()}
            fitted = clone(spec.pipeline).set_params(**params).fit(X, y)
            score = np.nan
            final = fitted.steps[-1][1] if hasattr(fitted, "steps") else fitted
            if hasattr(final, "best_params_"):  # tuned inside the estimator (OOBTunedForest)
                params = {**params, **{f"model__{k}": v for k, v in final.best_params_.items()}}
                score = getattr(final, "best_score_", np.nan)
    n_warn = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    return fitted, params, float(score), int(n_warn)


def _predict(pipeline, X: pd.DataFrame) -> np.ndarray:
    with warnings.catch_warnings(), threadpool_limits(limits=1):
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
    cluster, create a client and select joblib's Dask backend (``n_jobs=-1`` then means
    all the cluster's workers)::

        from dask.distributed import Client
        import joblib
        client = Client("scheduler-address:8786")   # or Client() for a local cluster
        with joblib.parallel_backend("dask"):
            result = nested_cv(models, X, y, n_jobs=-1)

    (This needs ``dask.distributed`` installed where you run it; the package itself does
    not depend on Dask.)

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
# Comparison table
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Selection rule
# ---------------------------------------------------------------------------


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


def _metric_values(y: np.ndarray, p: np.ndarray, metrics: Sequence[str]) -> dict[str, float]:
    """:func:`score_binary` of ``metrics`` plus the calibration slope as ``_slope``.

    The slope is always computed: the shrinkage factor is its mean over the replicates.
    """
    scores = score_binary(y, p, metrics=list(dict.fromkeys([*metrics, "calibration_slope"])))
    out = {m: scores[m] for m in metrics}
    out["_slope"] = scores["calibration_slope"]
    return out


def _boot_task(spec, X, y, idx, inner_splits, inner_seed, metrics):
    yb = y[idx]
    if np.bincount(yb, minlength=2).min() < inner_splits:
        return None, "bootstrap sample has too few events or non-events"
    try:
        fitted, _, _, _ = _fit_spec(spec, X.iloc[idx], yb, inner_splits, inner_seed)
        p_boot = _predict(fitted, X.iloc[idx])
        p_orig = _predict(fitted, X)
    except Exception as exc:  # noqa: BLE001 - any failed refit counts as a failed replicate
        return None, f"{type(exc).__name__}: {exc}"
    oob = np.ones(y.size, dtype=bool)
    oob[idx] = False
    if 0 < y[oob].sum() < oob.sum():
        oob_values = _metric_values(y[oob], p_orig[oob], metrics)
    else:
        oob_values = dict.fromkeys([*metrics, "_slope"], np.nan)
    values = (
        _metric_values(yb, p_boot, metrics),
        _metric_values(y, p_orig, metrics),
        oob_values,
    )
    return values, None


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
) -> pd.DataFrame:
    """Harrell's bootstrap optimism-corrected performance of one model.

    1. *Apparent*: fit the whole pipeline (imputation, scaling, and tuning by the inner
       grid search when the spec has a grid) on all patients (:func:`fit_final`) and
       evaluate it on the same patients.
    2. For ``b = 1..B``: draw ``n`` patients with replacement, fit the whole pipeline -
       tuning included - on that sample, and evaluate it on the bootstrap sample
       (``boot``) and on the original patients (``test``).
    3. ``optimism = mean_b(boot - test)`` and ``corrected = apparent - optimism``.

    The ``shrinkage`` row is the uniform shrinkage factor: the mean calibration slope of
    the bootstrap models evaluated on the original patients (apparent 1 by definition,
    optimism ``1 - shrinkage``, corrected = the factor).  ``calibration_intercept`` is
    calibration-in-the-large (logit(prob) as offset), ``calibration_slope`` the slope on
    logit(prob).

    Bootstrap samples are drawn up front from ``numpy.random.default_rng(seed)`` and each
    replicate's inner split is seeded from ``(seed, b)``, so the table does not depend on
    ``n_jobs``.  A replicate that cannot be fitted (e.g. too few events for the inner
    folds) is skipped; a metric that is undefined in a replicate (e.g. the calibration
    slope under perfect separation) is skipped for that metric.  ``n_failed`` counts the
    replicates not used for each row.

    The ``oob`` column is the mean performance of the bootstrap models on the patients
    left out of their bootstrap sample (the leave-one-out bootstrap of Efron 1983; for
    ``shrinkage``, the mean out-of-bag calibration slope).  It is reported as a check,
    because Harrell's correction is only trustworthy for models that do not (nearly)
    interpolate their training data - regression-type models such as the logistic
    models.  For a random forest, whose apparent AUC is about 1, the "test" evaluation on
    the original patients contains the ~63% of them the bootstrap model was trained on,
    so the test AUC is almost as optimistic as the apparent one and ``corrected`` stays
    far too high (e.g. 0.93 where nested cross-validation gives 0.68).  For such models
    report the nested cross-validation estimate (or ``oob``) instead; ``oob`` itself is
    slightly pessimistic, as each model is trained on only ~63% distinct patients.

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

    Returns
    -------
    pandas.DataFrame
        ``model, metric, apparent, optimism, corrected, oob, n_boot, n_failed``; one row
        per metric and a final ``shrinkage`` row.

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
    Xr, yi = _check_xy(X, y, {spec.name: spec}, inner_splits)
    fitted, _, _, _ = _fit_spec(spec, Xr, yi, inner_splits, int(seed))
    apparent = _metric_values(yi, _predict(fitted, Xr), metrics)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, yi.size, size=(n_boot, yi.size))
    tasks = [
        delayed(_boot_task)(spec, Xr, yi, idx[b], inner_splits, _task_seed(seed, b), metrics)
        for b in range(n_boot)
    ]
    results = _run(tasks, _resolve_n_jobs(n_jobs), progress, f"bootstrap {spec.name}")
    ok = [r for r, _ in results if r is not None]
    if not ok:
        raise AnalysisError(
            f"bootstrap_optimism: all {n_boot} replicates of model '{spec.name}' failed "
            f"(first error: {results[0][1]})"
        )

    def finite_mean(values) -> float:
        v = np.asarray(values, dtype=float)
        v = v[np.isfinite(v)]
        return float(v.mean()) if v.size else np.nan

    rows = []
    for m in metrics:
        diff = np.array([b[m] - t[m] for b, t, _ in ok], dtype=float)
        optimism = finite_mean(diff)
        app = float(apparent[m])
        n_used = int(np.isfinite(diff).sum())
        oob = finite_mean([o[m] for _, _, o in ok])
        rows.append((spec.name, m, app, optimism, app - optimism, oob, n_boot, n_boot - n_used))
    slopes = np.array([t["_slope"] for _, t, _ in ok], dtype=float)
    shrink = finite_mean(slopes)
    oob_slope = finite_mean([o["_slope"] for _, _, o in ok])
    n_used = int(np.isfinite(slopes).sum())
    rows.append(
        (
            spec.name,
            "shrinkage",
            1.0,
            1.0 - shrink,
            1.0 - (1.0 - shrink),
            oob_slope,
            n_boot,
            n_boot - n_used,
        )
    )
    columns = ["model", "metric", "apparent", "optimism", "corrected", "oob", "n_boot", "n_failed"]
    return pd.DataFrame(rows, columns=columns)
