"""Flexible penalised logistic regression as ``rms`` builds it: splines, logs, ridge by CV.

The zoo's ``flexible_logistic`` model (and the default reference model) is the model a
biostatistician builds by hand with Harrell's *Regression Modeling Strategies*:

* every continuous predictor enters as a **restricted cubic spline** with knots at
  Harrell's quantiles; the number of knots follows the sample size (RMS 2.4.6: 3 knots
  below 30 patients, 4 below 100, 5 from 100 on, at most ``max_knots``) and drops for a
  predictor with too few distinct values (one with fewer than 10 stays linear: counts
  like 0-4 prior failures);
* a right-skewed, strictly positive predictor is **log-transformed** first (skewness of
  the training values above ``skew_threshold`` and larger than that of the logs), unless
  the codebook sets ``transform`` (``none`` included): the decision is recorded per
  predictor in :meth:`FlexibleBasis.decisions`;
* binary predictors as 0/1 and categorical ones as dummies against the first codebook
  level; missing values take the training median (continuous, after the transform) or
  the most frequent value;
* the study's **pre-specified interactions** (``modelling.interactions``) as products of
  the linear terms (a categorical partner contributes one product per dummy), the
  restricted interactions of ``rms`` (``%ia%``);
* every column centred at its training mean; continuous and binary columns (spline terms
  and interactions included) divided by their training SD, as ``rms::lrm``'s default
  penalty matrix scales a numeric column, and the dummies of a categorical predictor left on
  their 0/1 scale, under one **ridge penalty**; the penalty is chosen by inner cross-validated log loss along a
  warm-started path (:class:`RidgeLogisticCV`), and the fitted model reports its
  **effective degrees of freedom** (``rms::effective.df``).

Everything is fitted on the training rows only, so resampling re-makes every decision
(transform, knots, penalty) inside each training set.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"crp": np.exp(rng.normal(2, 1, 300)), "age": rng.normal(50, 10, 300)})
>>> y = (rng.random(300) < 1 / (1 + np.exp(-(np.log(X["crp"]) - 2)))).astype(int)
>>> variables = {"crp": {"type": "numeric"}, "age": {"type": "numeric"}}
>>> basis = FlexibleBasis(variables).fit(X)
>>> basis.decisions()[["predictor", "transform", "knots"]].to_dict("records")[0]
{'predictor': 'crp', 'transform': 'log', 'knots': 5}
>>> model = RidgeLogisticCV(random_state=0).fit(basis.transform(X), y)
>>> bool(1 < model.effective_df_ < 8)
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.special import expit
from scipy.stats import skew
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.validation import check_is_fitted

from analysis.errors import AnalysisError
from analysis.models.tuning import PatientStratifiedKFold
from analysis.regression.fits import logistic_mle
from analysis.regression.splines import harrell_knot_quantiles, rcs_basis

__all__ = [
    "DEFAULT_ALPHAS",
    "DEFAULT_NONLINEAR_RATIOS",
    "complex_terms",
    "FlexibleBasis",
    "RidgeLogisticCV",
    "effective_degrees_of_freedom",
    "flexible_terms",
    "knots_for_sample_size",
]

#: Ridge penalties per patient (``lambda = alpha * n``), strongest first: from near the
#: intercept-only model to near the unpenalised fit, 17 log-spaced values (a factor 2.05
#: apart; a finer grid changed external AUC in the fourth decimal on the demo cohorts).
DEFAULT_ALPHAS = tuple(np.round(np.logspace(1, -4, 17), 8).tolist())
#: Ratios of the penalty on nonlinear and interaction terms to the penalty on the linear
#: main effects, tuned with the penalty (``rms::pentrace``'s ``nonlinear``/``interaction``
#: penalties): 1 penalises all terms alike, 64 shrinks the model toward linearity.
DEFAULT_NONLINEAR_RATIOS = (1.0, 4.0, 16.0, 64.0)
#: Convergence of the warm-started Newton path inside the inner folds (the final fit on all
#: rows converges to 1e-9): the chosen penalties and their held-out log loss are unchanged
#: (to 1e-10 on the demo cohorts) and the tuned fit is 15-20% faster.
INNER_PATH_TOL = 1e-7
#: A continuous predictor with fewer distinct training values than this stays linear.
MIN_DISTINCT_FOR_SPLINE = 10
NUMERIC_TYPES = ("numeric", "integer")


def knots_for_sample_size(n: int, max_knots: int = 5) -> int:
    """Harrell's number of spline knots for ``n`` patients (RMS 2.4.6), capped.

    Examples
    --------
    >>> [knots_for_sample_size(n) for n in (25, 60, 200)]
    [3, 4, 5]
    """
    k = 3 if n < 30 else 4 if n < 100 else 5
    return int(max(3, min(k, max_knots)))


def _transform_values(x: np.ndarray, transform: str | None, floor: float) -> np.ndarray:
    if transform == "log":
        return np.log(np.maximum(x, floor))
    if transform == "log1p":
        return np.log1p(np.maximum(x, 0.0))
    if transform == "sqrt":
        return np.sqrt(np.maximum(x, 0.0))
    return x


class FlexibleBasis(TransformerMixin, BaseEstimator):
    """Design matrix of the flexible model: logs, splines, dummies, interactions, scaling.

    Parameters
    ----------
    variables : mapping of str to dict
        Codebook entries of the predictors, in the order to use them (``type``;
        ``levels`` for categorical; optional ``transform``).
    interactions : sequence of (str, str), default ()
        Pre-specified interactions between two predictors.
    max_knots : int, default 5
        Upper limit of the spline knots (3 to 7).
    skew_threshold : float, default 1.0
        Sample skewness above which a strictly positive predictor without a codebook
        transform is logged.

    Attributes
    ----------
    plan_ : list of dict
        Per predictor: ``predictor, type, transform, transform_source, floor, fill,
        knots`` (a list, empty when linear) and ``levels`` (categorical).
    centres_ : dict of str to list of float
        Training means of the linear terms of interacting predictors: an interaction
        column is ``(a - mean_a) * (b - mean_b)``.
    feature_names_out_ : list of str
        Design-column names: ``age``, ``age'``, ``age''`` (spline), ``sex[male]``,
        ``age × sex[male]``.
    mean_, scale_ : numpy.ndarray
        Training mean and scale (the SD; 1 for a dummy of a categorical predictor or a
        constant column) of every design column.

    Examples
    --------
    >>> X = pd.DataFrame({"age": np.arange(40.0), "sex": ["f", "m"] * 20})
    >>> b = FlexibleBasis({"age": {"type": "numeric"},
    ...                    "sex": {"type": "categorical", "levels": ["f", "m"]}},
    ...                   interactions=[("age", "sex")]).fit(X)
    >>> b.get_feature_names_out().tolist()
    ['age', "age'", "age''", 'sex[m]', 'age × sex[m]']
    """

    def __init__(self, variables=None, interactions=(), max_knots: int = 5,
                 skew_threshold: float = 1.0):
        self.variables = variables
        self.interactions = interactions
        self.max_knots = max_knots
        self.skew_threshold = skew_threshold

    # -- fitting ---------------------------------------------------------------------

    def _check_frame(self, X) -> pd.DataFrame:
        if not isinstance(X, pd.DataFrame):
            raise AnalysisError("FlexibleBasis needs a DataFrame of the predictor columns")
        missing = [c for c in self.variables if c not in X.columns]
        if missing:
            raise AnalysisError(f"FlexibleBasis: predictor column(s) {missing} are missing")
        return X

    def fit(self, X, y=None):
        """Decide transforms and knots and learn fills and scales from the training rows."""
        self._fit(X)
        return self

    def _fit(self, X) -> np.ndarray:
        """:meth:`fit`; returns the unscaled design matrix of the training rows."""
        if not self.variables:
            raise AnalysisError("FlexibleBasis needs the codebook entries of its predictors")
        X = self._check_frame(X)
        n = len(X)
        k_default = knots_for_sample_size(n, int(self.max_knots))
        plan = []
        for name, spec in self.variables.items():
            kind = spec.get("type")
            entry = {"predictor": name, "type": kind, "transform": "none",
                     "transform_source": "", "floor": 0.0, "fill": 0.0, "knots": [],
                     "levels": []}
            if kind in NUMERIC_TYPES:
                x = pd.to_numeric(X[name], errors="coerce").to_numpy(float)
                obs = x[np.isfinite(x)]
                if obs.size == 0:
                    raise AnalysisError(f"FlexibleBasis: predictor '{name}' has no observed value")
                transform, source = self._choose_transform(spec, obs)
                positive = obs[obs > 0]
                floor = float(positive.min() / 2) if positive.size else 1e-8
                t = _transform_values(obs, transform, floor)
                entry.update(transform=transform, transform_source=source, floor=floor,
                             fill=float(np.median(t)), knots=self._knots(t, k_default))
            elif kind == "binary":
                x = pd.to_numeric(X[name], errors="coerce").to_numpy(float)
                obs = x[np.isfinite(x)]
                entry["fill"] = float(pd.Series(obs).mode().min()) if obs.size else 0.0
            elif kind == "categorical":
                levels = [str(v) for v in spec.get("levels") or []]
                if len(levels) < 2:
                    raise AnalysisError(
                        f"categorical predictor '{name}' needs at least two codebook levels")
                values = X[name].dropna().astype(str)
                counts = values.value_counts()
                entry["levels"] = levels
                entry["fill"] = (max(levels, key=lambda v: (counts.get(v, 0), -levels.index(v)))
                                 if len(counts) else levels[0])
            else:
                raise AnalysisError(
                    f"predictor '{name}' has type {kind!r}; models use numeric, integer, "
                    "binary or categorical predictors")
            plan.append(entry)
        self.plan_ = plan
        for pair in self.interactions or ():
            if len(pair) != 2 or any(p not in self.variables for p in pair) or pair[0] == pair[1]:
                raise AnalysisError(
                    f"interaction {list(pair)!r} must name two different predictors of the model")
        self.centres_ = {}
        raw, names = self._design(X, fitting=True)
        self.feature_names_out_ = names
        self.mean_ = raw.mean(axis=0)
        sd = raw.std(axis=0)
        # continuous and binary columns (spline terms and interactions too) standardised, as
        # rms::lrm's default penalty matrix scales a numeric column (a 0/1 binary is one in
        # R) and glmnet standardises; the dummies of a categorical predictor stay on their
        # 0/1 scale, so a rare level is not blown up to unit variance and under-penalised.
        # Over 10 fresh cohorts per demo study (benchmarks/oracle.py --h2h-draws), this
        # scaling raised the mean external AUC ratio against leaving binaries on 0/1 by
        # +0.017 (sle), +0.004 (ibd), +0.003 (ra), +0.001 (cd-msc), -0.007 (ius), and it beat
        # standardising the dummies as well by 0.005-0.014 on four of the five (not cd-msc)
        dummy = self._dummy_columns(names)
        self.scale_ = np.where(dummy | (sd <= 1e-12), 1.0, sd)
        self.n_features_in_ = len(self.variables)
        return raw

    def _dummy_columns(self, names: list[str]) -> np.ndarray:
        """Which design columns are dummies of a categorical predictor (``drug[b]``)."""
        categorical = {e["predictor"] for e in self.plan_ if e["type"] == "categorical"}
        return np.array([" × " not in n and "[" in n and n.split("[", 1)[0] in categorical
                         for n in names], dtype=bool)

    def _choose_transform(self, spec: Mapping, obs: np.ndarray) -> tuple[str, str]:
        if "transform" in spec and spec["transform"] not in (None, ""):
            return str(spec["transform"]), "codebook"
        if obs.size >= 8 and obs.min() > 0 and np.ptp(obs) > 0:
            s_raw = float(skew(obs))
            s_log = float(skew(np.log(obs)))
            if s_raw > self.skew_threshold and abs(s_log) < s_raw:
                return "log", f"automatic: right-skewed (skewness {s_raw:.2f}, {s_log:.2f} after log)"
        return "none", "automatic: not right-skewed or not strictly positive"

    @staticmethod
    def _knots(t: np.ndarray, k_default: int) -> list[float]:
        if np.unique(t).size < MIN_DISTINCT_FOR_SPLINE:
            return []
        for k in range(k_default, 2, -1):
            knots = np.quantile(t, harrell_knot_quantiles(k))
            if np.unique(knots).size == k:
                return [float(v) for v in knots]
        return []

    # -- design ----------------------------------------------------------------------

    def _design(self, X: pd.DataFrame, fitting: bool = False) -> tuple[np.ndarray, list[str]]:
        columns, names, linear = [], [], {}
        for entry in self.plan_:
            name, kind = entry["predictor"], entry["type"]
            if kind in NUMERIC_TYPES:
                x = pd.to_numeric(X[name], errors="coerce").to_numpy(float)
                t = _transform_values(x, entry["transform"], entry["floor"])
                t = np.where(np.isfinite(t), t, entry["fill"])
                if entry["knots"]:
                    basis = rcs_basis(t, entry["knots"])
                    columns.append(basis)
                    names += [name + "'" * j for j in range(basis.shape[1])]
                else:
                    columns.append(t[:, None])
                    names.append(name)
                linear[name] = (t[:, None], [name])
            elif kind == "binary":
                x = pd.to_numeric(X[name], errors="coerce").to_numpy(float)
                x = np.where(np.isfinite(x), x, entry["fill"])[:, None]
                columns.append(x)
                names.append(name)
                linear[name] = (x, [name])
            else:
                values = X[name].astype(object).where(X[name].notna(), entry["fill"]).astype(str)
                dummies = np.column_stack([(values == level).to_numpy(float)
                                           for level in entry["levels"][1:]])
                labels = [f"{name}[{level}]" for level in entry["levels"][1:]]
                columns.append(dummies)
                names += labels
                linear[name] = (dummies, labels)
        # products of terms centred at their training means, so that an interaction column is
        # not a near-copy of a main effect (which a common ridge penalty would distort)
        if fitting:
            for a, b in self.interactions or ():
                for name in (a, b):
                    self.centres_[name] = [float(v) for v in linear[name][0].mean(axis=0)]
        for a, b in self.interactions or ():
            (xa, na), (xb, nb) = linear[a], linear[b]
            ca, cb = np.asarray(self.centres_[a]), np.asarray(self.centres_[b])
            for i, la in enumerate(na):
                for j, lb in enumerate(nb):
                    columns.append(((xa[:, i] - ca[i]) * (xb[:, j] - cb[j]))[:, None])
                    names.append(f"{la} × {lb}")
        return np.column_stack(columns).astype(float), names

    def fit_transform(self, X, y=None) -> pd.DataFrame:
        """``fit(X).transform(X)``, building the design matrix of ``X`` once.

        Examples
        --------
        >>> X = pd.DataFrame({"age": [30.0, 40.0, 50.0, 60.0]})
        >>> basis = FlexibleBasis({"age": {"type": "numeric"}})
        >>> basis.fit_transform(X).equals(FlexibleBasis({"age": {"type": "numeric"}}).fit(X).transform(X))
        True
        """
        raw = self._fit(X)
        return pd.DataFrame((raw - self.mean_) / self.scale_, columns=self.feature_names_out_,
                            index=X.index)

    def transform(self, X) -> pd.DataFrame:
        """The centred and scaled design matrix of ``X`` (rows as given), columns named.

        The names tell :class:`RidgeLogisticCV` which columns are nonlinear spline terms
        (a prime) or interactions (``×``), the terms it may penalise more.
        """
        check_is_fitted(self, "plan_")
        X = self._check_frame(X)
        raw, _ = self._design(X)
        return pd.DataFrame((raw - self.mean_) / self.scale_, columns=self.feature_names_out_,
                            index=X.index)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Design-column names (see the class docstring)."""
        check_is_fitted(self, "plan_")
        return np.asarray(self.feature_names_out_, dtype=object)

    def decisions(self) -> pd.DataFrame:
        """One row per predictor: how it entered the model, and why.

        Columns ``predictor, type, transform, transform_source, knots, knot_values,
        columns`` (the number of design columns, interactions not counted).
        """
        check_is_fitted(self, "plan_")
        rows = []
        for entry in self.plan_:
            k = len(entry["knots"])
            n_cols = (max(k - 1, 1) if entry["type"] in NUMERIC_TYPES
                      else max(len(entry["levels"]) - 1, 1))
            rows.append({
                "predictor": entry["predictor"], "type": entry["type"],
                "transform": entry["transform"] if entry["type"] in NUMERIC_TYPES else "",
                "transform_source": entry["transform_source"],
                "knots": k,
                "knot_values": ", ".join(f"{v:.4g}" for v in entry["knots"]),
                "columns": n_cols,
            })
        return pd.DataFrame(rows)


def effective_degrees_of_freedom(X: np.ndarray, prob: np.ndarray, penalty: np.ndarray) -> float:
    """Effective degrees of freedom of a penalised logistic fit, as ``rms::effective.df``.

    ``trace((I + P)^-1 I) - 1`` with ``I = X'WX`` the information at the fitted
    probabilities (``W = p(1 - p)``) and ``P`` the diagonal penalty; ``X`` carries the
    intercept column (unpenalised, which contributes exactly 1 and is not counted).

    Parameters
    ----------
    X : numpy.ndarray, shape (n, k)
        Design matrix with the intercept column first.
    prob : numpy.ndarray, shape (n,)
        Fitted probabilities.
    penalty : numpy.ndarray, shape (k,)
        Diagonal of the penalty (0 for the intercept).

    Examples
    --------
    >>> X = np.column_stack([np.ones(6), [0.0, 1, 2, 3, 4, 5], [1.0, 0, 1, 0, 0, 1]])
    >>> p = np.full(6, 0.5)
    >>> round(effective_degrees_of_freedom(X, p, np.zeros(3)), 6)   # unpenalised: 2 slopes
    2.0
    >>> effective_degrees_of_freedom(X, p, np.array([0.0, 1e9, 1e9])) < 1e-6   # all shrunk
    True
    """
    info = X.T @ (X * (prob * (1 - prob))[:, None])
    return float(np.trace(np.linalg.solve(info + np.diag(penalty), info)) - 1.0)


def complex_terms(names) -> np.ndarray:
    """Which design columns are nonlinear spline terms (``age'``) or interactions (``×``).

    Examples
    --------
    >>> complex_terms(["age", "age'", "sex[m]", "age × sex[m]"]).tolist()
    [False, True, False, True]
    """
    return np.array(["'" in str(n) or " × " in str(n) for n in names], dtype=bool)


#: Largest ``systems x rows x columns`` that :func:`_inner_paths` stacks in memory.
BATCH_ELEMENTS = 4_000_000


def _inner_paths(X1, y, splits, alphas, weights, tol):
    """The inner-CV penalty paths of every (fold, ratio) pair, fitted side by side.

    Each pair's path is what :meth:`RidgeLogisticCV._path` computes on the fold's training
    rows (the same Newton-Raphson with step halving and the same convergence rule as
    :func:`analysis.regression.fits.logistic_mle`, warm-started along ``alphas``), but the
    ``folds x ratios`` fits of one penalty share each Newton iteration: one stacked
    information matrix and one stacked solve instead of twenty small ones, which were
    mostly Python and NumPy call overhead.  A fold's rows are padded to the longest fold
    with zero rows of weight 0, which add nothing to any sum.

    Returns ``{(fold, ratio_index): [beta per alpha]}``, or None when the stack would
    exceed :data:`BATCH_ELEMENTS` (the caller then fits one path at a time).
    """
    n_folds, n_ratios = len(splits), len(weights)
    k = X1.shape[1]
    width = max(len(train) for train, _ in splits)
    systems = n_folds * n_ratios
    if systems * width * k > BATCH_ELEMENTS:
        return None
    Xs = np.zeros((systems, width, k))
    ys = np.zeros((systems, width))
    rows = np.zeros((systems, width))
    unit = np.zeros((systems, k))  # penalty per unit of lambda (0 for the intercept)
    scale = np.zeros(systems)  # lambda = alpha * training rows
    for f, (train, _) in enumerate(splits):
        for r, w in enumerate(weights):
            s = f * n_ratios + r
            Xs[s, : len(train)] = X1[train]
            ys[s, : len(train)] = y[train]
            rows[s, : len(train)] = 1.0
            unit[s, 1:] = w
            scale[s] = len(train)
    XsT = np.ascontiguousarray(Xs.transpose(0, 2, 1))  # contiguous: fast row weighting
    betas = np.zeros((systems, k))
    out: dict[tuple[int, int], list] = {(f, r): [] for f in range(n_folds) for r in range(n_ratios)}
    for alpha in alphas:
        pen = unit * (alpha * scale)[:, None]
        betas = _stacked_newton(Xs, XsT, ys, rows, pen, betas, tol)
        for s in range(systems):
            out[divmod(s, n_ratios)].append(betas[s].copy())
    return out


def _stacked_newton(Xs, XsT, ys, rows, pen, start, tol):
    """:func:`~analysis.regression.fits.logistic_mle` (penalised, no covariance) of several
    systems at once; each system stops on its own convergence rule.

    Every iteration computes all systems (copying out the unconverged ones would cost more
    than the few fits it saves) but only updates those that have not converged.
    """
    systems, _, k = Xs.shape
    diagonal = np.arange(k)

    def objective(eta, b):
        terms = rows * (np.logaddexp(0.0, eta) - ys * eta)
        return np.sum(terms, axis=1) + 0.5 * np.sum(pen * b * b, axis=1)

    def linear(b):
        return np.matmul(Xs, b[:, :, None])[:, :, 0]

    beta = np.array(start, dtype=float)
    eta = linear(beta)
    current = objective(eta, beta)
    active = np.ones(systems, dtype=bool)
    weighted = np.empty_like(XsT)  # reused: a fresh array of this size costs page faults
    for _ in range(200):
        mu = expit(eta)
        np.multiply(XsT, (rows * (mu * (1 - mu)))[:, None, :], out=weighted)
        info = np.matmul(weighted, Xs)
        info[:, diagonal, diagonal] += pen
        grad = np.matmul(XsT, (rows * (ys - mu))[:, :, None])[:, :, 0] - pen * beta
        try:
            step = np.linalg.solve(info, grad[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            raise AnalysisError(
                "y_true is perfectly separated by prob: the logistic recalibration "
                "model has no finite maximum-likelihood estimate"
            ) from None
        t = np.ones(systems)
        pending = active.copy()
        while True:  # step halving, system by system
            cand_beta = beta + t[:, None] * step
            cand_eta = linear(cand_beta)
            cand = objective(cand_eta, cand_beta)
            done = pending & ((cand <= current + 1e-12 * np.abs(current)) | (t < 1e-10))
            beta[done], eta[done], current[done] = cand_beta[done], cand_eta[done], cand[done]
            pending &= ~done
            if not pending.any():
                break
            t[pending] /= 2
        moved = np.max(np.abs(t[:, None] * step), axis=1)
        active &= ~(moved < tol * (1 + np.max(np.abs(beta), axis=1)))
        if not active.any():
            return beta
    raise AnalysisError("the logistic recalibration model did not converge")


class RidgeLogisticCV(ClassifierMixin, BaseEstimator):
    """Ridge logistic regression with the penalty chosen by inner cross-validated log loss.

    Minimises ``-loglik + 0.5 * lambda * sum(r_j * beta_j^2)`` (intercept unpenalised)
    with ``lambda = alpha * n`` and ``r_j = 1`` for linear main effects and ``r_j =
    ratio`` for nonlinear spline terms and interactions (recognised by their names,
    :func:`complex_terms`, when ``X`` is a DataFrame from :class:`FlexibleBasis`).  For
    every ``ratio`` the ``alpha`` path runs from strongest to weakest penalty, each fit
    warm-started from the previous one (Newton steps,
    :func:`analysis.regression.fits.logistic_mle`).  The pair with the lowest mean
    held-out log loss over ``inner_splits`` stratified folds is refitted on all rows.
    Expects standardised columns.

    Parameters
    ----------
    alphas : sequence of float, optional
        Penalties per patient, default :data:`DEFAULT_ALPHAS`.
    nonlinear_ratios : sequence of float, optional
        Candidate ratios, default :data:`DEFAULT_NONLINEAR_RATIOS`.
    inner_splits : int, default 5
        Folds of the inner cross-validation.
    random_state : int, default 0
        Seed of the fold split.

    Attributes
    ----------
    alpha_ : float
        The chosen penalty per patient (on linear main effects).
    nonlinear_ratio_ : float
        The chosen ratio for nonlinear and interaction terms.
    cv_log_loss_ : numpy.ndarray, shape (n_ratios, n_alphas)
        Mean held-out log loss.
    coef_ : numpy.ndarray, shape (1, k)
    intercept_ : numpy.ndarray, shape (1,)
    effective_df_ : float
        Effective degrees of freedom of the final fit (:func:`effective_degrees_of_freedom`).
    classes_ : numpy.ndarray
    best_params_ : dict
        ``{"alpha": alpha_, "nonlinear_ratio": nonlinear_ratio_}``.
    best_score_ : float
        The chosen pair's mean held-out ``neg_log_loss`` (scikit-learn's sign).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> X = rng.normal(size=(200, 3))
    >>> y = (rng.random(200) < expit(X[:, 0])).astype(int)
    >>> m = RidgeLogisticCV(alphas=[1.0, 0.01], random_state=0).fit(X, y)
    >>> m.predict_proba(X).shape, m.alpha_ in (1.0, 0.01)
    ((200, 2), True)
    """

    def __init__(self, alphas: Sequence[float] | None = None,
                 nonlinear_ratios: Sequence[float] | None = None, inner_splits: int = 5,
                 random_state: int = 0):
        self.alphas = alphas
        self.nonlinear_ratios = nonlinear_ratios
        self.inner_splits = inner_splits
        self.random_state = random_state

    @staticmethod
    def _penalty(weights: np.ndarray, lam: float) -> np.ndarray:
        return np.concatenate([[0.0], lam * weights])

    def _path(self, X1, y, lambdas, weights, start=None, tol: float = 1e-9):
        beta = np.zeros(X1.shape[1]) if start is None else start
        out = []
        for lam in lambdas:
            beta, _ = logistic_mle(X1, y, penalty=self._penalty(weights, lam), start=beta,
                                   tol=tol, covariance=False)
            out.append(beta)
        return out

    def fit(self, X, y, groups=None):
        """Choose the penalties by inner CV and fit on all rows.

        ``groups`` keeps rows of one group in one inner fold (:class:`~analysis.models.tuning.PatientStratifiedKFold`):
        in a bootstrap sample, the copies of one patient.
        """
        names = list(X.columns) if isinstance(X, pd.DataFrame) else None
        X = np.asarray(X, dtype=float)
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        if self.classes_.size != 2:
            raise AnalysisError("RidgeLogisticCV needs an outcome with two classes")
        y01 = (y == self.classes_[1]).astype(float)
        alphas = np.sort(np.asarray(self.alphas or DEFAULT_ALPHAS, dtype=float))[::-1]
        complex_mask = (complex_terms(names) if names is not None
                        else np.zeros(X.shape[1], dtype=bool))
        ratios = np.asarray(self.nonlinear_ratios or DEFAULT_NONLINEAR_RATIOS, dtype=float)
        if not complex_mask.any():
            ratios = ratios[:1]
        n = X.shape[0]
        X1 = np.column_stack([np.ones(n), X])
        minority = int(min(y01.sum(), n - y01.sum()))
        splits = min(int(self.inner_splits), minority)
        losses = np.full((ratios.size, alphas.size), np.nan)
        if splits >= 2 and alphas.size * ratios.size > 1:
            losses[:] = 0.0
            if groups is None:
                folds = StratifiedKFold(splits, shuffle=True, random_state=self.random_state)
            else:
                splits = min(splits, np.unique(groups).size)
                folds = PatientStratifiedKFold(splits, shuffle=True, random_state=self.random_state)
            splits_ = list(folds.split(X, y01, groups))
            weights = [np.where(complex_mask, ratio, 1.0) for ratio in ratios]
            # held-out log losses of neighbouring penalties differ in the 3rd-4th
            # decimal; coefficients to 1e-7 leave them unchanged to ~1e-12
            paths = _inner_paths(X1, y01, splits_, alphas, weights, INNER_PATH_TOL)
            if paths is None:  # too large to batch: one fold and ratio at a time
                paths = {(f, r): self._path(X1[train], y01[train], alphas * len(train), w,
                                            tol=INNER_PATH_TOL)
                         for f, (train, _) in enumerate(splits_) for r, w in enumerate(weights)}
            for f, (_, test) in enumerate(splits_):
                for r in range(ratios.size):
                    for i, beta in enumerate(paths[f, r]):
                        p = np.clip(expit(X1[test] @ beta), 1e-15, 1 - 1e-15)
                        losses[r, i] -= np.sum(y01[test] * np.log(p)
                                               + (1 - y01[test]) * np.log1p(-p))
            losses /= n
            r_best, a_best = np.unravel_index(int(np.argmin(losses)), losses.shape)
        else:
            r_best, a_best = 0, 0
        self.cv_log_loss_ = losses
        self.alpha_ = float(alphas[a_best])
        self.nonlinear_ratio_ = float(ratios[r_best])
        # what the resampling records as the tuned parameters (notebook 05's tuning table)
        self.best_params_ = {"alpha": self.alpha_, "nonlinear_ratio": self.nonlinear_ratio_}
        self.best_score_ = (-float(losses[r_best, a_best]) if np.isfinite(losses[r_best, a_best])
                            else float("nan"))
        weights = np.where(complex_mask, self.nonlinear_ratio_, 1.0)
        beta = self._path(X1, y01, alphas[: a_best + 1] * n, weights)[-1]  # to 1e-9
        self.intercept_ = beta[:1].copy()
        self.coef_ = beta[1:][None, :].copy()
        self.effective_df_ = effective_degrees_of_freedom(
            X1, expit(X1 @ beta), self._penalty(weights, self.alpha_ * n))
        self.n_features_in_ = X.shape[1]
        return self

    def decision_function(self, X) -> np.ndarray:
        """Linear predictor (log-odds)."""
        check_is_fitted(self, "coef_")
        return np.asarray(X, dtype=float) @ self.coef_[0] + self.intercept_[0]

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities of the two classes."""
        p = expit(self.decision_function(X))
        return np.column_stack([1 - p, p])

    def predict(self, X) -> np.ndarray:
        """Class at a 0.5 threshold."""
        return self.classes_[(self.decision_function(X) > 0).astype(int)]


def flexible_terms(pipeline) -> pd.DataFrame:
    """How each predictor entered a fitted flexible model, with the penalty and its df.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        A fitted ``flexible_logistic`` pipeline (steps ``preprocess``: :class:`FlexibleBasis`,
        ``model``: :class:`RidgeLogisticCV`), possibly inside a recalibration wrapper
        (its ``estimator``).

    Returns
    -------
    pandas.DataFrame
        :meth:`FlexibleBasis.decisions` (``predictor, type, transform, transform_source,
        knots, knot_values, columns``); ``attrs`` holds ``alpha``, ``nonlinear_ratio``,
        ``effective_df``, ``design_columns``, ``interactions`` and ``sentence`` (a
        methods sentence).

    Examples
    --------
    >>> from sklearn.pipeline import Pipeline
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"crp": np.exp(rng.normal(2, 1, 200)), "age": rng.normal(50, 9, 200)})
    >>> y = (rng.random(200) < expit(np.log(X["crp"]) - 2)).astype(int)
    >>> pipe = Pipeline([("preprocess", FlexibleBasis({"crp": {"type": "numeric"},
    ...                                                "age": {"type": "numeric"}})),
    ...                  ("model", RidgeLogisticCV(random_state=0))]).fit(X, y)
    >>> flexible_terms(pipe)["transform"].tolist()
    ['log', 'none']
    >>> flexible_terms(pipe).attrs["sentence"][:60]
    'Penalised logistic regression (ridge) with restricted cubic '
    """
    inner = getattr(pipeline, "estimator", pipeline)
    steps = getattr(inner, "named_steps", {})
    basis, model = steps.get("preprocess"), steps.get("model")
    if not isinstance(basis, FlexibleBasis) or not isinstance(model, RidgeLogisticCV):
        raise AnalysisError("flexible_terms needs a fitted flexible_logistic pipeline")
    table = basis.decisions()
    logged = table.loc[table["transform"] == "log", "predictor"].tolist()
    auto = table.loc[table["transform_source"].str.startswith("automatic")
                     & (table["transform"] == "log"), "predictor"].tolist()
    splined = table.loc[table["knots"] > 0, ["predictor", "knots"]]
    pairs = [" × ".join(pair) for pair in (basis.interactions or ())]
    knots = sorted(set(splined["knots"].astype(int)))
    sentence = (
        "Penalised logistic regression (ridge) with restricted cubic splines "
        f"({'/'.join(map(str, knots)) or 'no'} knots at Harrell's quantiles) for "
        f"{len(splined)} continuous predictor(s)"
        + (f", the log of {', '.join(logged)}" if logged else "")
        + (f" ({', '.join(auto)} logged automatically as right-skewed)" if auto else "")
        + (f", the pre-specified interaction(s) {', '.join(pairs)}" if pairs else "")
        + f"; {len(basis.feature_names_out_)} design columns. The penalty, chosen by "
        f"{model.inner_splits}-fold cross-validated log loss, is {model.alpha_:.3g} per "
        f"patient on linear terms and {model.nonlinear_ratio_:g} times that on nonlinear and "
        f"interaction terms, leaving {model.effective_df_:.1f} effective degrees of freedom."
    )
    table.attrs.update(alpha=model.alpha_, nonlinear_ratio=model.nonlinear_ratio_,
                       effective_df=model.effective_df_,
                       design_columns=len(basis.feature_names_out_), interactions=pairs,
                       sentence=sentence)
    return table
