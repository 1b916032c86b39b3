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
  (:class:`analysis.regression.splines.RestrictedCubicSpline`) -> standardisation;
* binary: most-frequent imputation, kept as 0/1 (not standardised, so a coefficient is
  the contrast with 0);
* categorical: most-frequent imputation -> one-hot coding with the codebook levels,
  dropping the first (reference) level; unseen levels code as the reference
  (``handle_unknown="ignore"``).  Columns are named like ``sex[male]``.

Imputation choice: single median / most-frequent imputation fitted inside the pipeline
(not ``IterativeImputer``).  It is deterministic, cheap enough to repeat in thousands of
resampled fits, and what a deployed model does for a new patient with a missing value.
Multiple imputation (:mod:`analysis.regression.imputation`) serves the inferential regression
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
* ``flexible_logistic`` [2] - the default reference: ridge logistic regression with
  restricted cubic splines for every continuous predictor, automatic logs of right-skewed
  labs and the study's pre-specified interactions, penalty tuned by inner CV
  (:mod:`analysis.models.flexible`; it has its own design, not :func:`build_preprocessor`);
* ``random_forest`` [3] - :class:`~sklearn.ensemble.RandomForestClassifier`, tuned on its
  out-of-bag log loss (:class:`OOBTunedForest`);
* ``gradient_boosting`` [3] - :class:`~sklearn.ensemble.HistGradientBoostingClassifier`;
* ``svm`` [3] - RBF :class:`~sklearn.svm.SVC` with Platt scaling (below);
* ``mlp`` [4] - one-hidden-layer :class:`~sklearn.neural_network.MLPClassifier`;
* clinical scores [0] - :class:`FixedScoreClassifier`, a published score recalibrated.

Penalised logistic models count as simple (rank 1, like the reference) because they are
additive on the logit scale with the same terms; the flexible model spends more degrees
of freedom (nonlinear terms, interactions), so it ranks between them and the learners.  A fixed clinical score with only a
recalibration intercept and slope is the simplest candidate (rank 0), so the one-SE rule
prefers it whenever the new models do not beat it by more than one standard error.

SVM probabilities: :class:`~sklearn.calibration.CalibratedClassifierCV` with
``method="sigmoid"`` and ``ensemble=False`` around an RBF ``SVC`` - Platt scaling fitted
on cross-validated decision values, which is what ``SVC(probability=True)`` did
internally (that flag is deprecated from scikit-learn 1.9) but with a seeded,
stratified split, so the probabilities are reproducible.

The clinical score :func:`vedolizumab_cdst` (Dulai et al. 2018) is available as a model
through :data:`CLINICAL_SCORES` and :func:`clinical_score_spec`.

The phenotype as a candidate predictor (study.yaml ``phenotypes: {candidate_predictor:
true}``): ``model_zoo(..., phenotype=PhenotypeFeatures(...))`` puts
:class:`analysis.models.phenotype.PhenotypeFeatures` first in every zoo model's ``preprocess``
step (refitted with the model in every training set) and adds its ``phenotype`` column to the
design as a categorical predictor (class 1, the largest, is the reference).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.model_selection import StratifiedKFold
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

from analysis.errors import AnalysisError
from analysis.indices.scores import CDST_COLUMNS, vedolizumab_cdst
from analysis.models.estimators import FixedScoreClassifier, OOBTunedForest, logistic_model
from analysis.models.flexible import DEFAULT_ALPHAS, FlexibleBasis, RidgeLogisticCV
from analysis.models.phenotype import PhenotypeFeatures, phenotype_codebook_entry
from analysis.models.preprocessing import build_preprocessor
from analysis.study.settings import LARGE_COHORT

__all__ = [
    "CLINICAL_SCORES",
    "COMPLEXITY",
    "MODEL_NAMES",
    "FixedScoreClassifier",
    "ModelSpec",
    "LARGE_COHORT_GRIDS",
    "LARGE_COHORT_LIMITS",
    "LARGE_COHORT_PARAMS",
    "OOBTunedForest",
    "build_preprocessor",
    "clinical_score_spec",
    "flexible_variables",
    "large_cohort_rule",
    "model_zoo",
    "vedolizumab_cdst",
]

#: Names of the zoo's models, in the order :func:`model_zoo` returns them.
MODEL_NAMES = (
    "intercept_only",
    "logistic",
    "lasso",
    "elastic_net",
    "flexible_logistic",
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
    "flexible_logistic": 2,
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
    "flexible_logistic": "Penalised logistic regression with splines (rms-style)",
    "random_forest": "Random forest",
    "gradient_boosting": "Gradient boosting (histogram)",
    "svm": "Support vector machine (RBF, Platt-scaled)",
    "mlp": "Neural network (one hidden layer)",
}



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


# ---------------------------------------------------------------------------
# The zoo
# ---------------------------------------------------------------------------


def _zoo_estimators(seed: int, smoke: bool) -> dict[str, tuple[Any, dict]]:
    if smoke:
        c_grid = [0.1, 1.0]
        return {
            "intercept_only": (DummyClassifier(strategy="prior"), {}),
            "logistic": (logistic_model("none", seed), {}),
            "lasso": (logistic_model("l1", seed), {"model__C": c_grid}),
            "elastic_net": (
                logistic_model("elasticnet", seed),
                {"model__C": c_grid, "model__l1_ratio": [0.5]},
            ),
            "flexible_logistic": (
                RidgeLogisticCV(alphas=DEFAULT_ALPHAS[::4], nonlinear_ratios=(1.0, 16.0),
                                inner_splits=3, random_state=seed),
                {},
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
        "logistic": (logistic_model("none", seed), {}),
        "lasso": (logistic_model("l1", seed), {"model__C": c_grid}),
        "elastic_net": (
            logistic_model("elasticnet", seed),
            {"model__C": c_grid[::2] + [c_grid[-1]], "model__l1_ratio": [0.2, 0.5, 0.8]},
        ),
        # the penalty is tuned inside fit along a warm-started path (inner 5-fold log loss)
        "flexible_logistic": (RidgeLogisticCV(inner_splits=5, random_state=seed), {}),
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
    interactions: Iterable[Iterable[str]] | None = None,
    phenotype: PhenotypeFeatures | None = None,
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
      {0.1, 1, 10};
    * flexible logistic: the ridge penalty from 17 values and its multiple on nonlinear and
      interaction terms from 4, tuned inside ``fit`` by 5-fold
      log loss (:class:`~analysis.models.flexible.RidgeLogisticCV`).

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
        Restricted cubic splines for numeric predictors (see :func:`build_preprocessor`);
        the flexible model makes its own.
    interactions : iterable of (str, str), optional
        Pre-specified interactions (study.yaml ``modelling.interactions``); only the
        flexible model uses them.
    phenotype : PhenotypeFeatures, optional
        The phenotype as a candidate predictor (:mod:`analysis.models.phenotype`): every zoo
        model's ``preprocess`` step becomes ``Pipeline([("phenotype", PhenotypeFeatures),
        ("design", ...)])``, refitted with the model, and its design gets the phenotype as a
        categorical predictor after ``predictors``.  The models then take a DataFrame of
        ``predictors`` plus the phenotype variables that are not predictors.

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
    pairs = [tuple(pair) for pair in (interactions or ())]
    zoo: dict[str, ModelSpec] = {}
    design, design_codebook = predictors, codebook
    if phenotype is not None:
        if not isinstance(phenotype, PhenotypeFeatures):
            raise AnalysisError(f"phenotype: expected a PhenotypeFeatures, got {phenotype!r}")
        design = [*predictors, phenotype.column]
        design_codebook = {**codebook,
                           phenotype.column: phenotype_codebook_entry(phenotype.n_classes)}
    for name in MODEL_NAMES:
        if name not in names:
            continue
        estimator, grid = estimators[name]
        if name == "flexible_logistic":
            pre = FlexibleBasis(flexible_variables(design_codebook, design), interactions=pairs)
        else:
            pre = build_preprocessor(design_codebook, design, splines=splines)
        if phenotype is not None:
            pre = Pipeline([("phenotype", clone(phenotype).set_params(predictors=predictors)),
                            ("design", pre)])
        pipe = Pipeline([("preprocess", pre), ("model", estimator)])
        zoo[name] = ModelSpec(name, _LABELS[name], pipe, dict(grid), COMPLEXITY[name])
    for spec in _extra_specs(extra, predictors):
        if spec.name in zoo:
            raise AnalysisError(f"extra: model name '{spec.name}' is already in the zoo")
        zoo[spec.name] = spec
    return zoo


def flexible_variables(codebook: Mapping[str, Mapping], predictors: Iterable[str]) -> dict:
    """The codebook entries :class:`FlexibleBasis` needs (type, levels, transform), in order.

    Examples
    --------
    >>> flexible_variables({"crp": {"type": "numeric", "label": "CRP", "transform": "log"}},
    ...                    ["crp"])
    {'crp': {'type': 'numeric', 'transform': 'log'}}
    """
    out = {}
    for name in predictors:
        if name not in codebook:
            raise AnalysisError(f"predictor '{name}' is not in the codebook")
        spec = codebook[name]
        entry = {"type": spec.get("type")}
        if spec.get("levels") is not None:
            entry["levels"] = [str(v) for v in spec["levels"]]
        if spec.get("transform") not in (None, ""):
            entry["transform"] = str(spec["transform"])
        out[name] = entry
    return out


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


# ---------------------------------------------------------------------------
# Large cohorts
# ---------------------------------------------------------------------------

#: Largest cohort (patients with an outcome) on which each learner is still a candidate.
#: The RBF SVM's fit grows with the square of the number of patients or faster (kernel
#: matrix; measured 0.36 s at 2,000 and 6.3 s at 8,000 patients, an exponent of 2.1), so
#: it is not fitted above 10,000; the tuned random forest (4 forests of 150 trees grown on
#: every patient) takes 2 minutes per fit at 100,000 and is not fitted above 20,000.  Every
#: other model, the reference included, is always fitted.  Cohorts of the demo studies
#: (40-200 patients) are far below both limits.
LARGE_COHORT_LIMITS = {"svm": 10_000, "random_forest": 20_000}


#: Smaller tuning grids above :data:`~analysis.study.settings.LARGE_COHORT` patients (the
#: full grids are sized for cohorts of a few hundred).  With 100,000 patients the inner
#: log loss of neighbouring grid points differs in the fourth decimal (lasso: C = 0.027 to
#: 0.19 chosen, inner log loss 0.5918-0.5931), so every other value of C, and the middle
#: l1 ratio of the elastic net, lose nothing measurable while each grid point costs a saga
#: fit on every inner training set.
LARGE_COHORT_GRIDS = {
    "lasso": {"model__C": [0.0268, 0.1931, 1.3895, 10.0]},
    "elastic_net": {"model__C": [0.0268, 0.1931, 1.3895, 10.0], "model__l1_ratio": [0.5]},
}
#: Estimator settings above :data:`~analysis.study.settings.LARGE_COHORT` patients, with the
#: sentence the notebook shows.  The flexible model's penalty path is refitted on every
#: inner fold for every penalty ratio (14 s per fit at 100,000 patients with 3 inner folds,
#: 8 s with 2 ratios, about 5 s with the 11 weaker penalties as well).  At this size the
#: optimal ridge penalty is far below the strong end of the path (a 100,000-patient nested
#: CV chose 0.0001-0.0002 per patient and a ratio of 1 or 4 in every fold).
LARGE_COHORT_PARAMS = {
    "flexible_logistic": {"model__inner_splits": 3, "model__alphas": DEFAULT_ALPHAS[6:],
                          "model__nonlinear_ratios": (1.0, 4.0)},
}
_PARAM_NOTES = {
    "flexible_logistic": (
        "chooses its ridge penalty by 3 inner folds instead of 5, among the 11 weaker of its 17 "
        "penalties ({high:.2g} to {low:g} per patient; the 6 stronger ones shrink every coefficient "
        "by about half or more, far from the optimum at this size) and with a penalty ratio on "
        "nonlinear and interaction terms of 1 or 4 instead of 1, 4, 16 or 64"),
}


def _grid_text(grid: Mapping[str, Iterable]) -> str:
    sizes = [(len(list(v)), k.split("__")[-1]) for k, v in grid.items()]
    return " x ".join(f"{n} value{'s' * (n != 1)} of {name}" for n, name in sizes)


def large_cohort_rule(models: Mapping[str, ModelSpec], n_patients: int
                      ) -> tuple[dict[str, ModelSpec], list[str]]:
    """Drop or lighten the learners whose cost does not scale on large cohorts.

    * a learner in :data:`LARGE_COHORT_LIMITS` is dropped above its limit;
    * above :data:`~analysis.study.settings.LARGE_COHORT` patients a learner in
      :data:`LARGE_COHORT_GRIDS` is tuned over that smaller grid and one in
      :data:`LARGE_COHORT_PARAMS` gets those estimator settings (a copy of the pipeline;
      the caller's spec is not changed).

    Parameters
    ----------
    models : mapping of str to ModelSpec
        The candidate models (:func:`model_zoo`, plus clinical scores).
    n_patients : int
        Patients the models are fitted on (those with an outcome).

    Returns
    -------
    models : dict of str to ModelSpec
        ``models`` unchanged (same objects, same order) except the dropped and lightened
        ones; at or below the smallest limit (every demo study) exactly ``models``.
    notes : list of str
        One sentence per dropped or lightened model, for the notebook; empty when nothing
        changes.

    Examples
    --------
    >>> cb = {"age": {"type": "numeric"}}
    >>> zoo = model_zoo(cb, ["age"], smoke=True, include=["logistic", "svm"])
    >>> kept, notes = large_cohort_rule(zoo, 200)
    >>> list(kept), notes
    (['logistic', 'svm'], [])
    >>> kept, notes = large_cohort_rule(zoo, 50_000)
    >>> list(kept)
    ['logistic']
    >>> print(notes[0])
    Support vector machine (RBF, Platt-scaled) is not fitted: 50,000 patients is above its limit of 10,000 (its fit is too costly at this size; analysis.models.zoo.LARGE_COHORT_LIMITS).
    >>> kept, notes = large_cohort_rule(model_zoo(cb, ["age"], include=["lasso"]), 50_000)
    >>> kept["lasso"].param_grid["model__C"]
    [0.0268, 0.1931, 1.3895, 10.0]
    """
    kept, notes = {}, []
    large = n_patients > LARGE_COHORT
    for name, spec in models.items():
        limit = LARGE_COHORT_LIMITS.get(name)
        if limit is not None and n_patients > limit:
            notes.append(f"{spec.label} is not fitted: {n_patients:,} patients is above its limit "
                         f"of {limit:,} (its fit is too costly at this size; "
                         "analysis.models.zoo.LARGE_COHORT_LIMITS).")
            continue
        grid, params = LARGE_COHORT_GRIDS.get(name), LARGE_COHORT_PARAMS.get(name)
        if (large and grid is not None and set(grid) == set(spec.param_grid)
                and _grid_size(grid) < _grid_size(spec.param_grid)):
            notes.append(f"{spec.label} is tuned over {_grid_text(grid)} instead of "
                         f"{_grid_text(spec.param_grid)}: with {n_patients:,} patients neighbouring "
                         "values give practically the same inner log loss "
                         "(analysis.models.zoo.LARGE_COHORT_GRIDS).")
            spec = ModelSpec(spec.name, spec.label, spec.pipeline, dict(grid), spec.complexity)
        if large and params is not None and _has_params(spec.pipeline, params):
            pipeline = clone(spec.pipeline).set_params(**params)
            notes.append(f"{spec.label} " + _PARAM_NOTES[name].format(
                low=min(DEFAULT_ALPHAS[6:]), high=max(DEFAULT_ALPHAS[6:]))
                + f": with {n_patients:,} patients the data, not the penalty, decide the fit "
                "(analysis.models.zoo.LARGE_COHORT_PARAMS).")
            spec = ModelSpec(spec.name, spec.label, pipeline, spec.param_grid, spec.complexity)
        kept[name] = spec
    return kept, notes


def _grid_size(grid: Mapping[str, Iterable]) -> int:
    return int(np.prod([len(list(v)) for v in grid.values()])) if grid else 0


def _has_params(pipeline, params: Mapping[str, Any]) -> bool:
    try:
        current = pipeline.get_params()
    except AttributeError:
        return False
    return all(k in current and current[k] != v for k, v in params.items())
