"""Explaining a fitted model: permutation importance and per-patient contributions.

Both work on the *original predictor columns* the pipeline takes (a DataFrame), never on
the encoded features inside it, so ``smoking`` is one variable however many dummy columns
it becomes.

* :func:`permutation_importance_table` — the drop in a score when one column is shuffled
  (:func:`sklearn.inspection.permutation_importance` on the whole pipeline).
* :func:`patient_contributions` — Shapley values of each predictor for one patient's
  predicted **probability** (clinicians read probabilities; SHAP's default explains
  log-odds). The value function is interventional: ``v(S)`` is the mean prediction over
  background rows with the columns in ``S`` set to the patient's values. Contributions
  add up to ``prediction - base_value`` where ``base_value`` is the mean prediction over
  the background. Computed exactly by enumerating coalitions up to 10 predictors, and
  beyond that by :mod:`shap`'s permutation explainer - its algorithm replicated in NumPy
  (the same values to the last bit; SHAP's numba functions took seconds to compile in
  every new process for one explanation) - or a built-in seeded antithetic permutation
  estimator. (SHAP would only approximate the exact values for few predictors.)

Large cohorts: permutation importance predicts every patient ``n_repeats`` times per
column (20 x 20 x 100,000 predictions for a 100,000-patient study), so above
:data:`IMPORTANCE_SAMPLE_ABOVE` patients each shuffle is scored on a random subsample of
:data:`IMPORTANCE_SAMPLE_SIZE` patients (scikit-learn's ``max_samples``) and the table's
``note`` column says so.  Shapley contributions already use a background sample
(``background_size``) and do not grow with the cohort.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.metaestimators import available_if

from analysis.errors import AnalysisError
from analysis.validators import check_outcome, require_frame_columns

__all__ = [
    "IMPORTANCE_SAMPLE_ABOVE",
    "IMPORTANCE_SAMPLE_SIZE",
    "coded_probability",
    "exact_shapley",
    "global_contributions",
    "patient_contributions",
    "permutation_importance_table",
    "sampled_shapley",
]

METHODS = ("auto", "shap", "exact", "permutation")
MAX_EXACT = 10
CHUNK_ROWS = 200_000
CONTRIBUTION_COLUMNS = ["row", "variable", "value", "contribution", "base_value", "prediction"]
#: Above this many patients :func:`permutation_importance_table` scores each shuffle on a
#: random subsample of :data:`IMPORTANCE_SAMPLE_SIZE` patients (and says so in ``note``).
IMPORTANCE_SAMPLE_ABOVE = 20_000
#: Patients each shuffle is scored on above :data:`IMPORTANCE_SAMPLE_ABOVE` (drawn anew,
#: without replacement and seeded, for every repeat: scikit-learn's ``max_samples``).
IMPORTANCE_SAMPLE_SIZE = 20_000


# --------------------------------------------------------------------------- importance


def permutation_importance_table(pipeline, X: pd.DataFrame, y, *,
                                 scoring: str | Sequence[str] = ("roc_auc", "neg_brier_score"),
                                 n_repeats: int = 10, seed: int = 0,
                                 n_jobs: int | None = None) -> pd.DataFrame:
    """Permutation importance of each original predictor column, one row per variable and metric.

    ``importance`` is the mean over ``n_repeats`` shuffles of ``score(original) -
    score(shuffled)`` with scikit-learn's scorer convention (greater is better), so for
    ``roc_auc`` it is the loss of AUC and for ``neg_brier_score`` the increase of the
    Brier score. The interval is ``mean ± 1.96 · SD / √n_repeats`` (SD with ``ddof=1``):
    it reflects the randomness of the shuffles only, not the sampling uncertainty of the
    data or of model fitting.

    Parameters
    ----------
    pipeline : fitted estimator
        With ``predict_proba`` on a DataFrame of the columns of ``X``.
    X : DataFrame
        Predictor columns (ideally data not used for fitting).
    y : array_like
        Binary 0/1 outcomes.
    scoring : str or sequence of str, default ("roc_auc", "neg_brier_score")
        scikit-learn scorer names.
    n_repeats : int, default 10
        Shuffles per column (at least 2).
    seed : int, default 0
        Seed of the shuffles.
    n_jobs : int, optional
        Passed to scikit-learn.

    Returns
    -------
    DataFrame
        ``variable, metric, importance, ci_lower, ci_upper``; metrics in the order given,
        variables by decreasing importance within each metric.  Above
        :data:`IMPORTANCE_SAMPLE_ABOVE` patients, a ``note`` column (the same sentence on
        every row) says that each shuffle was scored on a subsample.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    >>> y = (X["a"] + rng.normal(size=200) > 0).astype(int)
    >>> model = LogisticRegression().fit(X, y)
    >>> t = permutation_importance_table(model, X, y, scoring="roc_auc", n_repeats=5)
    >>> t["variable"].tolist()
    ['a', 'b']
    """
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import get_scorer

    if not isinstance(X, pd.DataFrame):
        raise AnalysisError(
            f"X: must be a pandas DataFrame of predictor columns, got {type(X).__name__}")
    y = check_outcome(y, name="y")
    if len(y) != len(X):
        raise AnalysisError(f"y: has {len(y)} values but X has {len(X)} rows")
    if isinstance(n_repeats, bool) or not isinstance(n_repeats, int | np.integer) or n_repeats < 2:
        raise AnalysisError(f"n_repeats: must be an integer >= 2, got {n_repeats!r}")
    metrics = [scoring] if isinstance(scoring, str) else list(scoring)
    if not metrics or len(set(metrics)) != len(metrics):
        raise AnalysisError(f"scoring: must name one or more distinct scorers, got {scoring!r}")
    for name in metrics:
        try:
            get_scorer(name)
        except (ValueError, TypeError) as exc:
            raise AnalysisError(f"scoring: unknown scikit-learn scorer {name!r}") from exc

    sample, note = {}, None
    if len(X) > IMPORTANCE_SAMPLE_ABOVE:  # the cost is n_repeats x columns x patients
        sample = {"max_samples": IMPORTANCE_SAMPLE_SIZE}
        note = (f"Each of the {int(n_repeats)} shuffles per predictor is scored on a random "
                f"subsample of {IMPORTANCE_SAMPLE_SIZE:,} of the {len(X):,} patients to bound the "
                "cost (analysis.explain.contributions.IMPORTANCE_SAMPLE_SIZE).")
    if sample or n_jobs not in (None, 1) or not hasattr(pipeline, "predict_proba"):
        result = permutation_importance(pipeline, X, y, scoring=metrics,
                                        n_repeats=int(n_repeats), random_state=seed,
                                        n_jobs=n_jobs, **sample)
        importances = {metric: result[metric].importances for metric in metrics}
    else:
        importances = _stacked_permutation_importances(pipeline, X, y, metrics,
                                                       int(n_repeats), seed)
    frames = []
    for metric in metrics:
        reps = np.asarray(importances[metric], dtype=float)
        mean = reps.mean(axis=1)
        half = 1.96 * reps.std(axis=1, ddof=1) / math.sqrt(reps.shape[1])
        table = pd.DataFrame({"variable": [str(c) for c in X.columns], "metric": metric,
                              "importance": mean, "ci_lower": mean - half, "ci_upper": mean + half})
        frames.append(table.sort_values("importance", ascending=False, kind="mergesort"))
    out = pd.concat(frames, ignore_index=True)
    if note is not None:
        out["note"] = note
    return out


_RESPONSES = ("predict_proba", "decision_function", "predict")


def _replayed(method: str):
    def replay(self, X):
        return self.responses[method]

    replay.__name__ = replay.__qualname__ = method  # scorers look methods up by name
    return available_if(lambda self: method in self.responses)(replay)


class _Replay(ClassifierMixin, BaseEstimator):
    """Hands a scorer the responses computed beforehand (each method ignores X); it has a
    ``decision_function`` or ``predict`` only when the replayed model has one, so a scorer
    picks the same response method as for the model."""

    def __init__(self, responses=None, classes=None):
        self.responses = responses
        self.classes = classes

    def fit(self, X=None, y=None):
        self.classes_ = np.asarray(self.classes)
        return self

    predict_proba = _replayed("predict_proba")
    decision_function = _replayed("decision_function")
    predict = _replayed("predict")


def _stacked_permutation_importances(pipeline, X: pd.DataFrame, y, metrics, n_repeats: int,
                                     seed: int) -> dict[str, np.ndarray]:
    """:func:`sklearn.inspection.permutation_importance` (``n_jobs=1``, every row) with the
    ``n_repeats`` shuffled copies of a column predicted in one call.

    The shuffles are scikit-learn's: one seed drawn from ``RandomState(seed)``, then for
    each column a ``RandomState`` of that seed shuffling a row index cumulatively, the
    column of the previous copy reordered by it.  Each copy is scored by scikit-learn's
    scorers on its share of the stacked probabilities, so only the number of pipeline
    calls changes (one per column and response method - probabilities, decision values,
    classes, whichever the model has - instead of one per column, repeat and method).
    """
    from sklearn.metrics import check_scoring
    from sklearn.utils import check_random_state

    scorer = check_scoring(pipeline, scoring=list(metrics))
    baseline = scorer(pipeline, X, y)
    random_seed = check_random_state(seed).randint(np.iinfo(np.int32).max + 1)
    classes = pipeline.classes_
    n = len(X)
    out = {metric: np.empty((X.shape[1], n_repeats)) for metric in metrics}
    for col_idx in range(X.shape[1]):
        rng = check_random_state(random_seed)
        permuted = X.copy()
        shuffling_idx = np.arange(n)
        copies = []
        for _ in range(n_repeats):
            rng.shuffle(shuffling_idx)
            col = permuted.iloc[shuffling_idx, col_idx]
            col.index = permuted.index
            permuted[permuted.columns[col_idx]] = col
            copies.append(permuted.copy())
        stacked = pd.concat(copies, ignore_index=True)
        responses = {m: np.asarray(getattr(pipeline, m)(stacked)) for m in _RESPONSES
                     if hasattr(pipeline, m)}
        for r in range(n_repeats):
            replay = _Replay({m: v[r * n:(r + 1) * n] for m, v in responses.items()},
                             classes).fit()
            scores = scorer(replay, copies[r], y)
            for metric in metrics:
                out[metric][col_idx, r] = baseline[metric] - scores[metric]
    return out


# --------------------------------------------------------------------------- Shapley values


class _Codec:
    """Mixed-type predictor frames <-> float arrays (categories as level codes, NaN kept).

    SHAP's maskers and the coalition sampling below work on float arrays; the model is
    always called with a DataFrame of the original columns and dtypes.
    """

    def __init__(self, columns: Sequence[str], frames: Sequence[pd.DataFrame]):
        self.columns = list(columns)
        first = frames[0]
        self.levels: dict[str, np.ndarray] = {}
        for c in self.columns:
            if not pd.api.types.is_numeric_dtype(first[c]):
                seen = pd.concat([f[c] for f in frames]).dropna().astype(str).unique()
                self.levels[c] = np.asarray(sorted(seen), dtype=object)

    def encode(self, df: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(df), len(self.columns)), dtype=float)
        for j, c in enumerate(self.columns):
            if c in self.levels:
                codes = {v: float(i) for i, v in enumerate(self.levels[c])}
                out[:, j] = [codes[str(v)] if pd.notna(v) else np.nan for v in df[c]]
            else:
                try:
                    out[:, j] = pd.to_numeric(df[c]).to_numpy(dtype=float)
                except (ValueError, TypeError) as exc:
                    raise AnalysisError(
                        f"patients: column {c!r} must be numeric like X ({exc})") from exc
        return out

    def decode(self, arr: np.ndarray) -> pd.DataFrame:
        arr = np.asarray(arr, dtype=float).reshape(-1, len(self.columns))
        data = {}
        for j, c in enumerate(self.columns):
            col = arr[:, j]
            if c in self.levels:
                text = np.full(col.shape, np.nan, dtype=object)
                ok = ~np.isnan(col)
                text[ok] = self.levels[c][col[ok].astype(int)]
                data[c] = text
            else:
                data[c] = col
        return pd.DataFrame(data)


def _positive_class_fn(pipeline, codec: _Codec) -> Callable[[np.ndarray], np.ndarray]:
    classes = list(getattr(pipeline, "classes_", [0, 1]))
    col = next((i for i, c in enumerate(classes) if c == 1), len(classes) - 1)

    def f(arr: np.ndarray) -> np.ndarray:
        return np.asarray(pipeline.predict_proba(codec.decode(arr)))[:, col]

    return f


def coded_probability(pipeline, columns: Sequence[str], frames: Sequence[pd.DataFrame]
                      ) -> tuple[Callable[[np.ndarray], np.ndarray],
                                 Callable[[pd.DataFrame], np.ndarray]]:
    """The model's probability as a function of float-coded rows, for the Shapley functions.

    Returns ``(f, encode)``: ``encode`` turns a DataFrame of ``columns`` into a float array
    (categories as level codes over all ``frames``, NaN kept) and ``f`` maps such an array
    to ``P(outcome = 1)``, calling the pipeline with the original columns and types - the
    input :func:`exact_shapley` and :func:`sampled_shapley` take.

    Examples
    --------
    >>> class Half:
    ...     classes_ = np.array([0, 1])
    ...     def predict_proba(self, d):
    ...         p = np.where(d["g"] == "b", 0.5, 0.25)
    ...         return np.column_stack([1 - p, p])
    >>> X = pd.DataFrame({"g": ["a", "b"]})
    >>> f, encode = coded_probability(Half(), ["g"], [X])
    >>> encode(X).ravel().tolist(), f(encode(X)).tolist()
    ([0.0, 1.0], [0.25, 0.5])
    """
    codec = _Codec(columns, frames)
    return _positive_class_fn(pipeline, codec), codec.encode


def _coalition_values(f, x: np.ndarray, bg: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Mean prediction over the background with the masked-in columns set to ``x``."""
    m = len(bg)
    per_chunk = max(1, CHUNK_ROWS // m)
    out = np.empty(len(masks))
    for start in range(0, len(masks), per_chunk):
        block = masks[start:start + per_chunk]
        rows = np.where(block[:, None, :], x[None, None, :], bg[None, :, :])
        pred = f(rows.reshape(-1, x.size)).reshape(len(block), m)
        out[start:start + per_chunk] = pred.mean(axis=1)
    return out


def _bits(codes: np.ndarray, p: int) -> np.ndarray:
    return ((np.asarray(codes)[:, None] >> np.arange(p)) & 1).astype(bool)


def exact_shapley(f, x: np.ndarray, bg: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Exact interventional Shapley values by enumerating all ``2**p`` coalitions.

    Returns ``(phi, base_value, prediction)`` with ``phi.sum() == prediction - base_value``
    up to rounding.

    Examples
    --------
    >>> f = lambda a: a[:, 0] * a[:, 1]
    >>> phi, base, pred = exact_shapley(f, np.array([1.0, 1.0]), np.array([[0.0, 0.0]]))
    >>> phi.tolist(), base, pred
    ([0.5, 0.5], 0.0, 1.0)
    """
    p = x.size
    codes = np.arange(2**p)
    v = _coalition_values(f, x, bg, _bits(codes, p))
    v[-1] = float(f(x[None, :])[0])
    size = _bits(codes, p).sum(axis=1)
    weight = np.array([math.factorial(s) * math.factorial(p - s - 1) / math.factorial(p)
                       if s < p else 0.0 for s in range(p + 1)])
    phi = np.empty(p)
    for i in range(p):
        without = codes[(codes >> i) & 1 == 0]
        phi[i] = np.sum(weight[size[without]] * (v[without | (1 << i)] - v[without]))
    return phi, float(v[0]), float(v[-1])


def sampled_shapley(f, x: np.ndarray, bg: np.ndarray, n_pairs: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, float, float]:
    """Shapley values averaged over ``n_pairs`` random permutations and their reverses.

    Every permutation splits ``prediction - base_value`` exactly, so the estimate is
    additive whatever ``n_pairs`` is.

    Examples
    --------
    >>> f = lambda a: a.sum(axis=1)
    >>> phi, base, pred = sampled_shapley(f, np.array([1.0, 2.0, 3.0]), np.zeros((1, 3)), 2,
    ...                                   np.random.default_rng(0))
    >>> phi.tolist()
    [1.0, 2.0, 3.0]
    """
    p = x.size
    orders = []
    for _ in range(n_pairs):
        perm = rng.permutation(p)
        orders += [perm, perm[::-1]]
    prefixes = []
    for perm in orders:
        code, chain = 0, [0]
        for j in perm:
            code |= 1 << int(j)
            chain.append(code)
        prefixes.append(chain)
    unique = np.unique(np.asarray(prefixes))
    values = dict(zip(unique.tolist(), _coalition_values(f, x, bg, _bits(unique, p)), strict=True))
    full = (1 << p) - 1
    values[full] = float(f(x[None, :])[0])
    phi = np.zeros(p)
    for perm, chain in zip(orders, prefixes, strict=True):
        for k, j in enumerate(perm):
            phi[j] += values[chain[k + 1]] - values[chain[k]]
    return phi / len(orders), float(values[0]), values[full]


def _sequential_mean(values: np.ndarray) -> float:
    """The mean summed left to right (numba's ``np.mean``, which SHAP's averaging uses)."""
    return float(np.cumsum(values)[-1] / values.size)


def _shap_permutation_values(f, patients: np.ndarray, bg: np.ndarray, max_evals: int,
                             seed: int) -> tuple[np.ndarray, np.ndarray]:
    """SHAP's permutation explainer with an independent masker, in NumPy.

    What ``shap.Explainer(f, shap.maskers.Independent(bg, max_samples=len(bg)),
    algorithm="permutation", seed=seed)(patients, max_evals=max_evals)`` computes (shap
    0.4x-0.5x, identity link), step by step: the predictors whose value differs from some
    background row (``np.isclose``) are the varying ones; each of ``max_evals // (2L + 1)``
    permutations of the ``L`` varying predictors (shuffled by a ``RandomState(seed)``,
    as SHAP's seeded global generator, continuing over the patients) switches them to the
    patient's values one by one and back in the same order; after each switch only the
    background rows whose value of that predictor changes are predicted again, all
    switches of a permutation in one call of ``f``; each coalition's value is the mean
    prediction over the background (summed left to right); a predictor's contribution is
    the mean of its forward and backward differences.  The same values as SHAP, to the
    last bit in the tests, without importing SHAP and compiling its numba functions
    (seconds in every new process, for one explanation).
    """
    rng = np.random.RandomState(seed)
    n_bg, p = bg.shape
    values = np.zeros((len(patients), p))
    bases = np.zeros(len(patients))
    for r, x in enumerate(patients):
        variants = ~np.isclose(x, bg)
        inds = np.where(np.any(variants, axis=0))[0]
        if inds.size == 0:
            bases[r] = _sequential_mean(np.asarray(f(bg.copy()), dtype=float))
            continue
        n_perm = int(max_evals) // (2 * inds.size + 1)
        if n_perm == 0:
            raise AnalysisError(f"max_evals={max_evals} is too low for the permutation "
                                f"explainer: it must be at least {2 * inds.size + 1}")
        row_values = np.zeros(p)
        for _ in range(n_perm):
            rng.shuffle(inds)
            order = np.concatenate([inds, inds])
            masked = bg.astype(float, copy=True)
            on = np.zeros(p, dtype=bool)
            blocks, changed = [masked.copy()], [np.ones(n_bg, dtype=bool)]
            for j in order:
                masked[:, j] = bg[:, j] if on[j] else x[j]
                on[j] = not on[j]
                blocks.append(masked[variants[:, j]])
                changed.append(variants[:, j])
            outputs = np.asarray(f(np.concatenate(blocks)), dtype=float)
            current = np.zeros(n_bg)
            averaged = np.zeros(len(blocks))
            start = 0
            for i, rows in enumerate(changed):
                count = int(rows.sum())
                if count:
                    current[rows] = outputs[start:start + count]
                    averaged[i] = _sequential_mean(current)
                else:
                    averaged[i] = averaged[i - 1]
                start += count
            half = inds.size
            for k, j in enumerate(inds):  # forward: switched on
                row_values[j] += averaged[k + 1] - averaged[k]
            for k, j in enumerate(inds):  # backward: switched off
                row_values[j] += averaged[half + k] - averaged[half + k + 1]
        values[r] = row_values / (2 * n_perm)
        bases[r] = averaged[0]
    return values, bases


def patient_contributions(pipeline, X: pd.DataFrame, patients: pd.DataFrame, *,
                          background: pd.DataFrame | None = None, seed: int = 0,
                          max_evals: int | None = None, method: str = "auto",
                          background_size: int = 100) -> pd.DataFrame:
    """Per-patient contributions of each predictor to the predicted probability.

    Shapley values of the function ``x -> P(outcome = 1 | x)`` with an interventional
    (independent-background) value function: for a set ``S`` of predictors, ``v(S)`` is
    the mean predicted probability over the background rows with the columns in ``S``
    replaced by the patient's values. Hence ``base_value`` is the mean prediction over the
    background, and the contributions of one patient sum to ``prediction - base_value``.

    Parameters
    ----------
    pipeline : fitted estimator
        With ``predict_proba`` on a DataFrame of the columns of ``X`` (it may impute NaN).
    X : DataFrame
        Reference data (usually the development data) defining the columns, their types
        and, unless ``background`` is given, the background rows.
    patients : DataFrame
        Rows to explain; must hold every column of ``X``. Their index labels become ``row``.
    background : DataFrame, optional
        Explicit background rows; default a seeded sample of ``background_size`` rows of ``X``.
    seed : int, default 0
        Seed of the background sample and of the permutations.
    max_evals : int, optional
        Coalition evaluations (each over the whole background) per patient for the
        permutation methods; default ``10 * (2p + 1)`` for ``p`` predictors, i.e. 10
        forward/backward permutation pairs. Ignored by ``"exact"``.
    method : {"auto", "shap", "exact", "permutation"}
        ``"shap"``: the values of :class:`shap.explainers.PermutationExplainer` with an
        :class:`shap.maskers.Independent` masker, computed by a NumPy replica of its
        algorithm (:func:`_shap_permutation_values`; SHAP need not be installed);
        ``"exact"``: enumeration of all coalitions (at most 10 predictors);
        ``"permutation"``: the built-in seeded antithetic permutation estimator.
        ``"auto"``: exact up to 10 predictors, else ``"shap"``.
    background_size : int, default 100
        Rows sampled from ``X`` when ``background`` is None.

    Returns
    -------
    DataFrame
        Tidy ``row, variable, value, contribution, base_value, prediction``: one row per
        patient and predictor, patients in input order, predictors in the order of ``X``.
        ``.attrs["method"]`` names the method used.

    Examples
    --------
    >>> class Additive:
    ...     classes_ = np.array([0, 1])
    ...     def predict_proba(self, d):
    ...         p = 0.2 + 0.1 * d["a"].to_numpy() + 0.3 * (d["b"] == "yes").to_numpy()
    ...         return np.column_stack([1 - p, p])
    >>> X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": ["no", "yes", "no", "yes"]})
    >>> out = patient_contributions(Additive(), X, X.iloc[[3]], method="exact")
    >>> out[["variable", "contribution"]].round(6).values.tolist()
    [['a', 0.15], ['b', 0.15]]
    """
    if not isinstance(X, pd.DataFrame) or X.empty:
        raise AnalysisError("X: must be a non-empty pandas DataFrame of predictor columns")
    if not isinstance(patients, pd.DataFrame) or patients.empty:
        raise AnalysisError("patients: must be a non-empty pandas DataFrame")
    columns = [str(c) for c in X.columns]
    missing = [c for c in columns if c not in patients.columns]
    if missing:
        raise AnalysisError(f"patients: missing predictor column(s) {', '.join(missing)}")
    if method not in METHODS:
        raise AnalysisError(f"method: must be one of {', '.join(METHODS)}, got {method!r}")
    p = len(columns)
    if background is None:
        if isinstance(background_size, bool) or not isinstance(background_size, int | np.integer) \
                or background_size < 1:
            raise AnalysisError(
                f"background_size: must be a positive integer, got {background_size!r}")
        rng = np.random.default_rng(seed)
        take = np.sort(rng.choice(len(X), size=min(int(background_size), len(X)), replace=False))
        background = X.iloc[take]
    elif not isinstance(background, pd.DataFrame) or background.empty \
            or any(c not in background.columns for c in columns):
        raise AnalysisError("background: must be a non-empty DataFrame with every column of X")
    if max_evals is None:
        max_evals = 10 * (2 * p + 1)
    if isinstance(max_evals, bool) or not isinstance(max_evals, int | np.integer) \
            or max_evals < 2 * p + 1:
        raise AnalysisError(
            f"max_evals: must be an integer >= 2p + 1 = {2 * p + 1}, got {max_evals!r}")
    if method == "auto":
        method = "exact" if p <= MAX_EXACT else "shap"
    if method == "exact" and p > MAX_EXACT:
        raise AnalysisError(
            f"method: 'exact' enumerates 2**p coalitions and allows at most {MAX_EXACT} "
            f"predictors (got {p}); use 'permutation' or 'shap'")

    patients = patients[columns]
    codec = _Codec(columns, [X[columns], background[columns], patients])
    f = _positive_class_fn(pipeline, codec)
    bg, pts = codec.encode(background[columns]), codec.encode(patients)
    predictions = f(pts)
    if method == "shap":  # SHAP's algorithm without importing SHAP (numba compilation)
        phi, base = _shap_permutation_values(f, pts, bg, int(max_evals), seed)
    else:
        rng = np.random.default_rng(seed)
        n_pairs = max(1, int(max_evals) // (2 * p + 1))
        results = [exact_shapley(f, x, bg) if method == "exact" else
                   sampled_shapley(f, x, bg, n_pairs, rng) for x in pts]
        phi = np.array([r[0] for r in results]).reshape(len(pts), p)
        base = np.array([r[1] for r in results])
    out = pd.DataFrame({
        "row": np.repeat(patients.index.to_numpy(), p),
        "variable": np.tile(columns, len(pts)),
        "value": patients.to_numpy(dtype=object).reshape(-1),
        "contribution": phi.reshape(-1),
        "base_value": np.repeat(base, p),
        "prediction": np.repeat(predictions, p),
    })
    out.attrs["method"] = method
    return out


def global_contributions(contributions: pd.DataFrame) -> pd.DataFrame:
    """Mean absolute (and signed) contribution per variable over the explained patients.

    Examples
    --------
    >>> c = pd.DataFrame({"row": [0, 0, 1, 1], "variable": ["a", "b", "a", "b"],
    ...                   "contribution": [0.2, -0.1, -0.4, 0.0]})
    >>> global_contributions(c).round(6).values.tolist()
    [['a', 0.3, -0.1, 2], ['b', 0.05, -0.05, 2]]
    """
    require_frame_columns(contributions, ["variable", "contribution"], "contributions")
    g = contributions.groupby("variable", sort=False)["contribution"]
    out = pd.DataFrame({"mean_abs_contribution": g.apply(lambda s: s.abs().mean()),
                        "mean_contribution": g.mean(), "n": g.size()}).reset_index()
    return out.sort_values("mean_abs_contribution", ascending=False, kind="mergesort",
                           ignore_index=True)


# --------------------------------------------------------------------------- figures


