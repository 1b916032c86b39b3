"""The project's own scikit-learn estimators and transformers."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin, OneToOneFeatureMixin, TransformerMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from analysis.errors import AnalysisError
from analysis.indices.scores import vedolizumab_cdst
from analysis.validators import clip_probabilities

_SKLEARN_18 = tuple(int(p) for p in sklearn.__version__.split(".")[:2]) >= (1, 8)


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


# ---------------------------------------------------------------------------
# Stateless transformers (classes, so that a saved model needs no trusted function)
# ---------------------------------------------------------------------------


class _ElementwiseTransformer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Base of the stateless, column-wise transformers below (output names = input names)."""

    def fit(self, X, y=None):
        """Record the number (and names) of the input columns; nothing is learned.

        Parameters
        ----------
        X : array_like or DataFrame, shape (n, k)
        y : ignored

        Returns
        -------
        self

        Examples
        --------
        >>> SqrtNonNegative().fit(pd.DataFrame({"a": [1.0]})).feature_names_in_.tolist()
        ['a']
        """
        shape = np.shape(X)
        self.n_features_in_ = 1 if len(shape) < 2 else int(shape[1])
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        return self

    def _check_fitted(self):
        check_is_fitted(self, "n_features_in_")


class Log1pTransform(_ElementwiseTransformer):
    """``log(1 + x)`` of every value (for ``transform: log1p``); NaN stay NaN.

    Attributes
    ----------
    n_features_in_ : int
    feature_names_in_ : numpy.ndarray
        Only when fitted on a DataFrame.

    Examples
    --------
    >>> t = Log1pTransform().fit([[0.0], [np.e - 1]])
    >>> t.transform([[0.0], [np.e - 1], [np.nan]]).tolist()
    [[0.0], [1.0], [nan]]
    >>> t.get_feature_names_out(["n_flares"]).tolist()
    ['n_flares']
    """

    def transform(self, X):
        """Return ``np.log1p(X)`` as floats.

        Examples
        --------
        >>> Log1pTransform().fit([[1.0]]).transform([[0.0]]).tolist()
        [[0.0]]
        """
        self._check_fitted()
        return np.log1p(np.asarray(X, dtype=float))


class SqrtNonNegative(_ElementwiseTransformer):
    """Square root of values clipped below at 0 (for ``transform: sqrt``); NaN stay NaN.

    Examples
    --------
    >>> SqrtNonNegative().fit([[4.0]]).transform([[4.0], [-1.0], [np.nan]]).tolist()
    [[2.0], [0.0], [nan]]
    """

    def transform(self, X):
        """Return ``sqrt(max(X, 0))`` as floats.

        Examples
        --------
        >>> SqrtNonNegative().fit([[1.0]]).transform([[9.0]]).tolist()
        [[3.0]]
        """
        self._check_fitted()
        return np.sqrt(np.clip(np.asarray(X, dtype=float), 0.0, None))


class AsString(_ElementwiseTransformer):
    """Categorical values as text, so codebook levels given as numbers still match.

    Missing values (``None``, ``pd.NA``, NaN) become ``np.nan``, which
    :class:`~sklearn.impute.SimpleImputer` recognises.

    Examples
    --------
    >>> X = pd.DataFrame({"grade": [1, None, 3]}, dtype=object)
    >>> AsString().fit(X).transform(X).tolist()
    [['1'], [nan], ['3']]
    """

    def transform(self, X):
        """Return an object array of ``str`` values with ``np.nan`` where missing.

        Examples
        --------
        >>> AsString().fit([["a"]]).transform([["a"], [2]]).tolist()
        [['a'], ['2']]
        """
        self._check_fitted()
        frame = pd.DataFrame(X).astype(object)
        missing = frame.isna().to_numpy()
        values = frame.astype(str).to_numpy(dtype=object)
        values[missing] = np.nan  # None / pd.NA become np.nan, which SimpleImputer recognises
        return values


class BracketName:
    """Name one-hot columns ``feature[category]`` (a ``feature_name_combiner`` object).

    A class rather than a function, so that a saved encoder refers to no function.

    Examples
    --------
    >>> BracketName()("sex", "male")
    'sex[male]'
    """

    def __call__(self, feature, category) -> str:
        return f"{feature}[{category}]"

    def __eq__(self, other) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self).__name__)

    def __repr__(self) -> str:
        return "BracketName()"


#: Published scores that :class:`FixedScoreClassifier` can store by name in a model file.
SCORE_FUNCTIONS: dict[str, Callable] = {"vedolizumab_cdst": vedolizumab_cdst}


class PublishedScore:
    """A published clinical score referred to by its name in :data:`SCORE_FUNCTIONS`.

    :class:`FixedScoreClassifier` stores its ``score_fn`` as this object in a saved
    model, so that loading the model needs no trusted function.

    Parameters
    ----------
    name : str
        A key of :data:`SCORE_FUNCTIONS`.

    Examples
    --------
    >>> PublishedScore("vedolizumab_cdst").function is vedolizumab_cdst
    True
    >>> PublishedScore("rm -rf").function  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    analysis.errors.AnalysisError: published score 'rm -rf' is unknown; known: vedolizumab_cdst
    """

    def __init__(self, name: str):
        self.name = name

    @property
    def function(self) -> Callable:
        """The score function itself."""
        if not isinstance(self.name, str) or self.name not in SCORE_FUNCTIONS:
            raise AnalysisError(f"published score {self.name!r} is unknown; known: "
                                + ", ".join(sorted(SCORE_FUNCTIONS)))
        return SCORE_FUNCTIONS[self.name]

    def __call__(self, frame):
        return self.function(frame)

    def __repr__(self) -> str:
        return f"PublishedScore({self.name!r})"


def _score_name(fn) -> str | None:
    return next((name for name, f in SCORE_FUNCTIONS.items() if f is fn), None)


class OOBTunedForest(ClassifierMixin, BaseEstimator):
    """A random forest tuned on its own out-of-bag predictions.

    ``fit`` grows one :class:`~sklearn.ensemble.RandomForestClassifier` per point of
    ``param_grid`` on all training rows and keeps the one with the lowest out-of-bag log
    loss (probabilities clipped by :func:`analysis.validators.clip_probabilities`; ties:
    the first grid point).
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
            proba = clip_probabilities(oob[ok])
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
        probability of the outcome (negate it first otherwise).  A function in
        :data:`SCORE_FUNCTIONS` is stored by name (as a :class:`PublishedScore`) when
        the model is saved or pickled, so a saved model holds no function; any other
        callable cannot be saved with :func:`analysis.models.artifact.save_model`.
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

    def __getstate__(self):
        # a published score is stored by name, so a saved model holds no function
        state = super().__getstate__()
        name = _score_name(state.get("score_fn"))
        if name is not None:
            state = {**state, "score_fn": PublishedScore(name)}
        return state

    def __setstate__(self, state):
        fn = state.get("score_fn")
        if isinstance(fn, PublishedScore):
            state = {**state, "score_fn": fn.function}
        super().__setstate__(state)

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
        lr = logistic_model("none", 0).fit(z, yy)
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


def logistic_model(kind: str, seed: int, **kwargs) -> LogisticRegression:
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
