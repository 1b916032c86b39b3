"""The candidate prediction models ("model zoo") and the preprocessing they share.

Every model is a scikit-learn :class:`~sklearn.pipeline.Pipeline` that takes a
:class:`pandas.DataFrame` of the raw predictor columns of a processed cohort (numeric,
integer and binary columns as float with NaN for missing, categorical columns as strings
with NaN for missing) and does *all* of its preprocessing itself, so that resampling
(:mod:`analysis.validation`) re-runs the imputation, transformation and scaling inside
every training set and nothing leaks from the test patients.

Preprocessing (:func:`build_preprocessor`); columns processed alike share one transformer:

* numeric and integer: the codebook ``transform`` (``log``: :class:`ClippedLog`, the log
  of the value clipped below at half the smallest positive training value, so a zero
  below a detection limit gets a finite value; ``log1p``; ``sqrt`` of the value clipped
  at 0) -> median imputation -> optional restricted cubic spline
  (:class:`analysis.splines.RestrictedCubicSpline`) -> standardisation;
* binary: most-frequent imputation, kept as 0/1 (not standardised, so a coefficient is
  the contrast with 0);
* categorical: most-frequent imputation -> one-hot coding with the codebook levels,
  dropping the first (reference) level; unseen levels code as the reference
  (``handle_unknown="ignore"``).  Columns are named like ``sex[male]``.

Imputation choice: single median / most-frequent imputation fitted inside the pipeline
(not ``IterativeImputer``).  It is deterministic, cheap enough to repeat in thousands of
resampled fits, and what a deployed model does for a new patient with a missing value.
Multiple imputation (:mod:`analysis.imputation`) serves the inferential regression
analysis instead.

The zoo (:func:`model_zoo`) with the complexity ranks used by the one-standard-error rule
of :func:`analysis.validation.select_model` in brackets:

* ``intercept_only`` [0] - :class:`~sklearn.dummy.DummyClassifier` (``prior``): the
  benchmark, never selected;
* ``logistic`` [1] - unpenalised logistic regression, the reference: ``C=inf`` (the
  spelling of ``penalty=None`` from scikit-learn 1.8) fitted by Newton steps
  (``newton-cholesky``, ``tol=1e-10``), i.e. the maximum-likelihood fit of
  ``glm``/``rms::lrm``;
* ``lasso`` [1] - L1-penalised logistic (saga), ``C`` tuned;
* ``elastic_net`` [1] - elastic-net logistic (saga), ``C`` and ``l1_ratio`` tuned;
* ``random_forest`` [3] - :class:`~sklearn.ensemble.RandomForestClassifier`, tuned on its
  out-of-bag log loss (:class:`OOBTunedForest`);
* ``gradient_boosting`` [3] - :class:`~sklearn.ensemble.HistGradientBoostingClassifier`;
* ``svm`` [3] - RBF :class:`~sklearn.svm.SVC` with Platt scaling (below);
* ``mlp`` [4] - one-hidden-layer :class:`~sklearn.neural_network.MLPClassifier`;
* clinical scores [0] - :class:`FixedScoreClassifier`, a published score recalibrated.

Penalised logistic models count as simple (rank 1, like the reference) because they are
additive on the logit scale with the same terms.  A fixed clinical score with only a
recalibration intercept and slope is the simplest candidate (rank 0), so the one-SE rule
prefers it whenever the new models do not beat it by more than one standard error.

SVM probabilities: :class:`~sklearn.calibration.CalibratedClassifierCV` with
``method="sigmoid"`` and ``ensemble=False`` around an RBF ``SVC`` - Platt scaling fitted
on cross-validated decision values, which is what ``SVC(probability=True)`` did
internally (that flag is deprecated from scikit-learn 1.9) but with a seeded,
stratified split, so the probabilities are reproducible.

The clinical score :func:`vedolizumab_cdst` (Dulai et al. 2018) is available as a model
through :data:`CLINICAL_SCORES` and :func:`clinical_score_spec`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.svm import SVC
from sklearn.utils.validation import check_is_fitted

from analysis.errors import AnalysisError

__all__ = [
    "CDST_ALBUMIN_POINTS_PER_G_L",
    "CDST_CRP_HIGH_MG_L",
    "CDST_CRP_LOW_MG_L",
    "CLINICAL_SCORES",
    "COMPLEXITY",
    "MODEL_NAMES",
    "ClippedLog",
    "FixedScoreClassifier",
    "ModelSpec",
    "OOBTunedForest",
    "build_preprocessor",
    "clinical_score_spec",
    "clone_spec",
    "feature_names",
    "model_zoo",
    "vedolizumab_cdst",
]

#: Names of the zoo's models, in the order :func:`model_zoo` returns them.
MODEL_NAMES = (
    "intercept_only",
    "logistic",
    "lasso",
    "elastic_net",
    "random_forest",
    "gradient_boosting",
    "svm",
    "mlp",
)

#: Complexity ranks for the one-standard-error rule (lower is simpler).
COMPLEXITY = {
    "intercept_only": 0,
    "logistic": 1,
    "lasso": 1,
    "elastic_net": 1,
    "svm": 3,
    "random_forest": 3,
    "gradient_boosting": 3,
    "mlp": 4,
}

_LABELS = {
    "intercept_only": "Intercept only (prevalence)",
    "logistic": "Logistic regression (unpenalised)",
    "lasso": "Lasso logistic regression",
    "elastic_net": "Elastic-net logistic regression",
    "random_forest": "Random forest",
    "gradient_boosting": "Gradient boosting (histogram)",
    "svm": "Support vector machine (RBF, Platt-scaled)",
    "mlp": "Neural network (one hidden layer)",
}

_NUMERIC = ("numeric", "integer")
_SKLEARN_18 = tuple(int(p) for p in sklearn.__version__.split(".")[:2]) >= (1, 8)


# ---------------------------------------------------------------------------
# Model specification
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec:
    """A candidate model: an unfitted pipeline, its tuning grid and its complexity rank.

    Parameters
    ----------
    name : str
        Short identifier used in tables (``"lasso"``).
    label : str
        Human-readable name for reports.
    pipeline : sklearn.pipeline.Pipeline
        Unfitted pipeline taking a DataFrame of predictor columns.
    param_grid : dict
        :class:`~sklearn.model_selection.GridSearchCV` grid over pipeline parameters
        (``"model__C"``); empty for a model without tuning.
    complexity : int
        Rank used by the one-standard-error rule (see the module docstring).

    Examples
    --------
    >>> spec = ModelSpec("null", "Null", Pipeline([("model", DummyClassifier())]), {}, 0)
    >>> spec.tuned
    False
    """

    name: str
    label: str
    pipeline: Any
    param_grid: dict = field(default_factory=dict)
    complexity: int = 1

    @property
    def tuned(self) -> bool:
        """Whether the spec has a non-trivial grid to tune over."""
        return bool(self.param_grid) and any(len(v) > 1 for v in self.param_grid.values())


# ---------------------------------------------------------------------------
# Preprocessing
# ---------------------------------------------------------------------------


class ClippedLog(TransformerMixin, BaseEstimator):
    """Natural log of values clipped below at a positive floor (for ``transform: log``).

    Parameters
    ----------
    floor : float, optional
        Values below ``floor`` (including zeros) are set to ``floor`` before the log.
        Default: learned at ``fit`` as half the smallest positive training value (the
        usual "half the detection limit" substitution), so a zero CRP becomes a finite,
        plausible value rather than ``-inf``.

    Attributes
    ----------
    floor_ : numpy.ndarray
        Floor per column.
    n_features_in_ : int

    Examples
    --------
    >>> t = ClippedLog().fit([[0.0], [0.4], [2.0]])
    >>> t.floor_.tolist()
    [0.2]
    >>> np.round(t.transform([[0.0], [np.nan]]), 4).tolist()
    [[-1.6094], [nan]]
    """

    def __init__(self, floor: float | None = None):
        self.floor = floor

    def fit(self, X, y=None):
        """Learn the floor of each column.

        Parameters
        ----------
        X : array_like, shape (n, k)
        y : ignored

        Returns
        -------
        ClippedLog
            ``self``.

        Examples
        --------
        >>> ClippedLog(floor=0.1).fit([[0.0]]).floor_.tolist()
        [0.1]
        """
        arr = np.asarray(X, dtype=float)
        arr = arr.reshape(-1, 1) if arr.ndim == 1 else arr
        if self.floor is not None:
            if not (np.isfinite(self.floor) and self.floor > 0):
                raise AnalysisError(f"floor must be a positive number, got {self.floor!r}")
            floors = np.full(arr.shape[1], float(self.floor))
        else:
            floors = np.empty(arr.shape[1])
            for j in range(arr.shape[1]):
                col = arr[:, j]
                pos = col[np.isfinite(col) & (col > 0)]
                floors[j] = pos.min() / 2.0 if pos.size else 1.0
        if np.any(arr[np.isfinite(arr)] < 0):
            raise AnalysisError("transform 'log' needs values >= 0; found negative values")
        self.floor_ = floors
        self.n_features_in_ = arr.shape[1]
        return self

    def transform(self, X):
        """Return ``log(max(X, floor_))``; NaN stay NaN.

        Parameters
        ----------
        X : array_like, shape (n, k)

        Returns
        -------
        numpy.ndarray

        Examples
        --------
        >>> ClippedLog(floor=1.0).fit([[1.0]]).transform([[np.e]]).tolist()
        [[1.0]]
        """
        check_is_fitted(self, "floor_")
        arr = np.asarray(X, dtype=float)
        arr = arr.reshape(-1, 1) if arr.ndim == 1 else arr
        with np.errstate(invalid="ignore"):
            return np.log(np.maximum(arr, self.floor_))

    def get_feature_names_out(self, input_features=None):
        """The input names, unchanged.

        Examples
        --------
        >>> ClippedLog().fit([[1.0]]).get_feature_names_out(["crp"]).tolist()
        ['crp']
        """
        if input_features is None:
            input_features = [f"x{j}" for j in range(self.n_features_in_)]
        return np.asarray(list(input_features), dtype=object)


class OOBTunedForest(ClassifierMixin, BaseEstimator):
    """A random forest tuned on its own out-of-bag predictions.

    ``fit`` grows one :class:`~sklearn.ensemble.RandomForestClassifier` per point of
    ``param_grid`` on all training rows and keeps the one with the lowest out-of-bag log
    loss (probabilities clipped to ``[1e-6, 1 - 1e-6]``; ties: the first grid point).
    Out-of-bag error is the forest's built-in estimate of its test error (Breiman 2001;
    ``tuneRF`` in R's randomForest), so no inner folds are needed: tuning costs one forest
    per grid point instead of one per grid point and inner fold, plus the refit - about
    a third of a grid search with 3 inner folds, which is what makes B = 200 bootstrap
    refits of a tuned forest affordable.  The preprocessing before it in the pipeline is
    fitted on all training rows (as for any untuned step).

    Parameters
    ----------
    param_grid : dict of str to list, optional
        Forest parameters to try (``{"min_samples_leaf": [2, 10]}``).  Default: none.
    n_estimators : int, default 150
    random_state : int, optional

    Attributes
    ----------
    forest_ : RandomForestClassifier
        The chosen forest, fitted on all rows.
    best_params_ : dict
        Its grid point.
    best_score_ : float
        Its out-of-bag ``neg_log_loss`` (as GridSearchCV's ``best_score_``).
    oob_scores_ : list of float
        Out-of-bag ``neg_log_loss`` of every grid point, in grid order.
    classes_ : numpy.ndarray

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(120, 2))
    >>> y = (X[:, 0] + rng.normal(size=120) > 0).astype(int)
    >>> f = OOBTunedForest({"min_samples_leaf": [2, 20]}, n_estimators=50, random_state=0)
    >>> sorted(f.fit(X, y).best_params_)
    ['min_samples_leaf']
    """

    def __init__(self, param_grid=None, n_estimators: int = 150, random_state=None):
        self.param_grid = param_grid
        self.n_estimators = n_estimators
        self.random_state = random_state

    def fit(self, X, y):
        """Grow a forest per grid point and keep the best by out-of-bag log loss.

        Examples
        --------
        >>> X = np.arange(40.0).reshape(-1, 1)
        >>> OOBTunedForest(n_estimators=20, random_state=0).fit(X, X[:, 0] > 20).classes_
        array([False,  True])
        """
        from sklearn.metrics import log_loss as _log_loss
        from sklearn.model_selection import ParameterGrid

        grid = ParameterGrid(dict(self.param_grid or {}))
        best, best_score, scores = None, -np.inf, []
        for params in grid:
            forest = RandomForestClassifier(
                n_estimators=self.n_estimators, oob_score=True, random_state=self.random_state,
                n_jobs=1, **params,
            ).fit(X, y)
            oob = forest.oob_decision_function_[:, -1]  # P(second class), binary outcome
            ok = np.isfinite(oob)
            proba = np.clip(oob[ok], 1e-6, 1 - 1e-6)
            positive = np.asarray(y)[ok] == forest.classes_[-1]
            score = -float(_log_loss(positive, proba, labels=[False, True]))
            scores.append(score)
            if score > best_score:
                best, best_score, best_params = forest, score, dict(params)
        self.forest_ = best
        self.best_params_ = best_params
        self.best_score_ = best_score
        self.oob_scores_ = scores
        self.classes_ = best.classes_
        self.n_features_in_ = best.n_features_in_
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities of the chosen forest.

        Examples
        --------
        >>> X = np.arange(40.0).reshape(-1, 1)
        >>> f = OOBTunedForest(n_estimators=20, random_state=0).fit(X, X[:, 0] > 20)
        >>> f.predict_proba(X).shape
        (40, 2)
        """
        check_is_fitted(self, "forest_")
        return self.forest_.predict_proba(X)

    def predict(self, X) -> np.ndarray:
        """Class labels of the chosen forest.

        Examples
        --------
        >>> X = np.arange(40.0).reshape(-1, 1)
        >>> f = OOBTunedForest(n_estimators=20, random_state=0).fit(X, X[:, 0] > 20)
        >>> f.predict(X[:1]).tolist()
        [False]
        """
        check_is_fitted(self, "forest_")
        return self.forest_.predict(X)


def _sqrt_nonneg(x):
    return np.sqrt(np.clip(np.asarray(x, dtype=float), 0.0, None))


def _log1p(x):
    return np.log1p(np.asarray(x, dtype=float))


def _as_string(x):
    """Categorical values as str (so codebook levels given as numbers still match)."""
    frame = pd.DataFrame(x).astype(object)
    missing = frame.isna().to_numpy()
    values = frame.astype(str).to_numpy(dtype=object)
    values[missing] = np.nan  # None / pd.NA become np.nan, which SimpleImputer recognises
    return values


def _bracket_name(feature: str, category) -> str:
    return f"{feature}[{category}]"


def _transform_step(name: str, transform):
    if transform in (None, "", "none"):
        return None
    if transform == "log":
        return ClippedLog()
    if transform == "log1p":
        return FunctionTransformer(_log1p, feature_names_out="one-to-one")
    if transform == "sqrt":
        return FunctionTransformer(_sqrt_nonneg, feature_names_out="one-to-one")
    raise AnalysisError(
        f"column '{name}': unknown transform {transform!r} (use log, log1p, sqrt or none)"
    )


def build_preprocessor(
    codebook: Mapping[str, Mapping],
    predictors: Iterable[str],
    *,
    splines: Mapping[str, int] | None = None,
    scale: bool = True,
) -> ColumnTransformer:
    """A :class:`~sklearn.compose.ColumnTransformer` preparing the predictors for a model.

    See the module docstring for the steps per codebook type.  Columns processed alike
    share one transformer (numeric columns with the same transform; each spline; all
    binary; all categorical), so the output is grouped in that order of first
    appearance, in predictor order within a group.  Output names are readable
    (``age``, ``sex[male]``, and ``age``, ``age'``, ``age''`` for a spline).

    Parameters
    ----------
    codebook : mapping of str to dict
        ``study.codebook(predictors)``: per column at least ``type`` and, for categorical
        columns, ``levels`` (the first is the reference); optional ``transform``.
    predictors : iterable of str
        Columns to use, in order.
    splines : mapping of str to int, optional
        Numeric predictors to expand in a restricted cubic spline with that many knots
        (3-7, Harrell's default quantiles of the training data after the transform).
    scale : bool, default True
        Standardise numeric columns (and spline bases) with training mean and SD.

    Returns
    -------
    sklearn.compose.ColumnTransformer
        Unfitted; ``get_feature_names_out()`` gives the design-column names after fit.

    Raises
    ------
    AnalysisError
        If a predictor is missing from the codebook or of an unusable type, a
        categorical column has no levels, or a spline is asked for a non-numeric column.

    Examples
    --------
    >>> cb = {"age": {"type": "numeric"},
    ...       "sex": {"type": "categorical", "levels": ["female", "male"]}}
    >>> X = pd.DataFrame({"age": [30.0, np.nan, 50.0], "sex": ["male", "female", np.nan]})
    >>> pre = build_preprocessor(cb, ["age", "sex"]).fit(X)
    >>> pre.get_feature_names_out().tolist()
    ['age', 'sex[male]']
    """
    predictors = list(predictors)
    if not predictors:
        raise AnalysisError("predictors must name at least one column")
    if len(set(predictors)) != len(predictors):
        raise AnalysisError("predictors must not repeat a column")
    splines = dict(splines or {})
    for name in splines:
        if name not in predictors:
            raise AnalysisError(f"splines: column '{name}' is not one of the predictors")
    # Columns that are processed alike share one transformer (one vectorised fit instead of
    # one per column: this keeps the thousands of resampled fits cheap).
    groups: dict[str, list[str]] = {}
    steps_of: dict[str, Any] = {}
    for name in predictors:
        if name not in codebook:
            raise AnalysisError(f"predictor '{name}' is not in the codebook")
        spec = codebook[name]
        kind = spec.get("type")
        if name in splines and kind not in _NUMERIC:
            raise AnalysisError(
                f"splines: column '{name}' has type {kind!r}; splines need a numeric column"
            )
        if kind in _NUMERIC:
            transform = spec.get("transform")
            _transform_step(name, transform)  # validates the transform name
            transform = None if transform in (None, "", "none") else transform
            key = f"spline:{name}" if name in splines else f"numeric:{transform or 'none'}"
            if key not in groups:
                steps = []
                step = _transform_step(name, transform)
                if step is not None:
                    steps.append(("transform", step))
                steps.append(("impute", SimpleImputer(strategy="median")))
                if name in splines:
                    from analysis.splines import RestrictedCubicSpline

                    steps.append(("spline", RestrictedCubicSpline(n_knots=int(splines[name]))))
                if scale:
                    steps.append(("scale", StandardScaler()))
                steps_of[key] = Pipeline(steps)
        elif kind == "binary":
            key = "binary"
            steps_of.setdefault(key, SimpleImputer(strategy="most_frequent"))
        elif kind == "categorical":
            levels = spec.get("levels")
            if not levels or len(levels) < 2:
                raise AnalysisError(
                    f"categorical predictor '{name}' needs at least two codebook levels"
                )
            key = "categorical"
        else:
            raise AnalysisError(
                f"predictor '{name}' has type {kind!r}; models use numeric, integer, "
                "binary or categorical predictors"
            )
        groups.setdefault(key, []).append(name)
    if "categorical" in groups:
        encoder = OneHotEncoder(
            categories=[[str(v) for v in codebook[c]["levels"]] for c in groups["categorical"]],
            drop="first",
            handle_unknown="ignore",
            sparse_output=False,
            feature_name_combiner=_bracket_name,
        )
        steps_of["categorical"] = Pipeline(
            [
                ("as_string", FunctionTransformer(_as_string, feature_names_out="one-to-one")),
                ("impute", SimpleImputer(strategy="most_frequent", missing_values=np.nan)),
                ("onehot", encoder),
            ]
        )
    transformers = [(key, steps_of[key], cols) for key, cols in groups.items()]
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)


def feature_names(pipeline) -> list[str]:
    """Design-column names of a fitted zoo pipeline (its ``preprocess`` step).

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        A fitted pipeline with a ``preprocess`` step.

    Returns
    -------
    list of str

    Examples
    --------
    >>> cb = {"age": {"type": "numeric"}}
    >>> X = pd.DataFrame({"age": [30.0, 40.0, 50.0, 60.0]})
    >>> pipe = model_zoo(cb, ["age"], include=["logistic"])["logistic"].pipeline
    >>> feature_names(pipe.fit(X, [0, 1, 0, 1]))
    ['age']
    """
    if "preprocess" not in getattr(pipeline, "named_steps", {}):
        raise AnalysisError("pipeline has no 'preprocess' step")
    return [str(v) for v in pipeline.named_steps["preprocess"].get_feature_names_out()]


# ---------------------------------------------------------------------------
# The zoo
# ---------------------------------------------------------------------------


def _logistic(kind: str, seed: int, **kwargs) -> LogisticRegression:
    """Logistic regression with the penalty spelled for the installed scikit-learn."""
    if kind == "none":
        # Newton steps to a tight tolerance: the maximum-likelihood fit of rms::lrm/glm.
        common = dict(solver="newton-cholesky", tol=1e-10, max_iter=1000, **kwargs)
        if _SKLEARN_18:
            return LogisticRegression(C=np.inf, **common)
        return LogisticRegression(penalty=None, **common)
    l1_ratio = 1.0 if kind == "l1" else 0.5
    common = dict(solver="saga", max_iter=20_000, tol=1e-4, random_state=seed, **kwargs)
    if _SKLEARN_18:
        return LogisticRegression(l1_ratio=l1_ratio, **common)
    penalty = "l1" if kind == "l1" else "elasticnet"
    extra = {} if kind == "l1" else {"l1_ratio": l1_ratio}
    return LogisticRegression(penalty=penalty, **extra, **common)


def _zoo_estimators(seed: int, smoke: bool) -> dict[str, tuple[Any, dict]]:
    if smoke:
        c_grid = [0.1, 1.0]
        return {
            "intercept_only": (DummyClassifier(strategy="prior"), {}),
            "logistic": (_logistic("none", seed), {}),
            "lasso": (_logistic("l1", seed), {"model__C": c_grid}),
            "elastic_net": (
                _logistic("elasticnet", seed),
                {"model__C": c_grid, "model__l1_ratio": [0.5]},
            ),
            "random_forest": (
                RandomForestClassifier(
                    n_estimators=25, min_samples_leaf=5, random_state=seed, n_jobs=1
                ),
                {},
            ),
            "gradient_boosting": (
                HistGradientBoostingClassifier(
                    max_iter=20,
                    max_depth=2,
                    learning_rate=0.1,
                    early_stopping=False,
                    random_state=seed,
                ),
                {},
            ),
            "svm": (_svm(seed), {"model__estimator__C": [1.0]}),
            "mlp": (
                MLPClassifier(
                    hidden_layer_sizes=(4,),
                    solver="lbfgs",
                    alpha=1.0,
                    max_iter=500,
                    random_state=seed,
                ),
                {},
            ),
        }
    c_grid = np.round(np.logspace(-2, 1, 8), 4).tolist()
    return {
        "intercept_only": (DummyClassifier(strategy="prior"), {}),
        "logistic": (_logistic("none", seed), {}),
        "lasso": (_logistic("l1", seed), {"model__C": c_grid}),
        "elastic_net": (
            _logistic("elasticnet", seed),
            {"model__C": c_grid[::2] + [c_grid[-1]], "model__l1_ratio": [0.2, 0.5, 0.8]},
        ),
        "random_forest": (
            # 150 trees: AUC and Brier change in the third decimal beyond this on cohorts of a
            # few hundred, and B = 200 bootstrap refits of the tuned forest stay affordable
            # tuned on out-of-bag log loss (OOBTunedForest): 4 forests per tuned fit
            OOBTunedForest(
                {"min_samples_leaf": [2, 10], "max_features": ["sqrt", 0.5]},
                n_estimators=150,
                random_state=seed,
            ),
            {},
        ),
        "gradient_boosting": (
            HistGradientBoostingClassifier(
                max_iter=100, early_stopping=False, min_samples_leaf=10, random_state=seed
            ),
            {"model__learning_rate": [0.03, 0.1], "model__max_depth": [2, 3]},
        ),
        "svm": (
            _svm(seed),
            {"model__estimator__C": [0.1, 1.0, 10.0], "model__estimator__gamma": ["scale", 0.01]},
        ),
        "mlp": (
            MLPClassifier(
                hidden_layer_sizes=(8,), solver="lbfgs", max_iter=1000, random_state=seed
            ),
            {"model__alpha": [0.1, 1.0, 10.0]},
        ),
    }


def _svm(seed: int) -> CalibratedClassifierCV:
    return CalibratedClassifierCV(
        SVC(kernel="rbf", random_state=seed),
        method="sigmoid",
        cv=StratifiedKFold(n_splits=5, shuffle=True, random_state=seed),
        ensemble=False,
    )


def model_zoo(
    codebook: Mapping[str, Mapping],
    predictors: Iterable[str],
    *,
    smoke: bool = False,
    seed: int = 0,
    include: Iterable[str] | None = None,
    extra: Mapping[str, ModelSpec] | Iterable[str | ModelSpec] | None = None,
    splines: Mapping[str, int] | None = None,
) -> dict[str, ModelSpec]:
    """The candidate models as :class:`ModelSpec` objects, keyed by name.

    Every pipeline is ``Pipeline([("preprocess", build_preprocessor(...)), ("model",
    estimator)])`` with ``random_state=seed`` wherever an estimator is random.  Grids
    (full mode) are small and deliberate, sized for cohorts of a few hundred patients:

    * lasso: ``C`` in 8 log-spaced values from 0.01 to 10;
    * elastic net: ``C`` in 5 of those values x ``l1_ratio`` in {0.2, 0.5, 0.8};
    * random forest (150 trees): ``min_samples_leaf`` {2, 10} x ``max_features``
      {sqrt, 0.5}, chosen by out-of-bag log loss (:class:`OOBTunedForest`);
    * gradient boosting (100 iterations, no early stopping): ``learning_rate``
      {0.03, 0.1} x ``max_depth`` {2, 3};
    * SVM: ``C`` {0.1, 1, 10} x ``gamma`` {scale, 0.01};
    * MLP (one hidden layer of 8 units, lbfgs, deterministic): weight decay ``alpha``
      {0.1, 1, 10}.

    ``smoke=True`` keeps at most two values per grid and few trees / iterations.

    Parameters
    ----------
    codebook : mapping of str to dict
        ``study.codebook(predictors)``.
    predictors : iterable of str
        Predictor columns.
    smoke : bool, default False
        Tiny grids for quick runs.
    seed : int, default 0
        ``random_state`` of every random estimator and internal split.
    include : iterable of str, optional
        Subset of :data:`MODEL_NAMES` to return (in zoo order).  Default: all.
    extra : mapping or iterable, optional
        Further models appended after the zoo: :class:`ModelSpec` objects, or names in
        :data:`CLINICAL_SCORES` (turned into specs by :func:`clinical_score_spec`).
    splines : mapping of str to int, optional
        Restricted cubic splines for numeric predictors (see :func:`build_preprocessor`).

    Returns
    -------
    dict of str to ModelSpec

    Raises
    ------
    AnalysisError
        On an unknown name in ``include`` or ``extra`` or a name clash.

    Examples
    --------
    >>> cb = {"age": {"type": "numeric"}, "smoker": {"type": "binary"}}
    >>> zoo = model_zoo(cb, ["age", "smoker"], smoke=True)
    >>> list(zoo)[:3], zoo["lasso"].complexity
    (['intercept_only', 'logistic', 'lasso'], 1)
    """
    predictors = list(predictors)
    names = list(MODEL_NAMES) if include is None else list(include)
    unknown = [n for n in names if n not in MODEL_NAMES]
    if unknown:
        raise AnalysisError(f"include: unknown model(s) {unknown}; choose from {list(MODEL_NAMES)}")
    estimators = _zoo_estimators(int(seed), bool(smoke))
    zoo: dict[str, ModelSpec] = {}
    for name in MODEL_NAMES:
        if name not in names:
            continue
        estimator, grid = estimators[name]
        pre = build_preprocessor(codebook, predictors, splines=splines)
        pipe = Pipeline([("preprocess", pre), ("model", estimator)])
        zoo[name] = ModelSpec(name, _LABELS[name], pipe, dict(grid), COMPLEXITY[name])
    for spec in _extra_specs(extra, predictors):
        if spec.name in zoo:
            raise AnalysisError(f"extra: model name '{spec.name}' is already in the zoo")
        zoo[spec.name] = spec
    return zoo


def _extra_specs(extra, predictors) -> list[ModelSpec]:
    if extra is None:
        return []
    items = list(extra.values()) if isinstance(extra, Mapping) else list(extra)
    out = []
    for item in items:
        if isinstance(item, ModelSpec):
            out.append(item)
        elif isinstance(item, str):
            out.append(clinical_score_spec(item, predictors=predictors))
        else:
            raise AnalysisError(
                f"extra: expected ModelSpec objects or clinical score names, got {item!r}"
            )
    return out


# ---------------------------------------------------------------------------
# Fixed clinical scores
# ---------------------------------------------------------------------------


class FixedScoreClassifier(ClassifierMixin, BaseEstimator):
    """A published, fixed clinical score turned into calibrated probabilities.

    ``fit`` learns only (1) the training medians of the score's input columns, used to
    fill missing inputs, and (2) a logistic recalibration
    ``logit P(y = 1) = a + b * score`` by unpenalised maximum likelihood, so that its
    probabilities are calibrated to the cohort while the ranking of patients - and so
    the AUC - is the published score's.  The score's own weights are never refitted.

    Median imputation of binary inputs uses the median of the 0/1 values, i.e. the
    majority value (a 50:50 tie gives 0.5, half the points).

    Parameters
    ----------
    score_fn : callable
        ``score_fn(frame) -> array`` of one score per row, higher meaning a higher
        probability of the outcome (negate it first otherwise).
    name : str, default "score"
        Name used in messages.
    columns : sequence of str, optional
        Input columns of the score (checked and median-imputed).  Default: all columns
        of the training frame.

    Attributes
    ----------
    medians_ : dict of str to float
    intercept_, slope_ : float
        Recalibration coefficients (on the score's own scale).
    classes_ : numpy.ndarray
        ``[0, 1]``.

    Examples
    --------
    >>> X = pd.DataFrame({"s": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]})
    >>> clf = FixedScoreClassifier(lambda d: d["s"], "s").fit(X, [0, 0, 1, 0, 1, 1])
    >>> bool(clf.slope_ > 0), clf.predict_proba(X).shape
    (True, (6, 2))
    """

    def __init__(self, score_fn: Callable | None = None, name: str = "score", columns=None):
        self.score_fn = score_fn
        self.name = name
        self.columns = columns

    def _frame(self, X, medians=None) -> pd.DataFrame:
        if not isinstance(X, pd.DataFrame):
            raise AnalysisError(f"{self.name}: X must be a DataFrame with the score's columns")
        cols = list(X.columns) if self.columns is None else list(self.columns)
        missing = [c for c in cols if c not in X.columns]
        if missing:
            raise AnalysisError(f"{self.name}: X lacks the score's column(s) {missing}")
        frame = X.copy()
        if medians is not None:
            for c in cols:
                if frame[c].isna().any():
                    frame[c] = frame[c].astype(float).fillna(medians[c])
        return frame

    def _score(self, frame: pd.DataFrame) -> np.ndarray:
        score = np.asarray(self.score_fn(frame), dtype=float).ravel()
        if score.size != len(frame):
            raise AnalysisError(
                f"{self.name}: score_fn returned {score.size} values for {len(frame)} rows"
            )
        if not np.isfinite(score).all():
            raise AnalysisError(f"{self.name}: score is missing or infinite after imputation")
        return score

    def fit(self, X, y):
        """Learn input medians and the recalibration intercept and slope.

        Parameters
        ----------
        X : pandas.DataFrame
            The score's input columns.
        y : array_like
            Binary outcomes 0/1.

        Returns
        -------
        FixedScoreClassifier
            ``self``.

        Examples
        --------
        >>> X = pd.DataFrame({"s": [0.0, 1.0, 2.0, 3.0]})
        >>> FixedScoreClassifier(lambda d: d["s"]).fit(X, [0, 1, 0, 1]).classes_.tolist()
        [0, 1]
        """
        if not callable(self.score_fn):
            raise AnalysisError("score_fn must be callable as score_fn(frame)")
        frame = self._frame(X)
        cols = list(frame.columns) if self.columns is None else list(self.columns)
        medians = {}
        for c in cols:
            values = pd.to_numeric(frame[c], errors="coerce")
            if values.notna().sum() == 0:
                raise AnalysisError(f"{self.name}: column '{c}' has no observed values")
            medians[c] = float(values.median())
        self.medians_ = medians
        yy = np.asarray(y).astype(int)
        score = self._score(self._frame(X, medians))
        self.center_ = float(score.mean())
        self.scale_ = float(score.std()) or 1.0
        z = ((score - self.center_) / self.scale_).reshape(-1, 1)
        lr = _logistic("none", 0).fit(z, yy)
        self.slope_ = float(lr.coef_[0, 0] / self.scale_)
        self.intercept_ = float(lr.intercept_[0] - lr.coef_[0, 0] * self.center_ / self.scale_)
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = frame.shape[1]
        return self

    def decision_function(self, X) -> np.ndarray:
        """The recalibrated linear predictor ``a + b * score``.

        Examples
        --------
        >>> X = pd.DataFrame({"s": [0.0, 1.0, 2.0, 3.0]})
        >>> clf = FixedScoreClassifier(lambda d: d["s"]).fit(X, [0, 1, 0, 1])
        >>> clf.decision_function(X).shape
        (4,)
        """
        check_is_fitted(self, "slope_")
        return self.intercept_ + self.slope_ * self.clinical_score(X)

    def clinical_score(self, X) -> np.ndarray:
        """The fixed (published) score of each row, missing inputs median-imputed.

        Parameters
        ----------
        X : pandas.DataFrame
            The score's input columns.

        Returns
        -------
        numpy.ndarray

        Examples
        --------
        >>> X = pd.DataFrame({"s": [0.0, np.nan, 2.0]})
        >>> FixedScoreClassifier(lambda d: d["s"]).fit(X, [0, 1, 1]).clinical_score(X).tolist()
        [0.0, 1.0, 2.0]
        """
        check_is_fitted(self, "medians_")
        return self._score(self._frame(X, self.medians_))

    def predict_proba(self, X) -> np.ndarray:
        """Recalibrated probabilities, shape ``(n, 2)`` for classes ``[0, 1]``.

        Examples
        --------
        >>> X = pd.DataFrame({"s": [0.0, 1.0, 2.0, 3.0]})
        >>> clf = FixedScoreClassifier(lambda d: d["s"]).fit(X, [0, 1, 0, 1])
        >>> np.allclose(clf.predict_proba(X).sum(axis=1), 1)
        True
        """
        eta = np.clip(self.decision_function(X), -700, 700)
        p = 1.0 / (1.0 + np.exp(-eta))
        return np.column_stack([1.0 - p, p])

    def predict(self, X) -> np.ndarray:
        """Class 1 when the recalibrated probability is at least 0.5.

        Examples
        --------
        >>> X = pd.DataFrame({"s": [0.0, 1.0, 2.0, 3.0]})
        >>> FixedScoreClassifier(lambda d: d["s"]).fit(X, [0, 0, 1, 1]).predict(X).tolist()
        [0, 0, 1, 1]
        """
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


#: CDST points (Dulai et al. 2018, Gastroenterology 155:687-95; spec section 6).
CDST_NO_PRIOR_SURGERY_POINTS = 2.0
CDST_ANTI_TNF_NAIVE_POINTS = 3.0
CDST_NO_FISTULA_POINTS = 2.0
CDST_ALBUMIN_POINTS_PER_G_L = 0.4
CDST_CRP_LOW_MG_L = 3.0  # 3 <= CRP <= 10 mg/L: CDST_CRP_MID_POINTS
CDST_CRP_HIGH_MG_L = 10.0  # CRP > 10 mg/L: CDST_CRP_HIGH_POINTS
CDST_CRP_MID_POINTS = -0.5
CDST_CRP_HIGH_POINTS = -3.0
CDST_COLUMNS = ("prior_bowel_surgery", "prior_anti_tnf", "fistulising", "albumin_g_l", "crp_mg_l")


def vedolizumab_cdst(df: pd.DataFrame) -> np.ndarray:
    """Vedolizumab clinical decision support tool (CDST) for Crohn's disease.

    Dulai et al. (2018): +2 no prior bowel surgery, +3 anti-TNF naive, +2 no
    fistulising disease, +0.4 per g/L albumin, CRP 3-10 mg/L (both inclusive) -0.5,
    CRP > 10 mg/L -3 (CRP < 3 mg/L: 0).  Higher scores predict response (published
    bands: <= 13 low, 13-19 intermediate, > 19 high probability; validation AUC 0.67).

    Parameters
    ----------
    df : pandas.DataFrame
        Columns ``prior_bowel_surgery, prior_anti_tnf, fistulising`` (0/1),
        ``albumin_g_l`` (g/L) and ``crp_mg_l`` (mg/L).

    Returns
    -------
    numpy.ndarray
        The score per row; NaN where an input is missing (the classifier built by
        :func:`clinical_score_spec` fills missing inputs with training medians first).

    Raises
    ------
    AnalysisError
        If a column is absent.

    Examples
    --------
    >>> df = pd.DataFrame({"prior_bowel_surgery": [0.0], "prior_anti_tnf": [0.0],
    ...                    "fistulising": [0.0], "albumin_g_l": [40.0], "crp_mg_l": [5.0]})
    >>> vedolizumab_cdst(df).tolist()
    [22.5]
    """
    missing = [c for c in CDST_COLUMNS if c not in df.columns]
    if missing:
        raise AnalysisError(f"vedolizumab_cdst: missing column(s) {missing}")
    surgery = df["prior_bowel_surgery"].to_numpy(dtype=float)
    anti_tnf = df["prior_anti_tnf"].to_numpy(dtype=float)
    fistula = df["fistulising"].to_numpy(dtype=float)
    albumin = df["albumin_g_l"].to_numpy(dtype=float)
    crp = df["crp_mg_l"].to_numpy(dtype=float)
    crp_points = np.where(
        crp > CDST_CRP_HIGH_MG_L,
        CDST_CRP_HIGH_POINTS,
        np.where(crp >= CDST_CRP_LOW_MG_L, CDST_CRP_MID_POINTS, 0.0),
    )
    crp_points = np.where(np.isnan(crp), np.nan, crp_points)
    return (
        CDST_NO_PRIOR_SURGERY_POINTS * (1.0 - surgery)
        + CDST_ANTI_TNF_NAIVE_POINTS * (1.0 - anti_tnf)
        + CDST_NO_FISTULA_POINTS * (1.0 - fistula)
        + CDST_ALBUMIN_POINTS_PER_G_L * albumin
        + crp_points
    )


#: Published clinical scores usable as models: name -> (score function, input columns).
CLINICAL_SCORES: dict[str, tuple[Callable[[pd.DataFrame], np.ndarray], tuple[str, ...]]] = {
    "vedolizumab_cdst": (vedolizumab_cdst, CDST_COLUMNS),
}

_SCORE_LABELS = {"vedolizumab_cdst": "Vedolizumab CDST (Dulai 2018), recalibrated"}


def clinical_score_spec(
    name: str, *, predictors: Iterable[str] | None = None, complexity: int = 0
) -> ModelSpec:
    """A :class:`ModelSpec` for a score in :data:`CLINICAL_SCORES`.

    The pipeline is ``Pipeline([("model", FixedScoreClassifier(...))])``: it takes the
    same predictor DataFrame as the zoo models and uses only the score's columns.

    Parameters
    ----------
    name : str
        Key of :data:`CLINICAL_SCORES`.
    predictors : iterable of str, optional
        If given, checked to contain the score's input columns.
    complexity : int, default 0
        Rank for the one-SE rule (a recalibrated fixed score is the simplest model).

    Returns
    -------
    ModelSpec

    Raises
    ------
    AnalysisError
        For an unknown score or predictors lacking its columns.

    Examples
    --------
    >>> clinical_score_spec("vedolizumab_cdst").pipeline.steps[0][0]
    'model'
    """
    if name not in CLINICAL_SCORES:
        raise AnalysisError(
            f"clinical score {name!r} is unknown; available: {sorted(CLINICAL_SCORES)}"
        )
    fn, columns = CLINICAL_SCORES[name]
    if predictors is not None:
        missing = [c for c in columns if c not in set(predictors)]
        if missing:
            raise AnalysisError(f"clinical score {name!r} needs predictor column(s) {missing}")
    clf = FixedScoreClassifier(score_fn=fn, name=name, columns=list(columns))
    return ModelSpec(
        name, _SCORE_LABELS.get(name, name), Pipeline([("model", clf)]), {}, complexity
    )


def clone_spec(spec: ModelSpec) -> ModelSpec:
    """A copy of ``spec`` with an unfitted clone of its pipeline.

    Examples
    --------
    >>> s = clinical_score_spec("vedolizumab_cdst")
    >>> clone_spec(s).pipeline is s.pipeline
    False
    """
    return ModelSpec(
        spec.name, spec.label, clone(spec.pipeline), dict(spec.param_grid), spec.complexity
    )
