"""Effect modelling: each patient's probability of response under every option, and the benefit.

The second step of the PATH statement (Kent et al., Ann Intern Med 2020), after the
risk-based analysis of :mod:`analysis.benefit.risk_groups`:

* **the effect model** (:func:`effect_model_spec`): the study's flexible penalised logistic
  model (:mod:`analysis.models.flexible`: splines, automatic logs, a ridge penalty tuned by
  inner CV) with the treatment column *and* its products with the pre-specified effect
  modifiers (study.yaml ``treatment.effect_modifiers``), which the penalty shrinks
  (``nonlinear_ratio``) towards a common effect unless the data show otherwise;
* **meta-learners for comparison** (:func:`learner_specs`): learners of the zoo used as an
  *S-learner* (one model with the treatment as a predictor; the option is set for every
  patient in turn) and as a *T-learner* (:class:`TLearner`: one model per option, fitted on
  that option's patients);
* **the benefit model** (:class:`BenefitModel`): the effect model fitted on all patients with
  ``n_boot`` bootstrap refits, which give each patient a percentile interval for the
  probability under every option and for the benefit (option minus reference), the
  propensity model of :mod:`analysis.benefit.propensity` and its common support, and the
  ``preferred_option`` rule of the prediction tool.

In the bootstrap refits of a self-tuning ridge model the penalty chosen on all patients is
held fixed (tuning it again in every refit would cost 85 fits each); the intervals therefore
describe the sampling variability of the fit at that penalty, not of the penalty choice.

These are observational comparisons: patients were not randomised to the options, and the
model removes confounding only as far as the predictors capture what drove the choice.

Examples
--------
>>> from analysis.benefit.effect_model import counterfactual_probabilities
>>> from sklearn.linear_model import LogisticRegression
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.compose import make_column_transformer
>>> from sklearn.preprocessing import OneHotEncoder
>>> X = pd.DataFrame({"drug": ["a", "b"] * 20, "age": np.arange(40.0)})
>>> y = np.array([0, 1] * 20)
>>> pre = make_column_transformer((OneHotEncoder(), ["drug"]), remainder="passthrough")
>>> model = make_pipeline(pre, LogisticRegression()).fit(X, y)
>>> counterfactual_probabilities(model, X.head(2), "drug", ["a", "b"]).columns.tolist()
['a', 'b']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.validation import check_is_fitted

from analysis.benefit.propensity import (
    common_support,
    propensity_scores,
    score_propensity,
    treatment_labels,
    within_support,
)
from analysis.errors import AnalysisError
from analysis.models.flexible import RidgeLogisticCV
from analysis.models.predict import option_name
from analysis.models.zoo import ModelSpec, model_zoo
from analysis.validation.resampling import fit_final

__all__ = [
    "NO_CLEAR_DIFFERENCE",
    "NO_EVIDENCE",
    "S_LEARNERS",
    "T_LEARNERS",
    "BenefitModel",
    "TLearner",
    "counterfactual_probabilities",
    "cross_fitted_counterfactuals",
    "effect_interactions",
    "effect_model_spec",
    "learner_specs",
    "option_name",
    "preferred_options",
]

#: ``preferred_option`` when no option's benefit interval excludes 0.
NO_CLEAR_DIFFERENCE = "no clear difference"
#: ``preferred_option`` when the benefit model failed its validation (c-for-benefit CI
#: includes 0.5).
NO_EVIDENCE = "no evidence that the options differ for this patient"
#: Zoo learners used as S-learners (treatment as a predictor) for comparison.
S_LEARNERS = ("logistic", "random_forest", "gradient_boosting")
#: Zoo learners used as T-learners (one model per option); both tune themselves.
T_LEARNERS = ("flexible_logistic", "random_forest")
#: Name of the effect model in tables.
EFFECT_MODEL = "effect_model"


def effect_interactions(treatment: Mapping, interactions=()) -> list[tuple[str, str]]:
    """The study's interactions plus treatment x each pre-specified effect modifier, no repeats.

    Examples
    --------
    >>> effect_interactions({"column": "drug", "effect_modifiers": ["crp", "age"]},
    ...                     [("age", "drug"), ("age", "sex")])
    [('age', 'drug'), ('age', 'sex'), ('drug', 'crp')]
    """
    pairs = [tuple(p) for p in interactions]
    seen = {frozenset(p) for p in pairs}
    for modifier in treatment.get("effect_modifiers") or ():
        pair = (treatment["column"], modifier)
        if frozenset(pair) not in seen:
            pairs.append(pair)
            seen.add(frozenset(pair))
    return pairs


def effect_model_spec(codebook, predictors, treatment: Mapping, *, interactions=(),
                      smoke: bool = False, seed: int = 0) -> ModelSpec:
    """The flexible penalised logistic model with treatment x effect-modifier interactions.

    Parameters
    ----------
    codebook : mapping
        ``study.codebook(predictors)``.
    predictors : sequence of str
        The study's predictors (the treatment column among them).
    treatment : mapping
        ``study.treatment`` (``column``, ``effect_modifiers``).
    interactions : iterable of (str, str), optional
        The study's other pre-specified interactions (``settings.interactions``).
    smoke : bool, default False
    seed : int, default 0

    Returns
    -------
    analysis.models.zoo.ModelSpec
        Named ``"effect_model"``.

    Examples
    --------
    >>> cb = {"age": {"type": "numeric"}, "drug": {"type": "categorical", "levels": ["a", "b"]}}
    >>> spec = effect_model_spec(cb, ["age", "drug"], {"column": "drug", "effect_modifiers": ["age"]})
    >>> spec.name, spec.pipeline["preprocess"].interactions
    ('effect_model', [('drug', 'age')])
    """
    pairs = effect_interactions(treatment, interactions)
    spec = model_zoo(codebook, predictors, smoke=smoke, seed=seed, include=["flexible_logistic"],
                     interactions=pairs)["flexible_logistic"]
    return replace(spec, name=EFFECT_MODEL,
                   label="Penalised logistic regression with treatment x modifier interactions")


def learner_specs(codebook, predictors, treatment: Mapping, *, smoke: bool = False,
                  seed: int = 0) -> dict[str, tuple[ModelSpec, str]]:
    """The zoo's learners as S- and T-learners, keyed ``"S: <name>"`` / ``"T: <name>"``.

    Returns a mapping of name to ``(spec, kind)`` with kind ``"S"`` or ``"T"``; a T-learner's
    spec wraps the treatment-blind pipeline in a :class:`TLearner`.

    Examples
    --------
    >>> cb = {"age": {"type": "numeric"}, "drug": {"type": "categorical", "levels": ["a", "b"]}}
    >>> list(learner_specs(cb, ["age", "drug"], {"column": "drug", "options": ["a", "b"]}, smoke=True))
    ['S: logistic', 'S: random_forest', 'S: gradient_boosting', 'T: flexible_logistic', 'T: random_forest']
    """
    column = treatment["column"]
    out: dict[str, tuple[ModelSpec, str]] = {}
    s_zoo = model_zoo(codebook, predictors, smoke=smoke, seed=seed, include=list(S_LEARNERS))
    for name in S_LEARNERS:
        out[f"S: {name}"] = (s_zoo[name], "S")
    blind = [p for p in predictors if p != column]
    t_zoo = model_zoo({k: codebook[k] for k in blind}, blind, smoke=smoke, seed=seed,
                      include=list(T_LEARNERS))
    for name in T_LEARNERS:
        spec = t_zoo[name]
        learner = TLearner(spec.pipeline, column=column, options=list(treatment["options"]))
        out[f"T: {name}"] = (ModelSpec(f"T: {name}", f"{spec.label} (T-learner)", learner, {},
                                       spec.complexity), "T")
    return out


class TLearner(ClassifierMixin, BaseEstimator):
    """One model per treatment option, each fitted on the patients who received it.

    Parameters
    ----------
    estimator : sklearn estimator
        Unfitted; it sees every column of ``X`` except ``column``.
    column : str
        The treatment column.
    options : list of str
        The options; each needs patients of both outcome classes.

    Attributes
    ----------
    estimators_ : list
        The fitted model of each option, in ``options`` order.
    classes_ : numpy.ndarray

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = pd.DataFrame({"drug": ["a", "b"] * 30, "x": np.linspace(-2, 2, 60)})
    >>> y = np.r_[[0, 1] * 15, [1, 0] * 15]
    >>> t = TLearner(LogisticRegression(), column="drug", options=["a", "b"]).fit(X, y)
    >>> t.predict_proba(X.head(2)).shape
    (2, 2)
    """

    def __init__(self, estimator=None, column: str = "", options: Sequence[str] = ()):
        self.estimator = estimator
        self.column = column
        self.options = options

    def fit(self, X: pd.DataFrame, y):
        """Fit one clone of ``estimator`` per option."""
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        received = treatment_labels(X[self.column])
        rest = X.drop(columns=[self.column])
        self.estimators_ = []
        for option in self.options:
            mask = received == str(option)
            if np.unique(y[mask]).size < 2:
                raise AnalysisError(
                    f"T-learner: option {option!r} has {int(mask.sum())} patients and not "
                    "both outcomes; a separate model cannot be fitted")
            self.estimators_.append(clone(self.estimator).fit(rest[mask], y[mask]))
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Each row scored by the model of its option (unknown options: NaN)."""
        check_is_fitted(self, "estimators_")
        received = treatment_labels(X[self.column])
        rest = X.drop(columns=[self.column])
        out = np.full((len(X), 2), np.nan)
        for option, model in zip(self.options, self.estimators_, strict=True):
            mask = received == str(option)
            if mask.any():
                out[mask] = model.predict_proba(rest[mask])
        return out

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Class at a 0.5 threshold."""
        return self.classes_[(self.predict_proba(X)[:, 1] > 0.5).astype(int)]


def _set_option(X: pd.DataFrame, column: str, option) -> pd.DataFrame:
    scored = X.copy()
    if pd.api.types.is_numeric_dtype(X[column]):
        scored[column] = float(option)
    else:
        scored[column] = str(option)
    return scored


def _positive(model, X: pd.DataFrame) -> np.ndarray:
    proba = np.asarray(model.predict_proba(X), dtype=float)
    classes = list(getattr(model, "classes_", [0, 1]))
    return proba[:, classes.index(1) if 1 in classes else proba.shape[1] - 1]


def counterfactual_probabilities(model, X: pd.DataFrame, column: str, options) -> pd.DataFrame:
    """Predicted probability of response of every row under every option.

    Parameters
    ----------
    model : fitted classifier
        Sees ``column`` among its inputs.
    X : pandas.DataFrame
    column : str
        The treatment column, set to each option in turn.
    options : sequence

    Returns
    -------
    pandas.DataFrame
        One column per option (named by the option), rows as ``X``.
    """
    options = list(options)
    if len(X) == 0 or len(options) < 2:
        return pd.DataFrame({str(o): _positive(model, _set_option(X, column, o))
                             for o in options}, index=X.index)
    # one call on the rows stacked option by option: a pipeline's per-call overhead (input
    # checks, one transform per column group) is paid once instead of once per option
    stacked = pd.concat([_set_option(X, column, o) for o in options], ignore_index=True)
    proba = _positive(model, stacked).reshape(len(options), len(X))
    return pd.DataFrame({str(o): proba[j] for j, o in enumerate(options)}, index=X.index)


def _strata(y: np.ndarray, received: np.ndarray) -> np.ndarray:
    codes = pd.factorize(received, sort=True)[0]
    return codes * 2 + y


def cross_fitted_counterfactuals(spec: ModelSpec, X: pd.DataFrame, y, column: str, options, *,
                                 n_splits: int = 5, seed: int = 0,
                                 inner_splits: int = 3) -> pd.DataFrame:
    """Out-of-fold probabilities under every option: no patient is scored by a model that saw them.

    Folds are stratified by outcome and option together
    (``StratifiedKFold(n_splits, shuffle=True, random_state=seed)``); a spec with a grid is
    tuned inside each training fold (:func:`analysis.validation.resampling.fit_final`).

    Returns
    -------
    pandas.DataFrame
        One column per option, rows as ``X`` (positional).
    """
    y = np.asarray(y).astype(int)
    received = treatment_labels(X[column])
    strata = _strata(y, received)
    counts = np.bincount(strata)
    splits = int(min(n_splits, counts[counts > 0].min()))
    if splits < 2:
        raise AnalysisError("too few patients per option and outcome for cross-fitting")
    out = pd.DataFrame(np.nan, index=range(len(y)), columns=[str(o) for o in options])
    for train, test in StratifiedKFold(splits, shuffle=True, random_state=seed).split(X, strata):
        fitted = fit_final(spec, X.iloc[train].reset_index(drop=True), y[train],
                           inner_splits=inner_splits, seed=seed)
        probs = counterfactual_probabilities(fitted, X.iloc[test], column, options)
        out.iloc[test] = probs.to_numpy()
    return out


def _fixed_penalty(model):
    """A clone whose self-tuning ridge keeps the penalty chosen by ``model`` (see module doc)."""
    final = model.steps[-1][1] if hasattr(model, "steps") else model
    fresh = clone(model)
    if isinstance(final, RidgeLogisticCV):
        key = f"{model.steps[-1][0]}__" if hasattr(model, "steps") else ""
        fresh.set_params(**{f"{key}alphas": [final.alpha_],
                            f"{key}nonlinear_ratios": [final.nonlinear_ratio_]})
    return fresh


class BenefitModel(ClassifierMixin, BaseEstimator):
    """The effect model with bootstrap intervals, its propensity model and common support.

    Parameters
    ----------
    estimator : sklearn estimator
        Unfitted effect model (:func:`effect_model_spec`), taking the study's predictors.
    column : str
        Treatment column.
    options : list of str
    reference : str
        The option benefits are taken against.
    propensity_estimator : sklearn estimator, optional
        Unfitted propensity model (:func:`analysis.benefit.propensity.propensity_pipeline`);
        without it there is no common-support check.
    n_boot : int, default 200
        Bootstrap refits for the intervals.
    alpha : float, default 0.05
        Intervals are ``100 (1 - alpha)`` % percentile intervals.
    seed : int, default 0
    evidence : mapping of str to bool, optional
        Per non-reference option, whether the validation found evidence that the model
        separates who benefits (c-for-benefit CI above 0.5); set after validation with
        ``set_params``.  ``None`` (not validated) counts as no evidence for any option.

    Attributes
    ----------
    model_ : fitted estimator (all patients)
    refits_ : list of fitted estimators (bootstrap samples)
    propensity_ : fitted propensity model or None
    support_ : dict of option -> [lower, upper] propensity bounds (empty without propensity)
    classes_ : numpy.ndarray

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.compose import make_column_transformer
    >>> from sklearn.preprocessing import OneHotEncoder
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"drug": rng.choice(["a", "b"], 200), "x": rng.normal(size=200)})
    >>> y = (rng.random(200) < 0.3 + 0.3 * (X["drug"] == "b")).astype(int).to_numpy()
    >>> pre = make_column_transformer((OneHotEncoder(), ["drug"]), remainder="passthrough")
    >>> m = BenefitModel(make_pipeline(pre, LogisticRegression()), column="drug",
    ...                  options=["a", "b"], reference="a", n_boot=20).fit(X, y)
    >>> m.option_table(X.head(1), evidence=True).columns.tolist()[:4]
    ['probability_a', 'ci_lower_a', 'ci_upper_a', 'probability_b']
    """

    def __init__(self, estimator=None, column: str = "", options: Sequence[str] = (),
                 reference: str = "", propensity_estimator=None, n_boot: int = 200,
                 alpha: float = 0.05, seed: int = 0, evidence: Mapping[str, bool] | None = None):
        self.estimator = estimator
        self.column = column
        self.options = options
        self.reference = reference
        self.propensity_estimator = propensity_estimator
        self.n_boot = n_boot
        self.alpha = alpha
        self.seed = seed
        self.evidence = evidence

    def fit(self, X: pd.DataFrame, y):
        """Fit the effect model, its bootstrap refits and the propensity model."""
        options = [str(o) for o in self.options]
        if str(self.reference) not in options:
            raise AnalysisError(f"reference {self.reference!r} is not one of the options {options}")
        y = np.asarray(y).astype(int)
        X = X.reset_index(drop=True)
        self.classes_ = np.unique(y)
        self.model_ = clone(self.estimator).fit(X, y)
        template = _fixed_penalty(self.model_)
        received = treatment_labels(X[self.column])
        strata = _strata(y, received)
        rng = np.random.default_rng(self.seed)
        self.refits_ = []
        attempts = 0
        while len(self.refits_) < int(self.n_boot) and attempts < 3 * int(self.n_boot):
            attempts += 1
            # resampled within option x outcome, so every refit sees every option's outcomes
            idx = np.concatenate([rng.choice(np.flatnonzero(strata == s), (strata == s).sum())
                                  for s in np.unique(strata)])
            try:
                self.refits_.append(clone(template).fit(X.iloc[idx], y[idx]))
            except (AnalysisError, ValueError):
                continue
        self.propensity_, self.support_ = None, {}
        if self.propensity_estimator is not None:
            self.propensity_, scores = propensity_scores(self.propensity_estimator, X,
                                                         X[self.column], options)
            _, bounds = common_support(scores, X[self.column], options)
            self.support_ = {str(k): [float(v[0]), float(v[1])] for k, v in bounds.items()}
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Probabilities under the option each patient received (the effect model's fit)."""
        check_is_fitted(self, "model_")
        return self.model_.predict_proba(X)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Class at a 0.5 threshold."""
        return self.classes_[(self.predict_proba(X)[:, 1] > 0.5).astype(int)]

    def in_support(self, X: pd.DataFrame) -> np.ndarray:
        """Whether each row lies in the common support of the propensity scores (all True without it)."""
        check_is_fitted(self, "model_")
        if self.propensity_ is None:
            return np.ones(len(X), dtype=bool)
        scores = score_propensity(self.propensity_, X, [str(o) for o in self.options])
        bounds = {k: tuple(v) for k, v in self.support_.items()}
        return np.asarray(within_support(scores, bounds), dtype=bool)

    def option_table(self, X: pd.DataFrame, *, evidence=None) -> pd.DataFrame:
        """Per-option probabilities and benefits with intervals, and the preferred option.

        Parameters
        ----------
        X : pandas.DataFrame
            The study's predictors (the treatment column's value is ignored).
        evidence : bool or mapping of str to bool, optional
            Overrides the ``evidence`` parameter (see :func:`preferred_options`).

        Returns
        -------
        pandas.DataFrame
            Per option ``probability_<o>``, ``ci_lower_<o>``, ``ci_upper_<o>``; per
            non-reference option ``benefit_<o>``, ``benefit_ci_lower_<o>``,
            ``benefit_ci_upper_<o>``; then ``preferred_option`` and ``in_common_support``.
        """
        check_is_fitted(self, "model_")
        options = [str(o) for o in self.options]
        X = X.reset_index(drop=True)
        point = counterfactual_probabilities(self.model_, X, self.column, options)
        draws = np.stack([counterfactual_probabilities(m, X, self.column, options).to_numpy()
                          for m in self.refits_]) if self.refits_ else None
        q = [100 * self.alpha / 2, 100 * (1 - self.alpha / 2)]
        out = pd.DataFrame(index=X.index)
        ref = options.index(str(self.reference))
        for j, o in enumerate(options):
            name = option_name(o)
            out[f"probability_{name}"] = point[o].to_numpy()
            lo, hi = (np.percentile(draws[:, :, j], q, axis=0) if draws is not None
                      else (np.full(len(X), np.nan),) * 2)
            out[f"ci_lower_{name}"], out[f"ci_upper_{name}"] = lo, hi
        for j, o in enumerate(options):
            if j == ref:
                continue
            name = option_name(o)
            out[f"benefit_{name}"] = (point[o] - point[options[ref]]).to_numpy()
            if draws is not None:
                lo, hi = np.percentile(draws[:, :, j] - draws[:, :, ref], q, axis=0)
            else:
                lo = hi = np.full(len(X), np.nan)
            out[f"benefit_ci_lower_{name}"], out[f"benefit_ci_upper_{name}"] = lo, hi
        out["preferred_option"] = preferred_options(
            out, options, str(self.reference),
            evidence=self.evidence if evidence is None else evidence)
        out["in_common_support"] = self.in_support(X)
        return out


def preferred_options(table: pd.DataFrame, options: Sequence[str], reference: str, *,
                      evidence=True) -> list[str]:
    """The option with the highest probability when its benefit interval excludes 0.

    For a non-reference option to be preferred its benefit over the reference must have an
    interval above 0; the reference is preferred when every other option's interval lies
    below 0.  Otherwise :data:`NO_CLEAR_DIFFERENCE`.

    ``evidence`` (True, False, None or a mapping of non-reference option to bool) says for
    which comparisons the validation found that the model separates who benefits: only
    those options take part; with none (False, None, or all False) every row is
    :data:`NO_EVIDENCE`.

    Examples
    --------
    >>> t = pd.DataFrame({"probability_a": [0.3, 0.5, 0.6], "probability_b": [0.5, 0.3, 0.62],
    ...                   "benefit_ci_lower_b": [0.05, -0.3, -0.05],
    ...                   "benefit_ci_upper_b": [0.3, -0.1, 0.1]})
    >>> preferred_options(t, ["a", "b"], "a")
    ['b', 'a', 'no clear difference']
    >>> preferred_options(t, ["a", "b"], "a", evidence={"b": False})[0]
    'no evidence that the options differ for this patient'
    """
    others = [str(o) for o in options if str(o) != str(reference)]
    if isinstance(evidence, Mapping):
        others = [o for o in others if evidence.get(o, False)]
    elif not evidence:
        others = []
    if not others:
        return [NO_EVIDENCE] * len(table)
    names = {o: option_name(o) for o in options}
    out = []
    for _, row in table.iterrows():
        better = [o for o in others if row[f"benefit_ci_lower_{names[o]}"] > 0]
        if better:
            out.append(max(better, key=lambda o: row[f"probability_{names[o]}"]))
        elif all(row[f"benefit_ci_upper_{names[o]}"] < 0 for o in others):
            out.append(reference)
        else:
            out.append(NO_CLEAR_DIFFERENCE)
    return out
