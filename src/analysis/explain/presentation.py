"""Paper presentation of a fitted regression-based model: terms, equation, nomogram points.

A logistic model of the zoo (``logistic``, ``lasso``, ``elastic_net``: a
:func:`~analysis.models.preprocessing.build_preprocessor` ColumnTransformer and a
:class:`~sklearn.linear_model.LogisticRegression`; ``flexible_logistic``: a
:class:`~analysis.models.flexible.FlexibleBasis` and a
:class:`~analysis.models.flexible.RidgeLogisticCV`), possibly wrapped in a
:class:`~analysis.models.recalibration.RecalibratedClassifier`, is a sum on the log-odds
scale:

    ``logit P(y = 1) = a + b · (b0 + Σ_j β_j · (z_j(x) − m_j) / s_j)``

with ``z_j`` a design column (a transformed predictor, a restricted cubic spline term, a
0/1 indicator, or a centred product of two of them), ``m_j, s_j`` its training mean and
scale, and ``a, b`` the recalibration (``0, 1`` without one).

* :func:`linear_predictor_terms` - the model as an intercept plus one contribution per
  predictor (and per pre-specified interaction), each a function evaluated by the
  pipeline's own ``transform``;
* :func:`equation_terms` - every design column as data (transform, imputation fill,
  spline knots, indicator level, centring, coefficient): what :func:`model_equation`
  writes out and what a reader can re-compute the linear predictor from;
* :func:`model_equation` - the equation as markdown text;
* :func:`nomogram_points` and :func:`patient_points` - the ``rms::nomogram`` construction
  (drawn by :func:`analysis.plots.nomogram.plot_nomogram`).

Nomograms of models with interactions draw, as ``rms::nomogram`` does, one axis of the
interacting predictor per level of its (binary, categorical or few-valued integer) partner,
so that a patient's total points still give the linear predictor exactly; an interaction of
two continuous predictors is refused (the equation and the term table handle it).

The recalibration clips the model's probability to ``[PROB_CLIP, 1 − PROB_CLIP]`` before
taking its logit, so the additive decomposition of a recalibrated model holds for linear
predictors within ``±logit(1 − PROB_CLIP)`` (about ±13.8), i.e. for every probability
that is not practically 0 or 1.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from analysis.errors import AnalysisError
from analysis.models.estimators import AsString, ClippedLog, Log1pTransform, SqrtNonNegative
from analysis.models.flexible import FlexibleBasis, RidgeLogisticCV
from analysis.models.recalibration import RecalibratedClassifier
from analysis.regression.splines import RestrictedCubicSpline
from analysis.validators import PROB_CLIP

__all__ = [
    "PROBABILITY_TICKS",
    "equation_terms",
    "linear_predictor_terms",
    "model_equation",
    "nomogram_points",
    "patient_points",
]

NUMERIC_TYPES = ("numeric", "integer")
#: Probability ticks of the nomogram (those within the range of total points are kept).
PROBABILITY_TICKS = (0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
#: Evaluation points per numeric predictor when its contribution range is searched.
GRID_POINTS = 401


# --------------------------------------------------------------------------- unpacking


def _unpack(pipeline):
    """(preprocess, model, recalibration dict or None) of a supported fitted pipeline."""
    recal = None
    inner = pipeline
    if isinstance(pipeline, RecalibratedClassifier):
        recal = {"intercept": float(pipeline.intercept), "slope": float(pipeline.slope),
                 "clip": PROB_CLIP}
        inner = pipeline.estimator
    steps = dict(getattr(inner, "named_steps", {}) or {})
    pre, model = steps.get("preprocess"), steps.get("model")
    supported = (isinstance(inner, Pipeline) and len(steps) == 2 and (
        (isinstance(pre, FlexibleBasis) and isinstance(model, RidgeLogisticCV))
        or (isinstance(pre, ColumnTransformer) and isinstance(model, LogisticRegression))))
    if not supported:
        kind = type(model).__name__ if model is not None else type(inner).__name__
        raise AnalysisError(
            f"paper presentation needs a fitted regression pipeline (preprocess: FlexibleBasis "
            f"+ model: RidgeLogisticCV, or preprocess: ColumnTransformer + model: "
            f"LogisticRegression, optionally recalibrated); got model type {kind}")
    if not hasattr(model, "coef_"):
        raise AnalysisError("paper presentation needs a fitted pipeline (call fit first)")
    if np.asarray(model.coef_).shape[0] != 1 or list(model.classes_) != [0, 1]:
        raise AnalysisError("paper presentation needs a binary 0/1 logistic model")
    return pre, model, recal


def _factor(predictor, kind, *, transform="none", floor=None, fill=None, basis="linear",
            knots=(), index=0, level=None, centre=0.0) -> dict:
    return {"predictor": predictor, "type": kind, "transform": transform, "floor": floor,
            "fill": fill, "basis": basis, "knots": [float(k) for k in knots],
            "index": int(index), "level": level, "centre": float(centre)}


def _flexible_columns(basis: FlexibleBasis) -> list[dict]:
    """Per design column of a FlexibleBasis: name, predictors and factors (unscaled)."""
    out, linear = [], {}
    for entry in basis.plan_:
        name, kind = entry["predictor"], entry["type"]
        if kind in NUMERIC_TYPES:
            floor = {"log": entry["floor"], "log1p": 0.0, "sqrt": 0.0}.get(entry["transform"])
            common = dict(transform=entry["transform"], floor=floor, fill=entry["fill"])
            if entry["knots"]:
                for j in range(len(entry["knots"]) - 1):
                    out.append({"column": name + "'" * j, "predictors": (name,), "factors": [
                        _factor(name, kind, basis="rcs", knots=entry["knots"], index=j,
                                **common)]})
            else:
                out.append({"column": name, "predictors": (name,),
                            "factors": [_factor(name, kind, **common)]})
            linear[name] = [_factor(name, kind, **common)]
        elif kind == "binary":
            f = _factor(name, kind, fill=entry["fill"], basis="binary")
            out.append({"column": name, "predictors": (name,), "factors": [f]})
            linear[name] = [f]
        else:
            linear[name] = []
            for level in entry["levels"][1:]:
                f = _factor(name, kind, fill=entry["fill"], basis="indicator", level=level)
                out.append({"column": f"{name}[{level}]", "predictors": (name,), "factors": [f]})
                linear[name].append(f)
    for a, b in basis.interactions or ():
        for fa, ca in zip(linear[a], basis.centres_[a], strict=True):
            for fb, cb in zip(linear[b], basis.centres_[b], strict=True):
                pair = [dict(fa, centre=float(ca)), dict(fb, centre=float(cb))]
                out.append({"column": None, "predictors": (a, b), "factors": pair})
    names = list(basis.feature_names_out_)
    if len(names) != len(out):
        raise AnalysisError("FlexibleBasis: design columns do not match its plan")
    for col, name, m, s in zip(out, names, basis.mean_, basis.scale_, strict=True):
        col.update(column=name, mean=float(m), scale=float(s))
    return out


def _numeric_group(trans, cols, codebook) -> list[dict]:
    steps = list(trans.named_steps.items()) if isinstance(trans, Pipeline) else [("", trans)]
    transform, floors, fills, knots, mean, scale = "none", None, None, None, None, None
    for _, step in steps:
        if isinstance(step, ClippedLog):
            transform, floors = "log", [float(v) for v in step.floor_]
        elif isinstance(step, Log1pTransform):
            transform, floors = "log1p", [None] * len(cols)
        elif isinstance(step, SqrtNonNegative):
            transform, floors = "sqrt", [0.0] * len(cols)
        elif isinstance(step, SimpleImputer):
            fills = [float(v) for v in step.statistics_]
        elif isinstance(step, RestrictedCubicSpline):
            knots = [float(v) for v in step.knots_]
        elif isinstance(step, StandardScaler):
            mean = np.asarray(step.mean_ if step.with_mean else np.zeros(step.n_features_in_))
            scale = np.asarray(step.scale_ if step.with_std else np.ones(step.n_features_in_))
        else:
            raise AnalysisError(f"paper presentation: unsupported preprocessing step "
                                f"{type(step).__name__}")
    floors = floors or [None] * len(cols)
    fills = fills or [None] * len(cols)
    out = []
    for i, name in enumerate(cols):
        kind = (codebook or {}).get(name, {}).get("type", "numeric")
        common = dict(transform=transform, floor=floors[i], fill=fills[i])
        if knots:
            for j in range(len(knots) - 1):
                out.append({"column": name + "'" * j, "predictors": (name,), "factors": [
                    _factor(name, kind, basis="rcs", knots=knots, index=j, **common)]})
        else:
            out.append({"column": name, "predictors": (name,),
                        "factors": [_factor(name, kind, **common)]})
    m = np.zeros(len(out)) if mean is None else mean
    s = np.ones(len(out)) if scale is None else scale
    for col, mj, sj in zip(out, m, s, strict=True):
        col.update(mean=float(mj), scale=float(sj))
    return out


def _categorical_group(trans, cols) -> list[dict]:
    steps = list(trans.named_steps.values()) if isinstance(trans, Pipeline) else [trans]
    fills, encoder = [None] * len(cols), None
    for step in steps:
        if isinstance(step, SimpleImputer):
            fills = [str(v) for v in step.statistics_]
        elif isinstance(step, OneHotEncoder):
            encoder = step
        elif not isinstance(step, AsString):
            raise AnalysisError(f"paper presentation: unsupported preprocessing step "
                                f"{type(step).__name__}")
    if encoder is None or encoder.drop_idx_ is None:
        raise AnalysisError("paper presentation: categorical columns need a OneHotEncoder "
                            "dropping the reference level")
    out = []
    for i, name in enumerate(cols):
        cats = [str(c) for c in encoder.categories_[i]]
        drop = int(encoder.drop_idx_[i])
        for j, level in enumerate(cats):
            if j == drop:
                continue
            out.append({"column": f"{name}[{level}]", "predictors": (name,), "mean": 0.0,
                        "scale": 1.0, "reference": cats[drop], "factors": [
                            _factor(name, "categorical", fill=fills[i], basis="indicator",
                                    level=level)]})
    return out


def _column_transformer_columns(ct: ColumnTransformer, codebook) -> list[dict]:
    out = []
    names = [str(v) for v in ct.get_feature_names_out()]
    for key, trans, cols in ct.transformers_:
        if isinstance(trans, str) or len(cols) == 0:
            continue
        cols = [str(c) for c in cols]
        last = trans.steps[-1][1] if isinstance(trans, Pipeline) else trans
        if isinstance(last, OneHotEncoder):
            group = _categorical_group(trans, cols)
        elif isinstance(trans, SimpleImputer):  # binary columns: impute the mode, nothing else
            group = [{"column": c, "predictors": (c,), "mean": 0.0, "scale": 1.0,
                      "factors": [_factor(c, "binary", fill=float(v), basis="binary")]}
                     for c, v in zip(cols, trans.statistics_, strict=True)]
        else:
            group = _numeric_group(trans, cols, codebook)
        sl = ct.output_indices_[key]
        if [g["column"] for g in group] != names[sl]:
            raise AnalysisError(f"paper presentation: cannot map the columns of transformer "
                                f"'{key}' ({names[sl]}) to its predictors")
        out += group
    return out


def _design_columns(pre, codebook=None) -> list[dict]:
    if isinstance(pre, FlexibleBasis):
        return _flexible_columns(pre)
    return _column_transformer_columns(pre, codebook)


def _input_columns(pre) -> list[str]:
    if isinstance(pre, FlexibleBasis):
        return list(pre.variables)
    if hasattr(pre, "feature_names_in_"):
        return [str(c) for c in pre.feature_names_in_]
    return [str(c) for _, t, cols in pre.transformers_ if not isinstance(t, str) for c in cols]


def _predictors(columns: list[dict]) -> dict[str, dict]:
    """Predictor -> its first factor (type, levels...), in design order."""
    out: dict[str, dict] = {}
    for col in columns:
        for f in col["factors"]:
            out.setdefault(f["predictor"], f)
    return out


def _levels(pre, predictor: str, codebook) -> list[str]:
    if isinstance(pre, FlexibleBasis):
        for entry in pre.plan_:
            if entry["predictor"] == predictor:
                return list(entry["levels"])
    for _, trans, cols in pre.transformers_:
        if isinstance(trans, Pipeline) and isinstance(trans.steps[-1][1], OneHotEncoder):
            cols = [str(c) for c in cols]
            if predictor in cols:
                return [str(c) for c in trans.steps[-1][1].categories_[cols.index(predictor)]]
    spec = (codebook or {}).get(predictor, {})
    return [str(v) for v in spec.get("levels") or []]


# --------------------------------------------------------------------------- terms


class _Contribution:
    """Contribution of one term (one predictor, or a pair) to the linear predictor."""

    def __init__(self, pre, coef: np.ndarray, idx: list[int], predictors: tuple, kinds: tuple,
                 inputs, slope: float):
        self.pre, self.coef, self.idx, self.kinds = pre, coef, idx, kinds
        self.predictors, self.inputs, self.slope = predictors, inputs, slope

    def __call__(self, *values) -> np.ndarray:
        if len(values) != len(self.predictors):
            raise AnalysisError(f"term {' × '.join(self.predictors)} takes "
                                f"{len(self.predictors)} array(s) of values")
        arrays = [np.atleast_1d(np.asarray(v, dtype=object)) for v in values]
        n = max(a.size for a in arrays)
        frame = pd.DataFrame({c: np.full(n, np.nan) for c in self.inputs})
        for name, kind, arr in zip(self.predictors, self.kinds, arrays, strict=True):
            arr = np.broadcast_to(arr, (n,))
            if kind == "categorical":
                frame[name] = pd.Series(arr, dtype=object).where(pd.notna(arr), np.nan)
            else:
                frame[name] = pd.to_numeric(pd.Series(arr, dtype=object), errors="coerce")
        design = np.asarray(self.pre.transform(frame), dtype=float)
        return self.slope * (design[:, self.idx] @ self.coef[self.idx])


def linear_predictor_terms(pipeline, codebook: Mapping[str, Mapping] | None = None) -> pd.DataFrame:
    """The fitted model as an intercept plus one contribution per predictor, on the log-odds scale.

    ``linear predictor = intercept + Σ_predictors f_p(x_p) + Σ_pairs g_ab(x_a, x_b)``
    exactly (pairs only for the flexible model's pre-specified interactions), with
    ``f_p(x) = b · Σ_j β_j z_j(x)`` over the design columns ``z_j`` (centred and scaled,
    as the model sees them) that belong to ``p``, evaluated by the pipeline's own
    ``transform``; ``b`` is the recalibration slope (1 without one) and the intercept
    ``a + b · b0``.

    Parameters
    ----------
    pipeline : fitted Pipeline or RecalibratedClassifier
        See the module docstring for the supported models.
    codebook : mapping, optional
        Codebook entries (``label``; ``type`` of ColumnTransformer numeric columns).

    Returns
    -------
    pandas.DataFrame
        One row per term: ``term`` (``(intercept)``, the predictor, or ``a × b``),
        ``kind`` (``intercept``, the predictor type, or ``interaction``),
        ``predictors`` (tuple), ``label``, ``columns`` (tuple of design columns),
        ``levels`` (categorical levels, else empty), ``value`` (the intercept; NaN for
        other rows) and ``contribution``: a callable taking one array of values per
        predictor and returning the contributions (``None`` for the intercept).
        ``attrs``: ``model`` (type name), ``recalibration`` (dict or None), ``scale``
        (``"log-odds"``).

    Raises
    ------
    AnalysisError
        For an unsupported or unfitted model (naming its type).

    Examples
    --------
    >>> from analysis.models.zoo import model_zoo
    >>> cb = {"age": {"type": "numeric"}, "sex": {"type": "categorical", "levels": ["f", "m"]}}
    >>> X = pd.DataFrame({"age": [30.0, 40, 50, 60, 35, 45], "sex": ["f", "m"] * 3})
    >>> pipe = model_zoo(cb, ["age", "sex"], include=["logistic"])["logistic"].pipeline
    >>> terms = linear_predictor_terms(pipe.fit(X, [0, 0, 1, 1, 0, 1]), cb)
    >>> terms["term"].tolist()
    ['(intercept)', 'age', 'sex']
    >>> lp = terms["value"][0] + terms["contribution"][1]([50.0]) + terms["contribution"][2](["f"])
    >>> bool(np.isclose(lp[0], pipe.decision_function(X.iloc[[2]])[0]))
    True
    """
    pre, model, recal = _unpack(pipeline)
    columns = _design_columns(pre, codebook)
    coef = np.asarray(model.coef_, dtype=float)[0]
    b0 = float(np.asarray(model.intercept_, dtype=float).ravel()[0])
    a, b = (recal["intercept"], recal["slope"]) if recal else (0.0, 1.0)
    inputs = _input_columns(pre)
    codebook = codebook or {}
    groups: dict[tuple, list[int]] = {}
    for j, col in enumerate(columns):
        groups.setdefault(tuple(col["predictors"]), []).append(j)
    first = _predictors(columns)
    rows = [{"term": "(intercept)", "kind": "intercept", "predictors": (), "label": "Intercept",
             "columns": (), "levels": [], "value": a + b * b0, "contribution": None}]
    for preds, idx in groups.items():
        single = len(preds) == 1
        kind = first[preds[0]]["type"] if single else "interaction"
        labels = [str(codebook.get(p, {}).get("label", p)) for p in preds]
        rows.append({
            "term": " × ".join(preds), "kind": kind, "predictors": preds,
            "label": " × ".join(labels), "columns": tuple(columns[j]["column"] for j in idx),
            "levels": _levels(pre, preds[0], codebook) if kind == "categorical" else [],
            "value": np.nan,
            "contribution": _Contribution(pre, coef, idx, preds,
                                          tuple(first[p]["type"] for p in preds), inputs, b),
        })
    out = pd.DataFrame(rows)
    out.attrs.update(model=type(model).__name__, recalibration=recal, scale="log-odds")
    return out


def equation_terms(pipeline) -> list[dict]:
    """The model equation as data: the intercept, every design column, the recalibration.

    Re-computing the linear predictor needs nothing else: for each ``column`` item,
    ``z = Π_f (value_f(x) − centre_f)`` over its ``factors`` and ``lp += coef · (z −
    mean) / scale``; then ``a + b · clip(lp)`` when a ``recalibration`` item is present
    (``clip`` to ``±logit(1 − clip)``). A factor's value is, for a numeric predictor,
    ``t = g(max(x, floor))`` (``floor`` None: no clipping; ``g`` the ``transform``:
    ``log``, ``log1p``, ``sqrt`` or ``none``), ``fill`` when ``x`` is missing, and then
    ``t`` itself (``basis`` ``linear``, or ``rcs`` with ``index`` 0) or Harrell's
    restricted cubic spline term ``index`` (1, 2, ...) at ``knots``
    (:func:`analysis.regression.splines.rcs_basis`); for a ``binary`` one ``x`` (or
    ``fill``); for an ``indicator`` 1 if ``str(x) == level`` (missing: ``fill``) else 0.

    Parameters
    ----------
    pipeline : fitted Pipeline or RecalibratedClassifier

    Returns
    -------
    list of dict
        ``{"kind": "intercept", "coef": b0}``, then one ``{"kind": "column", "column",
        "predictors", "coef", "mean", "scale", "factors"}`` per design column, then
        ``{"kind": "recalibration", "intercept", "slope", "clip"}`` if recalibrated.

    Examples
    --------
    >>> from analysis.models.zoo import model_zoo
    >>> cb = {"age": {"type": "numeric"}}
    >>> X = pd.DataFrame({"age": [30.0, 40, 50, 60]})
    >>> pipe = model_zoo(cb, ["age"], include=["logistic"])["logistic"].pipeline.fit(X, [0, 1, 0, 1])
    >>> [t["kind"] for t in equation_terms(pipe)]
    ['intercept', 'column']
    """
    pre, model, recal = _unpack(pipeline)
    coef = np.asarray(model.coef_, dtype=float)[0]
    out: list[dict] = [{"kind": "intercept",
                        "coef": float(np.asarray(model.intercept_, dtype=float).ravel()[0])}]
    for col, beta in zip(_design_columns(pre), coef, strict=True):
        out.append({"kind": "column", **col, "coef": float(beta)})
    if recal:
        out.append({"kind": "recalibration", **recal})
    return out


# --------------------------------------------------------------------------- equation


def _num(v: float, digits: int) -> str:
    text = f"{float(v):.{digits}g}"
    return text.replace("-", "−")


def _minus(expr: str, v: float, digits: int) -> str:
    """``expr − v`` written with one sign (``x + 0.3`` rather than ``x − −0.3``)."""
    return f"{expr} + {_num(-v, digits)}" if v < 0 else f"{expr} − {_num(v, digits)}"


def _base_expr(f: dict) -> str:
    name = f["predictor"]
    return {"log": f"log({name})", "log1p": f"log(1 + {name})",
            "sqrt": f"√{name}"}.get(f["transform"], name)


def _factor_expr(f: dict, digits: int) -> str:
    if f["basis"] == "indicator":
        expr = f"[{f['predictor']} = {f['level']}]"
    elif f["basis"] == "rcs" and f["index"] > 0:
        expr = f["predictor"] + "′" * f["index"]
    else:
        expr = _base_expr(f)
    if f["centre"]:
        expr = f"({_minus(expr, f['centre'], digits + 1)})"
    return expr


def _column_expr(col: dict, digits: int) -> str:
    expr = " · ".join(_factor_expr(f, digits) for f in col["factors"])
    if len(col["factors"]) > 1:
        expr = f"[{expr}]"
    if col["mean"] != 0:
        expr = f"({_minus(expr, col['mean'], digits + 1)})"
    if col["scale"] != 1:
        expr = f"{expr} / {_num(col['scale'], digits + 1)}"
    return expr


def _spline_definition(f: dict, digits: int) -> str:
    t = f["knots"]
    k = len(t)
    x = _base_expr(f)
    knots = ", ".join(_num(v, digits + 1) for v in t)
    lines = [f"- {f['predictor']}: knots t = ({knots}) on the scale of {x}; "
             f"with u₊ = max(u, 0):"]
    tk, tk1, t1 = t[-1], t[-2], t[0]
    norm = (tk - t1) ** 2
    for j in range(k - 2):
        w1 = (tk - t[j]) / (tk - tk1)
        w2 = (tk1 - t[j]) / (tk - tk1)
        lines.append(
            f"  - {f['predictor']}{'′' * (j + 1)} = [({_minus(x, t[j], digits + 1)})₊³ − "
            f"{_num(w1, digits + 1)} · ({_minus(x, tk1, digits + 1)})₊³ + "
            f"{_num(w2, digits + 1)} · ({_minus(x, tk, digits + 1)})₊³] / "
            f"{_num(norm, digits + 1)}")
    lines.append(f"  - i.e. (u − t_j)₊³ − (u − t_{k - 1})₊³ (t_{k} − t_j)/(t_{k} − t_{k - 1}) "
                 f"+ (u − t_{k})₊³ (t_{k - 1} − t_j)/(t_{k} − t_{k - 1}), divided by "
                 f"(t_{k} − t_1)²")
    return "\n".join(lines)


def model_equation(pipeline, codebook: Mapping[str, Mapping] | None = None, *,
                   digits: int = 3) -> str:
    """The full model equation as markdown, with every coefficient and transform.

    Coefficients have ``digits`` significant digits; means, SDs, knots and centres one
    more. Spline terms are written out (Harrell's restricted cubic spline, normalised by
    ``(t_k − t_1)²`` as :func:`analysis.regression.splines.rcs_basis` computes them), the
    log floors and the imputed values of missing predictors are footnotes. The numbers
    are :func:`equation_terms`.

    Parameters
    ----------
    pipeline : fitted Pipeline or RecalibratedClassifier
    codebook : mapping, optional
        Codebook entries; ``label`` names the predictors in a legend.
    digits : int, default 3

    Returns
    -------
    str

    Examples
    --------
    >>> from analysis.models.zoo import model_zoo
    >>> cb = {"age": {"type": "numeric"}, "smoker": {"type": "binary"}}
    >>> X = pd.DataFrame({"age": [30.0, 40, 50, 60, 45], "smoker": [0, 1, 0, 1, 1]})
    >>> pipe = model_zoo(cb, ["age", "smoker"], include=["logistic"])["logistic"].pipeline
    >>> text = model_equation(pipe.fit(X, [0, 1, 0, 1, 1]), cb)
    >>> "logit P(y = 1) =" in text and "(age − 45) / 10" in text
    True
    """
    if int(digits) < 1:
        raise AnalysisError(f"digits must be a positive integer, got {digits!r}")
    digits = int(digits)
    terms = equation_terms(pipeline)
    codebook = codebook or {}
    recal = next((t for t in terms if t["kind"] == "recalibration"), None)
    b0 = terms[0]["coef"]
    lhs = "LP" if recal else "logit P(y = 1)"
    lines = [f"**Model equation** ({linear_predictor_terms(pipeline).attrs['model']})", "",
             f"{lhs} = {_num(b0, digits)}  "]
    splines, footnotes, seen = {}, {}, set()
    for t in terms:
        if t["kind"] != "column":
            continue
        sign = "−" if t["coef"] < 0 else "+"
        lines.append(f"  {sign} {_num(abs(t['coef']), digits)} · {_column_expr(t, digits)}  ")
        for f in t["factors"]:
            p = f["predictor"]
            if f["basis"] == "rcs" and f["index"] > 0:
                splines.setdefault(p, f)
            if p in seen:
                continue
            seen.add(p)
            notes = []
            if f["transform"] == "log" and f["floor"] is not None:
                notes.append(f"values below {_num(f['floor'], digits + 1)} are set to "
                             f"{_num(f['floor'], digits + 1)} before the log")
            elif f["transform"] in ("log1p", "sqrt") and f["floor"] is not None:
                notes.append(f"negative values are set to {_num(f['floor'], digits)} first")
            if f["fill"] is not None:
                if f["type"] in NUMERIC_TYPES:
                    on = _base_expr(f)
                    notes.append(f"a missing value takes {on} = {_num(f['fill'], digits + 1)} "
                                 "(training median)")
                else:
                    fill = (_num(f["fill"], digits) if f["type"] == "binary" else f["fill"])
                    notes.append(f"a missing value takes {fill} (most frequent in training)")
            if notes:
                footnotes[p] = "; ".join(notes)
    if recal:
        lines += ["", "Recalibrated (logistic recalibration of the linear predictor LP):", "",
                  f"logit P(y = 1) = {_num(recal['intercept'], digits)} + "
                  f"{_num(recal['slope'], digits)} · LP"]
    lines += ["", "[x = level] is 1 when x equals the level and 0 otherwise; "
              "products are pre-specified interactions of centred terms."]
    if splines:
        lines += ["", "Restricted cubic spline terms:", ""]
        lines += [_spline_definition(f, digits) for f in splines.values()]
    labelled = [p for p in seen if "label" in codebook.get(p, {})]
    if labelled:
        lines += ["", "Predictors: " + "; ".join(
            f"{p} = {codebook[p]['label']}" for p in sorted(labelled))]
    if footnotes:
        lines += ["", "Missing values and floors (learned at fit):", ""]
        lines += [f"- {p}: {note}" for p, note in footnotes.items()]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- nomogram


def _nice_ticks(lo: float, hi: float, n: int = 6, *, outward: bool = False) -> np.ndarray:
    """Round tick values within ``[lo, hi]`` (``outward``: the round values enclosing it)."""
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
        return np.array([float(lo)])
    raw = (hi - lo) / n
    mag = 10 ** np.floor(np.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    if outward:
        start, stop = np.floor(lo / step + 1e-9) * step, np.ceil(hi / step - 1e-9) * step
    else:
        start, stop = np.ceil(lo / step - 1e-9) * step, hi
    ticks = np.arange(start, stop + step * 1e-6, step)
    return np.round(ticks, 10)


def _round2(v: float) -> float:
    """``v`` to two significant digits."""
    return float(f"{v:.2g}")


def _axis_values(term, frame: pd.DataFrame, logged: bool) -> tuple[list, list]:
    """(tick values, values over which the contribution range is searched)."""
    p = term["predictors"][0]
    if term["kind"] == "categorical":
        return list(term["levels"]), list(term["levels"])
    x = pd.to_numeric(frame[p], errors="coerce").to_numpy(float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        raise AnalysisError(f"nomogram: predictor '{p}' has no observed value in the frame")
    if term["kind"] == "binary":
        values = sorted(float(v) for v in np.unique(x))
        return values, values
    lo, hi = (float(v) for v in np.quantile(x, [0.01, 0.99]))
    if not hi > lo:
        return [lo], [lo]
    if logged and lo > 0:
        # a logged predictor: 1-2-5 ticks, even on the log scale
        exps = range(int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi))) + 1)
        inner = np.array(sorted(m * 10.0 ** e for e in exps for m in (1, 2, 5)))
        inner = inner[(inner >= lo) & (inner <= hi)]
        near = 0.25 * np.log(2)
        ticks = [_round2(lo), *inner, _round2(hi)]
        keep = [ticks[0]] + [v for v in ticks[1:-1] if np.log(v / ticks[0]) > near
                             and np.log(ticks[-1] / v) > near] + [ticks[-1]]
        ticks = sorted(set(keep))
    else:
        # round values enclosing the percentiles, unless beyond the observed values
        out = _nice_ticks(lo, hi, outward=True)
        step = out[1] - out[0] if out.size > 1 else hi - lo
        first = out[0] if out[0] >= x.min() else _round2(lo)
        last = out[-1] if out[-1] <= x.max() else _round2(hi)
        ticks = [first, *[v for v in out[1:-1] if v - first > 0.4 * step
                          and last - v > 0.4 * step], last]
    ticks = [float(v) for v in ticks]
    grid = np.unique(np.concatenate([np.linspace(ticks[0], ticks[-1], GRID_POINTS), ticks]))
    return ticks, [float(v) for v in grid]


#: Most levels of an integer predictor that conditions another one's nomogram axes.
MAX_FACTOR_LEVELS = 8
#: Most axes one predictor may get in a nomogram (one per combination of its partners' levels).
MAX_AXES_PER_PREDICTOR = 12
#: Order in which a pair's members become the conditioning factor (lower first).
_FACTOR_RANK = {"categorical": 0, "binary": 1, "integer": 2, "numeric": 3}


def _level_text(kind: str, value) -> str:
    if kind == "binary":
        return "yes" if float(value) == 1 else "no"
    if isinstance(value, float | np.floating):
        return f"{float(value):g}"
    return str(value)


def _factor_levels(term, frame: pd.DataFrame) -> list:
    """The values at which a predictor conditions its partner's axes."""
    p, kind = term["predictors"][0], term["kind"]
    if kind == "categorical":
        return list(term["levels"])
    x = pd.to_numeric(frame[p], errors="coerce").to_numpy(float)
    values = sorted(float(v) for v in np.unique(x[np.isfinite(x)]))
    if kind == "binary":
        return values or [0.0, 1.0]
    if kind == "integer" and 0 < len(values) <= MAX_FACTOR_LEVELS:
        return values
    raise AnalysisError(
        f"nomogram: predictor '{p}' would need one axis of its interaction partner per value, "
        f"but it is {kind} with {len(values)} distinct values (at most {MAX_FACTOR_LEVELS} "
        "integer values, or a binary or categorical predictor); use model_equation")


def _interaction_plan(terms: pd.DataFrame, frame: pd.DataFrame) -> dict[str, list[dict]]:
    """Per conditioned predictor, its interaction terms: [{term, partner, levels, first}].

    In each pre-specified pair the more discrete member (categorical before binary before
    integer; a tie: the pair's first member) conditions the other, which gets one axis per
    level of it, as ``rms::nomogram`` draws a continuous predictor per level of the factor
    it interacts with.
    """
    by_name = {t["term"]: t for _, t in terms.iterrows() if t["kind"] not in ("intercept",
                                                                            "interaction")}
    plan: dict[str, list[dict]] = {}
    for _, term in terms[terms["kind"] == "interaction"].iterrows():
        a, b = term["predictors"]
        rank_a, rank_b = (_FACTOR_RANK.get(by_name[p]["kind"], 3) for p in (a, b))
        if min(rank_a, rank_b) == 3:
            raise AnalysisError(
                f"nomogram: the interaction {term['term']} joins two continuous predictors; a "
                "nomogram can draw one axis per level of a binary, categorical or integer "
                "partner only (use model_equation)")
        factor, axis = (b, a) if rank_b < rank_a else (a, b)
        plan.setdefault(axis, []).append({
            "term": term, "partner": factor, "first": term["predictors"][0] == axis,
            "levels": _factor_levels(by_name[factor], frame)})
    return plan


def _axis_function(term, pairs: list[dict], combo: tuple):
    """A predictor's contribution with its interactions at fixed partner levels."""
    main = term["contribution"]

    def contribution(values) -> np.ndarray:
        values = np.asarray(values, dtype=object)
        out = np.asarray(main(values), dtype=float)
        for pair, level in zip(pairs, combo, strict=True):
            fixed = np.full(values.shape, level, dtype=object)
            args = (values, fixed) if pair["first"] else (fixed, values)
            out = out + np.asarray(pair["term"]["contribution"](*args), dtype=float)
        return out

    return contribution


def _patient_contribution(term, pairs: list[dict], row: Mapping) -> float:
    """A predictor's exact contribution for one patient, its interactions at the patient's
    own partner values (missing ones imputed by the model, as everywhere)."""
    p = term["term"]
    value = np.asarray([row.get(p, np.nan)], dtype=object)
    c = float(term["contribution"](value)[0])
    for pair in pairs:
        other = np.asarray([row.get(pair["partner"], np.nan)], dtype=object)
        args = (value, other) if pair["first"] else (other, value)
        c += float(pair["term"]["contribution"](*args)[0])
    return c


def _axes(terms: pd.DataFrame, frame: pd.DataFrame, codebook) -> list[dict]:
    """Every axis: predictor, its key and label, the condition, and its contribution."""
    plan = _interaction_plan(terms, frame)
    kinds = {t["term"]: t["kind"] for _, t in terms.iterrows()}
    labels = {t["term"]: t["label"] for _, t in terms.iterrows()}
    out = []
    for _, term in terms.iterrows():
        if term["kind"] in ("intercept", "interaction"):
            continue
        p, pairs = term["term"], plan.get(term["term"], [])
        combos = list(itertools.product(*[pair["levels"] for pair in pairs]))
        if len(combos) > MAX_AXES_PER_PREDICTOR:
            raise AnalysisError(
                f"nomogram: predictor '{p}' interacts with {', '.join(x['partner'] for x in pairs)} "
                f"and would need {len(combos)} axes (at most {MAX_AXES_PER_PREDICTOR})")
        for combo in combos:
            condition = ", ".join(
                f"{pair['partner']} = {_level_text(kinds[pair['partner']], level)}"
                for pair, level in zip(pairs, combo, strict=True))
            shown = ", ".join(
                f"{labels[pair['partner']]} = {_level_text(kinds[pair['partner']], level)}"
                for pair, level in zip(pairs, combo, strict=True))
            out.append({"predictor": p, "term": term,
                        "axis": f"{p} ({condition})" if condition else p,
                        "label": f"{term['label']} ({shown})" if shown else term["label"],
                        "condition": condition,
                        "levels": dict(zip([x["partner"] for x in pairs], combo, strict=True)),
                        "contribution": _axis_function(term, pairs, combo)})
    return out


def nomogram_points(pipeline, codebook: Mapping[str, Mapping] | None, frame: pd.DataFrame, *,
                    points_range: float = 100) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``rms::nomogram`` construction: points per predictor value, totals to probability.

    For each predictor its contribution to the linear predictor
    (:func:`linear_predictor_terms`) over the development data: the 1st to 99th
    percentile of a numeric predictor, widened to the round tick values that enclose it
    when these lie within the observed values (else ending at the percentile rounded to
    two significant digits; a logged predictor gets 1-2-5 ticks), searched on a fine
    grid (splines need not be monotone); every observed value of a binary predictor;
    every level of a categorical one.

    **Interactions** (the flexible model's pre-specified pairs) are drawn as
    ``rms::nomogram`` draws them: in each pair the more discrete member (categorical,
    then binary, then an integer with at most :data:`MAX_FACTOR_LEVELS` values; a tie:
    the pair's first member) keeps its own axis, and the other gets one axis per level of
    it, e.g. "Age (Prior anti-TNF = yes)" and "Age (Prior anti-TNF = no)", each carrying
    the predictor's main effect plus the interaction at that level. A patient reads the
    axis of their own level, so the total points still give the linear predictor exactly.
    Two continuous partners cannot be drawn this way (refused).

    The predictor with the widest contribution range gets ``0..points_range`` points,
    every other one the same ``scale`` (points per unit of log-odds); a predictor's axes
    start at 0 at its smallest contribution over all of its axes (so an axis of one level
    may start above 0). Then ``lp = intercept_part + total_points / scale`` and the
    probability is ``expit(lp)``.

    Parameters
    ----------
    pipeline : fitted Pipeline or RecalibratedClassifier
    codebook : mapping or None
        Labels (``label``) of the predictors.
    frame : pandas.DataFrame
        Development data (the predictor columns).
    points_range : float, default 100

    Returns
    -------
    axes : pandas.DataFrame
        ``predictor, label, value, points, axis, condition`` at the axis ticks (numeric:
        round values spanning the 1st-99th percentile; all values or levels otherwise), in
        model order; ``axis`` names the axis (the predictor, or ``"x (z = level)"`` for
        one level of an interaction partner, whose ``condition`` is ``"z = level"``; ``""``
        otherwise) and ``label`` is what the axis is called. ``attrs``: ``scale``,
        ``intercept_part``, ``minimum`` (per predictor, smallest contribution over its
        axes), ``points_range``, ``max_total``.
    totals : pandas.DataFrame
        ``axis`` (``total`` ticks or ``probability`` ticks), ``total_points``,
        ``linear_predictor``, ``probability``; same ``attrs``.

    Raises
    ------
    AnalysisError
        Unsupported model, an interaction of two continuous predictors, missing columns,
        or no predictor with a contribution range.

    Examples
    --------
    >>> from analysis.models.zoo import model_zoo
    >>> cb = {"age": {"type": "numeric"}, "smoker": {"type": "binary"}}
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"age": rng.normal(50, 10, 200), "smoker": rng.integers(0, 2, 200)})
    >>> y = (rng.random(200) < expit((X["age"] - 50) / 10 + X["smoker"])).astype(int)
    >>> pipe = model_zoo(cb, ["age", "smoker"], include=["logistic"])["logistic"].pipeline.fit(X, y)
    >>> axes, totals = nomogram_points(pipe, cb, X)
    >>> round(float(axes.groupby("predictor")["points"].max().max()), 6)
    100.0
    """
    terms = linear_predictor_terms(pipeline, codebook)
    if not isinstance(frame, pd.DataFrame):
        raise AnalysisError("nomogram: frame must be a DataFrame of the development data")
    main = terms[~terms["kind"].isin(["intercept", "interaction"])]
    missing = [p for p in main["term"] if p not in frame.columns]
    if missing:
        raise AnalysisError(f"nomogram: frame lacks predictor column(s) {missing}")
    if not (np.isfinite(points_range) and points_range > 0):
        raise AnalysisError(f"points_range must be a positive number, got {points_range!r}")
    logged = {f["predictor"] for t in equation_terms(pipeline) if t["kind"] == "column"
              for f in t["factors"] if f["transform"] == "log"}
    axes_spec = _axes(terms, frame, codebook)
    lows: dict[str, list[float]] = {}
    highs: dict[str, list[float]] = {}
    ticks = []
    for spec in axes_spec:
        p = spec["predictor"]
        tick_values, grid = _axis_values(spec["term"], frame, p in logged)
        contrib = spec["contribution"](np.asarray(grid, dtype=object))
        lows.setdefault(p, []).append(float(np.min(contrib)))
        highs.setdefault(p, []).append(float(np.max(contrib)))
        ticks.append((tick_values, spec["contribution"](np.asarray(tick_values, dtype=object))))
    minimum = {p: min(v) for p, v in lows.items()}
    ranges = {p: max(highs[p]) - minimum[p] for p in minimum}
    widest = max(ranges.values()) if ranges else 0.0
    if not widest > 0:
        raise AnalysisError("nomogram: no predictor changes the linear predictor")
    scale = float(points_range) / widest
    intercept_part = float(terms["value"].iloc[0]) + sum(minimum.values())
    rows = []
    for spec, (tick_values, contributions) in zip(axes_spec, ticks, strict=True):
        p = spec["predictor"]
        for value, c in zip(tick_values, contributions, strict=True):
            rows.append({"predictor": p, "label": spec["label"], "value": value,
                         "points": float((c - minimum[p]) * scale), "axis": spec["axis"],
                         "condition": spec["condition"]})
    axes = pd.DataFrame(rows, columns=["predictor", "label", "value", "points", "axis",
                                       "condition"])
    max_total = float(sum(ranges.values()) * scale)
    total_ticks = _nice_ticks(0.0, max_total, 8)
    total_ticks = total_ticks[(total_ticks >= 0) & (total_ticks <= max_total + 1e-9)]
    lp_lo, lp_hi = intercept_part, intercept_part + max_total / scale
    probs = [p for p in PROBABILITY_TICKS if lp_lo <= np.log(p / (1 - p)) <= lp_hi]
    if len(probs) < 3:  # a narrow range of risk (a heavily penalised model): finer ticks
        fine = _nice_ticks(float(expit(lp_lo)), float(expit(lp_hi)), 8)
        fine = [float(p) for p in fine
                if 0 < p < 1 and lp_lo - 1e-12 <= np.log(p / (1 - p)) <= lp_hi + 1e-12]
        probs = fine if len(fine) > len(probs) else probs
    trows = [{"axis": "total", "total_points": float(t) + 0.0} for t in total_ticks]
    trows += [{"axis": "probability",
               "total_points": float((np.log(p / (1 - p)) - intercept_part) * scale)}
              for p in probs]
    totals = pd.DataFrame(trows, columns=["axis", "total_points"])
    totals["linear_predictor"] = intercept_part + totals["total_points"] / scale
    totals["probability"] = expit(totals["linear_predictor"])
    attrs = {"scale": scale, "intercept_part": intercept_part, "minimum": minimum,
             "points_range": float(points_range), "max_total": max_total}
    axes.attrs.update(attrs)
    totals.attrs.update(attrs)
    return axes, totals


def patient_points(pipeline, codebook: Mapping[str, Mapping] | None, frame: pd.DataFrame,
                   patient_row, *, points_range: float = 100) -> pd.DataFrame:
    """One patient's exact nomogram points per predictor, total, and probability.

    With interactions, a predictor's points are read on the axis of the patient's own
    level of its partner (``axis``); they include the interaction, so the total still
    gives the model's linear predictor.

    Parameters
    ----------
    pipeline : fitted Pipeline or RecalibratedClassifier
    codebook : mapping or None
    frame : pandas.DataFrame
        The development data the nomogram was built on (:func:`nomogram_points`).
    patient_row : pandas.Series, mapping or one-row DataFrame
        The patient's predictor values (missing ones take the model's imputed value).
    points_range : float, default 100

    Returns
    -------
    pandas.DataFrame
        ``predictor, value, points, axis`` (points not rounded; outside
        ``0..points_range`` when the value lies outside the 1st-99th percentile; ``axis``
        as in :func:`nomogram_points`, ``""`` when the patient's partner value is missing
        or has no axis). ``attrs``: ``total_points``, ``linear_predictor``
        (``intercept_part + total_points / scale``) and ``probability``.

    Examples
    --------
    >>> from analysis.models.zoo import model_zoo
    >>> cb = {"age": {"type": "numeric"}, "smoker": {"type": "binary"}}
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"age": rng.normal(50, 10, 200), "smoker": rng.integers(0, 2, 200)})
    >>> y = (rng.random(200) < expit((X["age"] - 50) / 10 + X["smoker"])).astype(int)
    >>> pipe = model_zoo(cb, ["age", "smoker"], include=["logistic"])["logistic"].pipeline.fit(X, y)
    >>> pts = patient_points(pipe, cb, X, X.iloc[0])
    >>> bool(abs(pts.attrs["probability"] - pipe.predict_proba(X.iloc[[0]])[0, 1]) < 1e-9)
    True
    """
    axes, _ = nomogram_points(pipeline, codebook, frame, points_range=points_range)
    terms = linear_predictor_terms(pipeline, codebook)
    plan = _interaction_plan(terms, frame)
    if isinstance(patient_row, pd.DataFrame):
        if len(patient_row) != 1:
            raise AnalysisError(f"patient_row must be one patient, got {len(patient_row)} rows")
        patient_row = patient_row.iloc[0]
    row = dict(patient_row)
    scale, minimum = axes.attrs["scale"], axes.attrs["minimum"]
    kinds = {t["term"]: t["kind"] for _, t in terms.iterrows()}
    rows = []
    for _, term in terms.iterrows():
        if term["kind"] in ("intercept", "interaction"):
            continue
        p, pairs = term["term"], plan.get(term["term"], [])
        c = _patient_contribution(term, pairs, row)
        axis = p
        if pairs:
            levels = [row.get(pair["partner"], np.nan) for pair in pairs]
            known = all(pd.notna(v) for v in levels)
            condition = ", ".join(f"{pair['partner']} = {_level_text(kinds[pair['partner']], v)}"
                                  for pair, v in zip(pairs, levels, strict=True)) if known else ""
            axis = f"{p} ({condition})" if condition else ""
            if axis and axis not in set(axes["axis"]):
                axis = ""
        rows.append({"predictor": p, "value": row.get(p, np.nan),
                     "points": (c - minimum[p]) * scale, "axis": axis})
    out = pd.DataFrame(rows, columns=["predictor", "value", "points", "axis"])
    total = float(out["points"].sum())
    lp = axes.attrs["intercept_part"] + total / scale
    out.attrs.update(total_points=total, linear_predictor=lp, probability=float(expit(lp)))
    return out
