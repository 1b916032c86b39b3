"""Logistic recalibration of a fitted model from its out-of-sample predictions.

When the selected model's calibration slope (from nested cross-validation) lies outside
the range of the selection rule, its probabilities are recalibrated before it is saved:
``logit P(y = 1) = a + b * logit(p)``, with ``a`` and ``b`` estimated by unpenalised
maximum likelihood on the *out-of-fold* probabilities ``p`` and outcomes ``y`` (Van
Calster et al. 2019, "logistic recalibration"; Steyerberg, *Clinical Prediction Models*,
ch. 15).  Estimating them on out-of-sample predictions is what makes the correction
honest: the same fit on the training data would return ``a = 0, b = 1`` for a logistic
model and learn nothing.  The ranking of patients - hence the AUC - is unchanged.

:func:`recalibrate` returns a :class:`RecalibratedClassifier` wrapping the fitted model;
it is a scikit-learn classifier (``predict_proba``, ``classes_``), so it is saved,
loaded, explained and used for prediction exactly like the model it wraps.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, logit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from analysis.errors import AnalysisError
from analysis.evaluation.calibration import recalibration_fit
from analysis.validators import clip_probabilities

__all__ = [
    "RecalibratedClassifier",
    "recalibrate",
    "recalibrate_probability",
]


class RecalibratedClassifier(ClassifierMixin, BaseEstimator):
    """A fitted binary classifier whose probabilities pass through ``expit(a + b * logit(p))``.

    Parameters
    ----------
    estimator : fitted classifier
        Anything with ``predict_proba`` and ``classes_ == [0, 1]``.
    intercept, slope : float
        Recalibration coefficients ``a`` and ``b`` (see :func:`recalibrate`).

    Attributes
    ----------
    classes_ : numpy.ndarray

    Examples
    --------
    >>> from sklearn.dummy import DummyClassifier
    >>> base = DummyClassifier(strategy="prior").fit([[0]] * 4, [0, 1, 1, 1])
    >>> RecalibratedClassifier(base, 0.0, 1.0).fit().predict_proba([[0]]).round(2).tolist()
    [[0.25, 0.75]]
    """

    def __init__(self, estimator=None, intercept: float = 0.0, slope: float = 1.0):
        self.estimator = estimator
        self.intercept = intercept
        self.slope = slope

    def fit(self, X=None, y=None):
        """Check the wrapped model (already fitted); the coefficients are parameters.

        Examples
        --------
        >>> from sklearn.dummy import DummyClassifier
        >>> base = DummyClassifier().fit([[0], [0]], [0, 1])
        >>> RecalibratedClassifier(base).fit().classes_.tolist()
        [0, 1]
        """
        check_is_fitted(self.estimator)
        classes = list(getattr(self.estimator, "classes_", []))
        if classes != [0, 1]:
            raise AnalysisError(f"recalibration needs a binary 0/1 classifier, got classes {classes}")
        if not (np.isfinite(self.intercept) and np.isfinite(self.slope)):
            raise AnalysisError("recalibration intercept and slope must be finite numbers")
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Recalibrated probabilities, shape ``(n, 2)``.

        Examples
        --------
        >>> from sklearn.dummy import DummyClassifier
        >>> base = DummyClassifier(strategy="prior").fit([[0]] * 2, [0, 1])
        >>> clf = RecalibratedClassifier(base, intercept=1.0, slope=0.5).fit()
        >>> round(float(clf.predict_proba([[0]])[0, 1]), 4)  # expit(1 + 0.5 * logit(0.5))
        0.7311
        """
        check_is_fitted(self, "classes_")
        p = np.asarray(self.estimator.predict_proba(X))[:, 1]
        q = recalibrate_probability(p, self.intercept, self.slope)
        return np.column_stack([1.0 - q, q])

    def predict(self, X) -> np.ndarray:
        """Class 1 when the recalibrated probability is at least 0.5.

        Examples
        --------
        >>> from sklearn.dummy import DummyClassifier
        >>> base = DummyClassifier(strategy="prior").fit([[0]] * 4, [0, 1, 1, 1])
        >>> RecalibratedClassifier(base).fit().predict([[0]]).tolist()
        [1]
        """
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


def recalibrate_probability(p, intercept: float, slope: float) -> np.ndarray:
    """``expit(a + b * logit(p))`` of probabilities ``p`` (clipped first), as
    :meth:`RecalibratedClassifier.predict_proba` computes it.

    Examples
    --------
    >>> recalibrate_probability([0.5], 1.0, 0.5).round(4).tolist()
    [0.7311]
    """
    p = np.asarray(p, dtype=float)
    # |eta| <= 700 keeps q strictly inside (0, 1)
    eta = np.clip(intercept + slope * logit(clip_probabilities(p)), -700, 700)
    return expit(eta)


def recalibrate(estimator, oof_probability, y) -> RecalibratedClassifier:
    """Wrap a fitted model with a logistic recalibration estimated out of sample.

    Parameters
    ----------
    estimator : fitted classifier
        The final model (refitted on all patients).
    oof_probability : array_like
        The same model's out-of-fold probabilities for the same patients (nested
        cross-validation), one per patient.
    y : array_like
        Binary outcomes 0/1.

    Returns
    -------
    RecalibratedClassifier
        Fitted; ``intercept`` and ``slope`` are the maximum-likelihood estimates of
        ``logit P(y = 1) = a + b * logit(oof_probability)``.

    Raises
    ------
    AnalysisError
        On mismatched lengths, non-binary outcomes or a recalibration fit that fails
        (for example perfect separation).

    Examples
    --------
    >>> from sklearn.dummy import DummyClassifier
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.05, 0.95, 400)
    >>> y = rng.binomial(1, p)
    >>> base = DummyClassifier(strategy="prior").fit([[0]] * 2, [0, 1])
    >>> clf = recalibrate(base, p, y)
    >>> bool(abs(clf.slope - 1) < 0.35)
    True
    """
    p = np.asarray(oof_probability, dtype=float).ravel()
    yy = np.asarray(y).ravel()
    if p.size != yy.size:
        raise AnalysisError(f"oof_probability has {p.size} values but y has {yy.size}")
    fit = recalibration_fit(yy, clip_probabilities(p))
    return RecalibratedClassifier(estimator, fit["intercept"], fit["slope"]).fit()
