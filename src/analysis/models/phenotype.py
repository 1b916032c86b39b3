"""The data-driven phenotype as a candidate predictor, refitted inside every model pipeline.

When study.yaml declares ``phenotypes: {candidate_predictor: true}``, every model of the zoo
receives the patient's latent class (the phenotype of notebook 09) beside the predictors,
and the model's own selection or penalty decides what it is worth.

:class:`PhenotypeFeatures` is the scikit-learn transformer that does it: fitted on a
training set, it fits the latent class model of mixed-type data
(:class:`analysis.regression.latent_classes.PhenotypeModel`, a
:class:`~analysis.regression.mixture.LatentClassMixture` with Gaussian and categorical
margins; missing values drop out of a patient's likelihood, no imputation) with a *fixed*
number of classes on the declared phenotype variables, and adds one categorical column,
``phenotype``, holding each patient's most probable class. It sits first in the model's
``preprocess`` step, so cross-validation and the bootstrap refit it on every training set
(nothing leaks from held-out patients) and the saved model carries it.

Why the most probable class, one-hot coded with the reference class dropped, rather than
the posterior class probabilities: the phenotype enters as what it is described as in
notebook 09 (one class per patient, the same labels), a regression coefficient is then the
contrast of a phenotype with the largest one, the model's preprocessing treats it as any
categorical predictor (one indicator per non-reference class in every model of the zoo, the
flexible model included), and the class probabilities are compositional (they sum to 1, so
one would be dropped anyway) and nearly 0/1 for well-separated classes. Classes are numbered
``1..k`` in the canonical order of :class:`~analysis.regression.latent_classes.PhenotypeModel`
(decreasing size, then class weight), so a fixed seed gives identical labels and a refit on
similar data the same labels where the classes are the same; class ``1`` (the largest) is
the reference.

The number of classes is fixed before any model is fitted (:func:`choose_phenotype_classes`):
``phenotypes.k`` when study.yaml declares it, otherwise the minimum BIC among
``k = 2..max_clusters`` of the latent class model fitted once on the phenotype variables of
the modelling cohort, without the outcome (unsupervised; ``k = 1`` is not a phenotype).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from analysis.errors import AnalysisError
from analysis.regression.latent_classes import PhenotypeModel, bic_by_classes, check_variables

__all__ = [
    "PHENOTYPE_COLUMN",
    "PhenotypeChoice",
    "PhenotypeFeatures",
    "choose_phenotype_classes",
    "phenotype_codebook_entry",
]

#: Name of the column :class:`PhenotypeFeatures` adds (and of its codebook entry).
PHENOTYPE_COLUMN = "phenotype"


def phenotype_codebook_entry(n_classes: int) -> dict:
    """The codebook entry of the phenotype column: categorical, levels ``"1".."k"`` (1 = reference).

    Examples
    --------
    >>> phenotype_codebook_entry(3)
    {'type': 'categorical', 'levels': ['1', '2', '3'], 'label': 'Phenotype (latent class)'}
    """
    return {"type": "categorical", "levels": [str(c) for c in range(1, int(n_classes) + 1)],
            "label": "Phenotype (latent class)"}


class PhenotypeFeatures(TransformerMixin, BaseEstimator):
    """Adds each patient's latent class (phenotype) to the predictors, as a categorical column.

    Parameters
    ----------
    variables : sequence of str
        The phenotype variables (columns of ``X``; numeric, integer, binary or categorical).
    codebook : Mapping[str, Mapping]
        Codebook entries of ``variables`` (type, levels, transform).
    n_classes : int
        Number of latent classes ``k`` (at least 2), fixed.
    predictors : sequence of str, optional
        Columns of ``X`` passed on beside the phenotype, in order. Default: all columns of
        ``X``; a phenotype variable left out here is used only through the phenotype.
    column : str, default "phenotype"
        Name of the added column.
    seed : int, default 0
        Seeds the EM starts.
    n_init : int, default 10
        EM starts (the best likelihood is kept).

    Attributes
    ----------
    model_ : PhenotypeModel
        The latent class model fitted on the training rows.
    levels_ : list of str
        The phenotype's levels, ``"1".."k"``.
    class_sizes_ : numpy.ndarray
        Training patients per class (class 1 first).
    predictors_ : list of str
        The columns passed on.
    feature_names_in_ : numpy.ndarray
        Columns of the training ``X``.
    n_features_in_ : int

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"crp": np.r_[rng.normal(2, .3, 30), rng.normal(6, .3, 20)],
    ...                   "rf": np.r_[np.ones(30), np.zeros(20)], "age": rng.normal(50, 9, 50)})
    >>> book = {"crp": {"type": "numeric"}, "rf": {"type": "binary"}}
    >>> pf = PhenotypeFeatures(["crp", "rf"], book, 2, predictors=["age", "crp"]).fit(X)
    >>> pf.get_feature_names_out().tolist(), pf.class_sizes_.tolist()
    (['age', 'crp', 'phenotype'], [30, 20])
    >>> pf.transform(X.iloc[[0, 40]])["phenotype"].tolist()
    ['1', '2']
    """

    def __init__(self, variables: Sequence[str], codebook: Mapping[str, Mapping], n_classes: int,
                 *, predictors: Sequence[str] | None = None, column: str = PHENOTYPE_COLUMN,
                 seed: int = 0, n_init: int = 10):
        self.variables = variables
        self.codebook = codebook
        self.n_classes = n_classes
        self.predictors = predictors
        self.column = column
        self.seed = seed
        self.n_init = n_init

    def _check_frame(self, X) -> pd.DataFrame:
        if not isinstance(X, pd.DataFrame):
            raise AnalysisError(f"PhenotypeFeatures: X must be a pandas DataFrame, got "
                                f"{type(X).__name__}")
        return X

    def fit(self, X, y=None) -> PhenotypeFeatures:
        """Fit the latent class model on ``X``'s phenotype variables (``y`` is ignored)."""
        X = self._check_frame(X)
        k = self.n_classes
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 2:
            raise AnalysisError(f"n_classes: must be an integer of at least 2, got {k!r}")
        names = check_variables(X, self.variables, self.codebook)
        keep = list(X.columns) if self.predictors is None else list(self.predictors)
        absent = [c for c in keep if c not in X.columns]
        if absent:
            raise AnalysisError(f"predictors: {absent} are not columns of X")
        if self.column in keep:
            raise AnalysisError(f"column: {self.column!r} is already an input column")
        self.model_ = PhenotypeModel(names, {n: self.codebook[n] for n in names}, k=int(k),
                                     seed=self.seed, n_init=self.n_init).fit(X)
        self.levels_ = [str(c) for c in range(1, int(k) + 1)]
        self.class_sizes_ = np.bincount(self.model_.labels_, minlength=int(k) + 1)[1:]
        self.predictors_ = keep
        self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def _check_fitted(self):
        if not hasattr(self, "model_"):
            raise AnalysisError("PhenotypeFeatures: call fit before transform")

    def class_probabilities(self, X) -> np.ndarray:
        """Posterior probability of each class (column ``c - 1`` is class ``c``), shape ``(n, k)``."""
        self._check_fitted()
        return self.model_.predict_proba(self._check_frame(X))

    def transform(self, X) -> pd.DataFrame:
        """``X``'s ``predictors_`` and the ``column`` of most probable classes (``"1".."k"``)."""
        self._check_fitted()
        X = self._check_frame(X)
        labels = self.model_.predict(X)
        out = X[self.predictors_].copy()
        out[self.column] = pd.Series([str(c) for c in labels], index=X.index, dtype=object)
        return out

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """The output columns: ``predictors_`` and ``column``."""
        self._check_fitted()
        return np.asarray([*self.predictors_, self.column], dtype=object)


@dataclass(frozen=True)
class PhenotypeChoice:
    """The phenotype offered to the models: its variables, its number of classes and why.

    Attributes
    ----------
    variables : tuple of str
        The phenotype variables.
    n_classes : int
        Number of latent classes.
    source : str
        How ``n_classes`` was fixed (declared, or the BIC rule and its cohort).
    bic : pandas.DataFrame or None
        :func:`~analysis.regression.latent_classes.bic_by_classes` when chosen by BIC.
    """

    variables: tuple[str, ...]
    n_classes: int
    source: str
    bic: pd.DataFrame | None = None

    def features(self, codebook: Mapping[str, Mapping], *, predictors: Sequence[str] | None = None,
                 seed: int = 0, n_init: int = 10) -> PhenotypeFeatures:
        """The unfitted :class:`PhenotypeFeatures` of this choice."""
        return PhenotypeFeatures(list(self.variables), {n: dict(codebook[n]) for n in self.variables},
                                 self.n_classes,
                                 predictors=None if predictors is None else list(predictors),
                                 seed=seed, n_init=n_init)

    def describe(self, predictors: Sequence[str] = ()) -> str:
        """A methods sentence: what joins the models, how many classes and why.

        Examples
        --------
        >>> PhenotypeChoice(("rf", "crp"), 3, "declared in study.yaml (phenotypes.k)").describe(["crp"])[:60]
        'The phenotype (latent class of rf, crp; 3 classes, declared '
        """
        only = [v for v in self.variables if v not in set(predictors)]
        return (f"The phenotype (latent class of {', '.join(self.variables)}; {self.n_classes} "
                f"classes, {self.source}) is a candidate predictor of every model: the latent "
                "class model is refitted inside every training set of the cross-validation and "
                "the bootstrap, and its most probable class enters as a categorical predictor "
                "(class 1, the largest, is the reference), so each model's selection or penalty "
                "decides its value."
                + (f" {', '.join(only)} {'is' if len(only) == 1 else 'are'} used only through "
                   "the phenotype (not predictors themselves) and are inputs of the saved model."
                   if only else ""))


def choose_phenotype_classes(frame: pd.DataFrame, variables: Sequence[str],
                             codebook: Mapping[str, Mapping], *, k: int | None = None,
                             max_clusters: int = 6, seed: int = 0,
                             n_init: int = 10) -> PhenotypeChoice:
    """Fix the number of phenotype classes before any model is fitted.

    ``k`` when given (study.yaml ``phenotypes.k``); otherwise the minimum BIC among
    ``k = 2..max_clusters`` (at most the number of patients) of the latent class model
    fitted on ``frame``'s phenotype variables only: the outcome never enters.

    Parameters
    ----------
    frame : pandas.DataFrame
        The modelling cohort (one row per patient).
    variables : sequence of str
        The phenotype variables.
    codebook : Mapping[str, Mapping]
        Their codebook entries.
    k : int, optional
        The declared number of classes (at least 2).
    max_clusters : int, default 6
        Largest number of classes tried by BIC.
    seed, n_init : int
        Seed and number of the EM starts.

    Returns
    -------
    PhenotypeChoice

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"x": np.r_[rng.normal(0, 1, 40), rng.normal(8, 1, 40)],
    ...                    "b": np.r_[np.ones(40), np.zeros(40)]})
    >>> book = {"x": {"type": "numeric"}, "b": {"type": "binary"}}
    >>> choose_phenotype_classes(df, ["x", "b"], book, max_clusters=4).n_classes
    2
    >>> choose_phenotype_classes(df, ["x", "b"], book, k=3).source
    'declared in study.yaml (phenotypes.k)'
    """
    names = check_variables(frame, variables, codebook)
    if k is not None:
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 2 <= k <= len(frame):
            raise AnalysisError(f"phenotypes.k: must be an integer from 2 to the number of "
                                f"patients ({len(frame)}), got {k!r}")
        return PhenotypeChoice(tuple(names), int(k), "declared in study.yaml (phenotypes.k)")
    top = min(int(max_clusters), len(frame))
    if top < 2:
        raise AnalysisError(f"max_clusters: need at least 2 classes to try, got {max_clusters!r}")
    table = bic_by_classes(frame, names, codebook, k_range=range(2, top + 1), seed=seed,
                           n_init=n_init)
    source = (f"the minimum BIC among k = 2 to {top} of the latent class model fitted once on "
              f"the phenotype variables of the {len(frame)} patients, without the outcome")
    return PhenotypeChoice(tuple(names), table.attrs["k"], source, table)
