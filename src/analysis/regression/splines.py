"""Restricted cubic splines in Harrell's parametrisation.

A restricted (natural) cubic spline with knots ``t_1 < ... < t_k`` is a piecewise cubic
that is linear below ``t_1`` and above ``t_k``. Harrell (*Regression Modeling
Strategies*, 2nd ed., section 2.4.5) writes it with ``k - 1`` basis columns: ``x`` itself
and, for ``j = 1, ..., k - 2``,

.. math::

    X_{j+1} = \\frac{(x - t_j)_+^3
              - (x - t_{k-1})_+^3 \\frac{t_k - t_j}{t_k - t_{k-1}}
              + (x - t_k)_+^3 \\frac{t_{k-1} - t_j}{t_k - t_{k-1}}}{(t_k - t_1)^2}

The division by ``(t_k - t_1)^2`` is the normalisation that ``Hmisc::rcspline.eval``
applies by default (``norm = 2``); it keeps the columns on the scale of ``x`` and does not
change the space that the basis spans.

Default knots sit at Harrell's quantiles (RMS Table 2.3), ``numpy.quantile`` with linear
interpolation of the non-missing values:

===== ==========================================
knots quantiles
===== ==========================================
3     .10 .50 .90
4     .05 .35 .65 .95
5     .05 .275 .50 .725 .95
6     .05 .23 .41 .59 .77 .95
7     .025 .1833 .3417 .50 .6583 .8167 .975
===== ==========================================
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from analysis.errors import AnalysisError

__all__ = [
    "RestrictedCubicSpline",
    "harrell_knot_quantiles",
    "rcs_basis",
    "rcs_column_names",
    "rcs_knots",
]


def harrell_knot_quantiles(n_knots: int) -> np.ndarray:
    """Harrell's default knot quantiles for ``n_knots`` between 3 and 7.

    Parameters
    ----------
    n_knots : int
        Number of knots, 3 to 7.

    Returns
    -------
    numpy.ndarray
        Quantiles in (0, 1), equally spaced between the outer quantiles 0.10 (3 knots),
        0.05 (4 to 6 knots) or 0.025 (7 knots) and their complements.

    Examples
    --------
    >>> harrell_knot_quantiles(4).tolist()
    [0.05, 0.35, 0.65, 0.95]
    """
    if isinstance(n_knots, bool) or not isinstance(n_knots, int | np.integer):
        raise AnalysisError(f"n_knots must be an integer from 3 to 7, got {n_knots!r}")
    if not 3 <= n_knots <= 7:
        raise AnalysisError(f"n_knots must be an integer from 3 to 7 (Harrell's defaults), got {n_knots}")
    outer = {3: 0.10, 7: 0.025}.get(int(n_knots), 0.05)
    return np.round(np.linspace(outer, 1.0 - outer, int(n_knots)), 10)


def rcs_knots(x, n_knots: int = 4, name: str = "x") -> np.ndarray:
    """Knots at Harrell's default quantiles of the non-missing values of ``x``.

    Parameters
    ----------
    x : array_like
        Values of one numeric variable; NaN are ignored.
    n_knots : int, default 4
        Number of knots, 3 to 7.
    name : str, default "x"
        Column name used in error messages.

    Returns
    -------
    numpy.ndarray
        Strictly increasing knot locations.

    Raises
    ------
    AnalysisError
        If the quantiles do not give ``n_knots`` distinct knots (too few distinct values).

    Examples
    --------
    >>> rcs_knots(np.arange(101.0), 4).tolist()
    [5.0, 35.0, 65.0, 95.0]
    """
    values = np.asarray(x, dtype=float)
    values = values[~np.isnan(values)]
    probs = harrell_knot_quantiles(n_knots)
    if values.size == 0:
        raise AnalysisError(f"column '{name}': no non-missing values to place spline knots")
    knots = np.quantile(values, probs)
    if np.any(np.diff(knots) <= 0):
        raise AnalysisError(
            f"column '{name}': {n_knots} spline knots at quantiles {probs.tolist()} are not "
            f"distinct ({knots.tolist()}); use fewer knots or give them explicitly"
        )
    return knots


def _check_knots(knots) -> np.ndarray:
    knots = np.asarray(knots, dtype=float)
    if knots.ndim != 1 or knots.size < 3:
        raise AnalysisError(f"a restricted cubic spline needs at least 3 knots, got {knots}")
    if not np.all(np.isfinite(knots)) or np.any(np.diff(knots) <= 0):
        raise AnalysisError(f"spline knots must be finite and strictly increasing, got {knots}")
    return knots


def rcs_basis(x, knots: Sequence[float]) -> np.ndarray:
    """Evaluate Harrell's restricted cubic spline basis.

    Parameters
    ----------
    x : array_like, shape (n,)
        Values at which to evaluate; NaN propagate to every column of their row.
    knots : sequence of float
        ``k >= 3`` strictly increasing knots.

    Returns
    -------
    numpy.ndarray, shape (n, k - 1)
        Column 0 is ``x``; columns 1 to ``k - 2`` are the nonlinear terms of the formula
        in the module docstring (normalised by ``(t_k - t_1)^2``).

    Examples
    --------
    >>> rcs_basis([0.0, 2.5, 4.0], knots=[0.0, 1.0, 2.0, 3.0]).round(4).tolist()
    [[0.0, 0.0, 0.0], [2.5, 1.6944, 0.3472], [4.0, 4.6667, 1.3333]]
    """
    t = _check_knots(knots)
    x = np.asarray(x, dtype=float).ravel()
    k = t.size
    tk, tk1 = t[-1], t[-2]
    norm = (tk - t[0]) ** 2

    def cube(v):
        return np.where(v > 0, v, 0.0) ** 3

    cols = [x]
    last, next_to_last = cube(x - tk), cube(x - tk1)  # the same for every term
    for j in range(k - 2):
        term = (
            cube(x - t[j])
            - next_to_last * (tk - t[j]) / (tk - tk1)
            + last * (tk1 - t[j]) / (tk - tk1)
        )
        cols.append(term / norm)
    out = np.column_stack(cols)
    out[np.isnan(x)] = np.nan
    return out


def rcs_column_names(name: str, n_knots: int) -> list[str]:
    """Names of the basis columns: ``name``, ``name'``, ``name''``, ... (Harrell's rms style).

    Parameters
    ----------
    name : str
        Variable name.
    n_knots : int
        Number of knots; the basis has ``n_knots - 1`` columns.

    Returns
    -------
    list of str

    Examples
    --------
    >>> rcs_column_names("age", 4)
    ['age', "age'", "age''"]
    """
    return [name + "'" * j for j in range(n_knots - 1)]


class RestrictedCubicSpline(TransformerMixin, BaseEstimator):
    """Scikit-learn transformer for a restricted cubic spline of one column.

    Parameters
    ----------
    n_knots : int, default 4
        Number of knots (3 to 7) placed at Harrell's default quantiles at ``fit``.
    knots : sequence of float, optional
        Explicit knots; if given, ``n_knots`` is ignored and ``fit`` only stores them.

    Attributes
    ----------
    knots_ : numpy.ndarray
        The knots used by ``transform``.
    n_features_in_ : int
        Always 1.

    Examples
    --------
    >>> spline = RestrictedCubicSpline(n_knots=4).fit(np.arange(101.0).reshape(-1, 1))
    >>> spline.knots_.tolist()
    [5.0, 35.0, 65.0, 95.0]
    >>> spline.transform([[50.0]]).shape
    (1, 3)
    """

    def __init__(self, n_knots: int = 4, knots: Sequence[float] | None = None):
        self.n_knots = n_knots
        self.knots = knots

    @staticmethod
    def _column(X) -> np.ndarray:
        arr = np.asarray(X, dtype=float)
        if arr.ndim == 2:
            if arr.shape[1] != 1:
                raise AnalysisError(
                    f"RestrictedCubicSpline transforms one column, got {arr.shape[1]}"
                )
            arr = arr[:, 0]
        elif arr.ndim != 1:
            raise AnalysisError(f"RestrictedCubicSpline expects 1-D or (n, 1) input, got {arr.ndim}-D")
        return arr

    def fit(self, X, y=None):
        """Place the knots.

        Parameters
        ----------
        X : array_like, shape (n,) or (n, 1)
            Training values; NaN are ignored.
        y : ignored

        Returns
        -------
        RestrictedCubicSpline
            ``self``.

        Examples
        --------
        >>> RestrictedCubicSpline(3).fit(np.arange(11.0)).knots_.tolist()
        [1.0, 5.0, 9.0]
        """
        x = self._column(X)
        if self.knots is not None:
            self.knots_ = _check_knots(self.knots)
        else:
            self.knots_ = rcs_knots(x, self.n_knots)
        self.n_features_in_ = 1
        return self

    def transform(self, X) -> np.ndarray:
        """Evaluate the basis at the fitted knots.

        Parameters
        ----------
        X : array_like, shape (n,) or (n, 1)

        Returns
        -------
        numpy.ndarray, shape (n, len(knots_) - 1)

        Examples
        --------
        >>> s = RestrictedCubicSpline(knots=[0.0, 1.0, 2.0, 3.0]).fit([0.0])
        >>> s.transform([[2.5]]).round(4).tolist()
        [[2.5, 1.6944, 0.3472]]
        """
        check_is_fitted(self, "knots_")
        return rcs_basis(self._column(X), self.knots_)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Column names ``x``, ``x'``, ``x''``, ... (or the input feature's name).

        Parameters
        ----------
        input_features : sequence of str, optional
            One input name; defaults to ``"x0"``.

        Returns
        -------
        numpy.ndarray of str

        Examples
        --------
        >>> s = RestrictedCubicSpline(3).fit(np.arange(11.0))
        >>> s.get_feature_names_out(["age"]).tolist()
        ['age', "age'"]
        """
        check_is_fitted(self, "knots_")
        name = "x0" if input_features is None else str(list(input_features)[0])
        return np.asarray(rcs_column_names(name, len(self.knots_)), dtype=object)
