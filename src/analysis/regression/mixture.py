"""Latent class mixture of mixed-type data (latent profile / latent class analysis), fitted by EM.

A patient belongs to one of ``k`` latent classes with probabilities ``weights_``; given the
class, the variables are independent (local independence, as in poLCA, Mplus or StepMix):

* a continuous column ``j`` is Gaussian, ``N(means_[c, j], variances_[c, j])``;
* a categorical column with ``L`` levels (a binary one has ``L = 2``), coded ``0..L-1``, is
  categorical with probabilities ``probabilities_[m][c, :]``.

So the continuous part is exactly a diagonal Gaussian mixture and the categorical part a
latent class model: a binary variable informs the classes through its class proportions,
never through a spike of a Gaussian on 0/1 values. Missing values (NaN) drop out of a
patient's likelihood (full-information estimation, valid when missing at random given the
observed variables).

Estimation: EM from ``n_init`` seeded starts (k-means++ seeds on the standardised data, then
one hard assignment), keeping the start with the largest log-likelihood (the first on ties),
so a fixed ``random_state`` gives identical results. Each Gaussian variance is floored at
``min_variance[j]`` (by default 1% of the column's variance), which keeps the likelihood
bounded (no component collapses onto one value) and keeps EM monotone: the constrained
M-step is ``max(floor, weighted variance)``. Category probabilities are the weighted
frequencies (no smoothing), clipped at :data:`PROBABILITY_CLIP` only inside the logarithm.
The number of free parameters is ``(k - 1) + 2 k p + k * sum(L_m - 1)`` and
``BIC = -2 logL + n_parameters log n``.

This is the one home of the mixture; :mod:`analysis.describe.phenotypes` fits it to the
study's declared phenotype variables and :mod:`analysis.models` can offer its classes to the
prediction models.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from analysis.errors import AnalysisError

__all__ = ["DEFAULT_VARIANCE_FLOOR", "PROBABILITY_CLIP", "LatentClassMixture"]

#: Default floor of a within-class variance, as a share of the column's variance.
DEFAULT_VARIANCE_FLOOR = 0.01
#: Category probabilities are clipped below at this value inside the logarithm.
PROBABILITY_CLIP = 1e-12
_LOG_2PI = np.log(2 * np.pi)


def _logsumexp(a: np.ndarray) -> np.ndarray:
    """Row-wise ``log(sum(exp(a)))``, stable (scipy's general version is slow in the EM loop)."""
    top = a.max(axis=1)
    top = np.where(np.isfinite(top), top, 0.0)
    return top + np.log(np.exp(a - top[:, None]).sum(axis=1))


class _Data:
    """The data as EM uses them: continuous values (NaN -> 0, with observed indicators and
    squares) and the categorical columns one-hot coded side by side (a missing value: zeros)."""

    def __init__(self, cont: np.ndarray, onehot: np.ndarray, levels: np.ndarray):
        self.cont = cont
        self.n, self.p = cont.shape
        seen = ~np.isnan(cont)
        self.seen = seen.astype(float)
        self.x = np.where(seen, cont, 0.0)
        self.x2 = self.x**2
        self.onehot = onehot
        self.levels = levels
        self.starts = (np.cumsum(levels) - levels).astype(int)

    def blocks(self, flat: np.ndarray) -> list[np.ndarray]:
        """Split side-by-side category probabilities into one ``(k, L)`` array per column."""
        return [flat[:, s:s + n] for s, n in zip(self.starts, self.levels, strict=True)]


def _positive_int(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise AnalysisError(f"{what}: must be a positive integer, got {value!r}")
    return int(value)


class LatentClassMixture:
    """Mixture of ``k`` latent classes with Gaussian and categorical margins (EM).

    Follows scikit-learn: parameters are set in the constructor, :meth:`fit` returns
    ``self`` and learned attributes end in ``_``.

    Parameters
    ----------
    n_components : int
        Number of latent classes ``k``.
    levels : sequence of int
        One entry per column of ``X``: ``0`` for a continuous column, ``L >= 2`` for a
        categorical column coded ``0..L-1`` (floats; NaN = missing).
    min_variance : array_like, optional
        Floor of each continuous column's within-class variance, in the column's units
        (one value per continuous column). Default: :data:`DEFAULT_VARIANCE_FLOOR` times the
        column's variance in the fitting data.
    n_init : int, default 10
        Number of EM starts; the best log-likelihood is kept.
    max_iter : int, default 500
        EM iterations per start.
    tol : float, default 1e-8
        Convergence: the mean log-likelihood per patient changes by less than ``tol``.
    random_state : int, default 0
        Seeds the starts.

    Attributes
    ----------
    weights_ : numpy.ndarray
        Class probabilities, shape ``(k,)``.
    means_, variances_ : numpy.ndarray
        Gaussian parameters, shape ``(k, p)`` for the ``p`` continuous columns.
    probabilities_ : list of numpy.ndarray
        Per categorical column, the ``(k, L)`` category probabilities.
    min_variance_ : numpy.ndarray
        The variance floors used.
    log_likelihood_ : float
        Log-likelihood of the fitting data at the estimates.
    n_iter_ : int
        EM iterations of the kept start.
    converged_ : bool
        Whether the kept start converged within ``max_iter``.
    n_parameters_ : int
        Number of free parameters.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> cls = np.repeat([0, 1], 50)
    >>> X = np.column_stack([rng.normal(4 * cls, 1), rng.random(100) < np.where(cls, .9, .1)])
    >>> m = LatentClassMixture(2, levels=[0, 2]).fit(X)
    >>> np.sort(m.means_[:, 0]).round(1).tolist(), m.n_parameters_
    ([0.2, 4.1], 7)
    >>> agree = int((m.predict(X) == cls).sum())
    >>> max(agree, 100 - agree)  # rows whose class is recovered (up to the label swap)
    97
    """

    def __init__(self, n_components: int, levels: Sequence[int], *, min_variance=None,
                 n_init: int = 10, max_iter: int = 500, tol: float = 1e-8, random_state: int = 0):
        self.n_components = n_components
        self.levels = levels
        self.min_variance = min_variance
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    # ------------------------------------------------------------------ input
    def _split(self, X) -> _Data:
        X = np.asarray(X, dtype=float)
        levels = np.asarray(self.levels, dtype=int)
        if X.ndim != 2 or X.shape[1] != len(levels):
            raise AnalysisError(f"X: need a 2-D array with {len(levels)} columns (one per entry of "
                                f"levels), got shape {X.shape}")
        if (levels < 0).any() or (levels == 1).any():
            raise AnalysisError("levels: 0 (continuous) or a number of categories >= 2 per column")
        if np.isinf(X).any():
            raise AnalysisError("X: holds infinite values")
        blocks = [np.zeros((len(X), 0))]
        for j in np.flatnonzero(levels > 0):
            col = X[:, j]
            seen = ~np.isnan(col)
            codes = col[seen]
            if ((codes != np.round(codes)) | (codes < 0) | (codes >= levels[j])).any():
                raise AnalysisError(f"X: column {j} must hold category codes 0..{levels[j] - 1} or NaN")
            onehot = np.zeros((len(col), levels[j]))  # a missing value: a row of zeros
            onehot[np.flatnonzero(seen), codes.astype(int)] = 1.0
            blocks.append(onehot)
        return _Data(X[:, levels == 0], np.hstack(blocks), levels[levels > 0])

    # ------------------------------------------------------------------ the two EM steps
    def component_log_densities(self, X) -> np.ndarray:
        """``log p(x_i | class c)`` for each row and class, shape ``(n, k)`` (missing values skipped)."""
        self._check_fitted()
        data = self._split(X)
        flat = (np.hstack(self.probabilities_) if self.probabilities_
                else np.zeros((len(self.weights_), 0)))
        return self._log_densities(data, flat)

    def _log_densities(self, data: _Data, flat_probabilities: np.ndarray) -> np.ndarray:
        out = np.zeros((data.n, len(self.weights_)))
        if data.p:
            var = self.variances_
            # sum over observed j of -0.5 [log(2 pi var) + (x - mu)^2 / var]
            out -= 0.5 * (data.seen @ (np.log(var) + _LOG_2PI + self.means_**2 / var).T
                          + data.x2 @ (1 / var).T - 2 * (data.x @ (self.means_ / var).T))
        if data.onehot.shape[1]:
            out += data.onehot @ np.log(np.maximum(flat_probabilities, PROBABILITY_CLIP)).T
        return out

    def maximize(self, X, resp) -> LatentClassMixture:
        """The M-step: set the parameters that maximise the expected log-likelihood.

        Given responsibilities ``resp`` (``n x k``, rows summing to 1): class weights are
        the mean responsibilities; means and variances the responsibility-weighted means and
        variances of the observed values (variances floored); category probabilities the
        weighted frequencies of the observed categories.

        Parameters
        ----------
        X : array_like
            The data, as in :meth:`fit`.
        resp : array_like
            Responsibilities, shape ``(n, k)``.

        Returns
        -------
        LatentClassMixture
            ``self``, with ``weights_``, ``means_``, ``variances_`` and ``probabilities_`` set.
        """
        data = self._split(X)
        resp = np.asarray(resp, dtype=float)
        if not hasattr(self, "min_variance_"):
            self.min_variance_ = self._floors(data.cont)
        self.probabilities_ = data.blocks(self._m_step(data, resp))
        return self

    def _m_step(self, data: _Data, resp: np.ndarray) -> np.ndarray:
        """Set weights, means and variances; return the category probabilities side by side."""
        tiny = 10 * np.finfo(float).eps
        self.weights_ = resp.sum(axis=0) / resp.shape[0]
        if data.p:
            w = resp.T @ data.seen + tiny  # (k, p)
            means = (resp.T @ data.x) / w
            self.means_ = means
            self.variances_ = np.maximum((resp.T @ data.x2) / w - means**2,
                                         self.min_variance_[None, :])
        else:
            self.means_ = self.variances_ = np.zeros((len(self.weights_), 0))
        if not data.onehot.shape[1]:
            return np.zeros((len(self.weights_), 0))
        counts = resp.T @ data.onehot  # (k, sum of L): weighted counts of each category
        totals = np.add.reduceat(counts, data.starts, axis=1)
        return counts / (np.repeat(totals, data.levels, axis=1) + tiny)

    # ------------------------------------------------------------------ fitting
    def _floors(self, cont):
        if self.min_variance is None:
            var = np.nanvar(cont, axis=0) if cont.shape[1] else np.zeros(0)
            floors = DEFAULT_VARIANCE_FLOOR * np.where(var > 0, var, 1.0)
        else:
            floors = np.asarray(self.min_variance, dtype=float).reshape(-1)
            if floors.shape != (cont.shape[1],) or not (floors > 0).all():
                raise AnalysisError(f"min_variance: need {cont.shape[1]} positive values (one per "
                                    f"continuous column), got {self.min_variance!r}")
        return floors

    def _start(self, Z, k, rng):
        """k-means++ seeds on the standardised matrix, then the nearest seed for each row."""
        n = len(Z)
        centres = [Z[rng.integers(n)]]
        d2 = ((Z - centres[0]) ** 2).sum(axis=1)
        for _ in range(1, k):
            total = d2.sum()
            i = rng.choice(n, p=d2 / total) if total > 0 else rng.integers(n)
            centres.append(Z[i])
            d2 = np.minimum(d2, ((Z - Z[i]) ** 2).sum(axis=1))
        dist = ((Z[:, None, :] - np.asarray(centres)[None, :, :]) ** 2).sum(axis=2)
        resp = np.zeros((n, k))
        resp[np.arange(n), dist.argmin(axis=1)] = 1.0
        return resp

    @staticmethod
    def _seed_matrix(data: _Data) -> np.ndarray:
        blocks = []
        if data.p:
            sd = np.nanstd(data.cont, axis=0)
            z = (data.cont - np.nanmean(data.cont, axis=0)) / np.where(sd > 0, sd, 1.0)
            blocks.append(np.where(np.isnan(z), 0.0, z))
        blocks.append(data.onehot)
        return np.hstack(blocks)

    def _em(self, data: _Data, resp: np.ndarray):
        previous, converged, iterations = -np.inf, False, 0
        while iterations < int(self.max_iter):
            iterations += 1
            flat = self._m_step(data, resp)
            with np.errstate(divide="ignore"):
                joint = self._log_densities(data, flat) + np.log(self.weights_)
            norm = _logsumexp(joint)
            ll = float(norm.sum())
            resp = np.exp(joint - norm[:, None])
            if abs(ll - previous) / data.n < self.tol:
                converged = True
                break
            previous = ll
        return ll, iterations, converged, flat

    def fit(self, X, y=None) -> LatentClassMixture:
        """Fit the mixture by EM from ``n_init`` seeded starts; return ``self``."""
        data = self._split(X)
        n = data.n
        k = _positive_int(self.n_components, "n_components")
        n_init = _positive_int(self.n_init, "n_init")
        _positive_int(self.max_iter, "max_iter")
        if k > n:
            raise AnalysisError(f"n_components: {k} classes cannot be fitted to {n} rows")
        self.min_variance_ = self._floors(data.cont)
        Z = self._seed_matrix(data)
        rng = np.random.default_rng(self.random_state)
        best = None
        for _ in range(n_init):
            ll, it, converged, flat = self._em(data, self._start(Z, k, rng))
            if best is None or ll > best[0] + 1e-9 * abs(best[0]):
                best = (ll, it, converged, self.weights_, self.means_, self.variances_, flat)
        (self.log_likelihood_, self.n_iter_, self.converged_, self.weights_, self.means_,
         self.variances_, flat) = best
        self.probabilities_ = data.blocks(flat)
        self.n_parameters_ = int((k - 1) + 2 * k * data.p + k * int((data.levels - 1).sum()))
        self.n_features_in_ = data.p + len(data.levels)
        return self

    # ------------------------------------------------------------------ using the fit
    def _check_fitted(self):
        if not hasattr(self, "weights_"):
            raise AnalysisError("LatentClassMixture: call fit before using the model")

    def _joint(self, X):
        with np.errstate(divide="ignore"):
            return self.component_log_densities(X) + np.log(self.weights_)

    def score_samples(self, X) -> np.ndarray:
        """Log-likelihood ``log p(x_i)`` of each row."""
        return _logsumexp(self._joint(X))

    def predict_proba(self, X) -> np.ndarray:
        """Posterior class probabilities, shape ``(n, k)``."""
        joint = self._joint(X)
        return np.exp(joint - _logsumexp(joint)[:, None])

    def predict(self, X) -> np.ndarray:
        """Most probable class (``0..k-1``) of each row."""
        return self._joint(X).argmax(axis=1)

    def bic(self, X) -> float:
        """Bayesian information criterion on ``X`` (lower is better)."""
        X = np.asarray(X, dtype=float)
        return float(-2 * self.score_samples(X).sum() + self.n_parameters_ * np.log(len(X)))
