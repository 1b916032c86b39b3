"""The calculator's form, from a saved model's codebook: fields, defaults, parsing.

Pure functions of ``model.json`` (:func:`analysis.models.artifact.load_model`'s metadata):
no Shiny, no model. :func:`form_fields` lists one field per value the user enters: every
predictor, except that a derived predictor (BMI) is replaced by the inputs of its stored
derive rule (height and weight), which :func:`analysis.models.predict.predict_patients`
derives again. :func:`parse_inputs` turns the submitted values into the one-row table
``predict_patients`` takes, with one message per field that is wrong.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from analysis.explain.factors import reference_value
from analysis.validators import is_finite_number

__all__ = ["FORM_ID", "Field", "form_fields", "parse_inputs", "risk_position"]

#: Value of the id column (when the study has one) of the patient typed into the form.
FORM_ID = "form"
#: Choices of a yes/no field: the value sent -> the text shown.
YES_NO = {"1": "yes", "0": "no"}
#: Choice of an optional select left empty (the model imputes it).
NOT_KNOWN = ""


@dataclass(frozen=True)
class Field:
    """One input of the form.

    ``input`` is ``"numeric"`` (a number box, ``min``/``max`` from the codebook) or
    ``"select"`` (``choices``: value sent -> text shown); ``kind`` is the codebook type;
    ``default`` is a number for numeric fields, a choice value for selects, ``None`` for
    an empty field; ``derives`` names the derived predictors this input feeds.
    """

    name: str
    label: str
    kind: str
    input: str
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    choices: dict[str, str] = field(default_factory=dict)
    default: Any = None
    required: bool = False
    derives: tuple[str, ...] = ()

    @property
    def display_label(self) -> str:
        """The label with the unit, e.g. ``"Age, years"``."""
        return f"{self.label}, {self.unit}" if self.unit else self.label

    @property
    def range_text(self) -> str:
        """The allowed range as text: ``"18 to 100 years"``, ``"at least 0"``, or ``""``."""
        unit = f" {self.unit}" if self.unit else ""
        if self.min is not None and self.max is not None:
            return f"{_num(self.min)} to {_num(self.max)}{unit}"
        if self.min is not None:
            return f"at least {_num(self.min)}{unit}"
        if self.max is not None:
            return f"at most {_num(self.max)}{unit}"
        return ""


def form_fields(meta: Mapping[str, Any], cohort_summary: Mapping[str, Any] | None = None
                ) -> list[Field]:
    """The form's fields for a saved model, in the order of its predictors.

    Parameters
    ----------
    meta : dict
        The model's metadata (``model.json``): ``predictors`` (the codebook),
        ``derivations`` (``derive`` rules and the codebook of their ``inputs``),
        ``training.ranges`` and ``treatment``.
    cohort_summary : mapping, optional
        Defaults that override the stored ones: ``{name: value}`` or ``{name: {"median":
        x}}`` / ``{name: {"most_common": level}}``.

    Returns
    -------
    list of Field
        A derived predictor is replaced by the raw inputs of its derive rule (each listed
        once, in the order they are met). Defaults: numeric - the stored training median,
        else the midpoint of the stored 1st-99th percentile range, else empty (derive
        inputs have no stored range); binary - the more common value (from the stored
        training mean); categorical - the stored most common level, else the first level
        seen in training. Required: the treatment column and codebook-required predictors.

    Examples
    --------
    >>> meta = {
    ...     "predictors": {
    ...         "age": {"type": "numeric", "min": 18, "max": 100, "unit": "years", "label": "Age"},
    ...         "bmi": {"type": "numeric", "label": "BMI"},
    ...         "arm": {"type": "categorical", "levels": ["a", "b"]},
    ...         "smoker": {"type": "binary"}},
    ...     "derivations": {"derive": {"bmi": "weight_kg / (height_cm / 100) ** 2"},
    ...                     "inputs": {"height_cm": {"type": "numeric", "min": 100, "max": 230},
    ...                                "weight_kg": {"type": "numeric", "min": 25, "max": 300}}},
    ...     "training": {"ranges": {
    ...         "age": {"kind": "numeric", "p01": 20.0, "p99": 80.0},
    ...         "bmi": {"kind": "numeric", "p01": 17.0, "p99": 40.0},
    ...         "arm": {"kind": "categorical", "levels": ["b", "a"]},
    ...         "smoker": {"kind": "numeric", "p01": 0.0, "p99": 1.0, "mean": 0.3}}},
    ...     "treatment": {"column": "arm", "options": ["a", "b"]}}
    >>> [(f.name, f.input, f.default, f.required) for f in form_fields(meta)]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('age', 'numeric', 50.0, False), ('weight_kg', 'numeric', None, False),
     ('height_cm', 'numeric', None, False), ('arm', 'select', 'b', True),
     ('smoker', 'select', '0', False)]
    """
    predictors = meta["predictors"]
    spec = meta.get("derivations") or {}
    rules = spec.get("derive") or {}
    inputs = spec.get("inputs") or {}
    ranges = (meta.get("training") or {}).get("ranges") or {}
    treatment = (meta.get("treatment") or {}).get("column")
    summary = cohort_summary or {}
    fields: dict[str, Field] = {}
    for name, entry in predictors.items():
        if name in rules:
            for raw in _rule_inputs(name, rules, inputs):
                if raw not in fields and raw not in predictors:
                    fields[raw] = _field(raw, inputs[raw], ranges.get(raw), summary.get(raw),
                                         required=bool(inputs[raw].get("required")),
                                         derives=(name,))
                elif raw in fields and name not in fields[raw].derives:
                    fields[raw] = replace(fields[raw], derives=(*fields[raw].derives, name))
            continue
        fields[name] = _field(name, entry, ranges.get(name), summary.get(name),
                              required=bool(entry.get("required")) or name == treatment)
    # an input that is a predictor itself and feeds a derived one listed before it (a phenotype
    # variable that also enters a derived predictor): it says what it derives too
    for name in rules:
        if name not in predictors:
            continue
        for raw in _rule_inputs(name, rules, inputs):
            if raw in predictors and raw in fields and name not in fields[raw].derives:
                fields[raw] = replace(fields[raw], derives=(*fields[raw].derives, name))
    return list(fields.values())


def _rule_inputs(name: str, rules: Mapping[str, str], inputs: Mapping[str, Any]) -> list[str]:
    """The raw inputs a derived column needs, following earlier rules, in order met."""
    out: list[str] = []
    seen: set[str] = set()

    def visit(target: str) -> None:
        if target in seen:
            return
        seen.add(target)
        tree = ast.parse(rules[target].strip(), mode="eval")
        nodes = sorted((n for n in ast.walk(tree) if isinstance(n, ast.Name)),
                       key=lambda n: (n.lineno, n.col_offset))  # as written, left to right
        names = [n.id for n in nodes]
        for used in dict.fromkeys(names):
            if used in rules:
                visit(used)
            elif used in inputs and used not in out:
                out.append(used)

    visit(name)
    return out


def _field(name: str, entry: Mapping[str, Any], rng: Mapping[str, Any] | None, override,
           *, required: bool, derives: tuple[str, ...] = ()) -> Field:
    kind = entry["type"]
    label = str(entry.get("label") or name)
    unit = entry.get("unit")
    rng = rng or {}
    if kind == "binary":
        default = _binary_default(rng, override)
        return Field(name, label, kind, "select", unit=unit, choices=dict(YES_NO),
                     default=default, required=required, derives=derives)
    if kind == "categorical":
        levels = [str(v) for v in entry.get("levels") or []]
        default = _level_default(levels, rng, override)
        return Field(name, label, kind, "select", unit=unit,
                     choices={lv: lv for lv in levels}, default=default, required=required,
                     derives=derives)
    lo, hi = entry.get("min"), entry.get("max")
    default = _numeric_default(rng, override)
    if default is not None and kind == "integer":
        default = float(round(default))
    return Field(name, label, kind, "numeric", unit=unit,
                 min=None if lo is None else float(lo), max=None if hi is None else float(hi),
                 default=default, required=required, derives=derives)


def _override(override, key: str):
    if isinstance(override, Mapping):
        return override.get(key)
    return override


# Without an override a field starts at the cohort's reference patient, the one the risk
# factors are measured from (analysis.explain.factors.reference_value).


def _numeric_default(rng: Mapping[str, Any], override) -> float | None:
    value = _override(override, "median")
    if is_finite_number(value):
        return float(value)
    value = reference_value({"type": "numeric"}, rng)
    return float(value) if is_finite_number(value) else None


def _binary_default(rng: Mapping[str, Any], override) -> str:
    for value in (_override(override, "most_common"), rng.get("most_common")):
        if value is not None and str(value) in ("0", "1", "0.0", "1.0"):
            return str(int(float(value)))
    return "1" if reference_value({"type": "binary"}, rng) == 1 else "0"


def _level_default(levels: list[str], rng: Mapping[str, Any], override) -> str | None:
    value = _override(override, "most_common")
    if value is not None and str(value) in levels:
        return str(value)
    value = reference_value({"type": "categorical", "levels": levels}, rng)
    return value if isinstance(value, str) else None


def _num(x: float) -> str:
    return np.format_float_positional(float(x), trim="-")


def parse_inputs(fields: list[Field], raw: Mapping[str, Any], *, id_column: str | None = None
                 ) -> tuple[pd.DataFrame, dict[str, str]]:
    """The submitted values as a one-row patient table, and a message per wrong field.

    Parameters
    ----------
    fields : list of Field
        From :func:`form_fields`.
    raw : mapping
        Field name -> submitted value (text, number or ``None``; missing keys are empty).
    id_column : str, optional
        The study's id column; it is filled with :data:`FORM_ID`.

    Returns
    -------
    patient : DataFrame
        One row: numbers as float (NaN when left empty), yes/no as 1.0/0.0, levels as
        text (NaN when empty); the missing values are imputed by the model. Empty when
        there is any message.
    messages : dict
        Field name -> what is wrong: a required field left empty, not a number, outside
        the allowed range (the message names the range), not a whole number, a choice not
        offered.

    Examples
    --------
    >>> age = Field("age", "Age", "numeric", "numeric", unit="years", min=18, max=100)
    >>> arm = Field("arm", "Arm", "categorical", "select", choices={"a": "a", "b": "b"},
    ...             required=True)
    >>> patient, messages = parse_inputs([age, arm], {"age": "45", "arm": "b"})
    >>> patient.to_dict("records"), messages
    ([{'age': 45.0, 'arm': 'b'}], {})
    >>> parse_inputs([age, arm], {"age": "150", "arm": ""})[1]  # doctest: +NORMALIZE_WHITESPACE
    {'age': 'Age must be between 18 and 100 years (got 150).', 'arm': 'Arm is required.'}
    """
    values: dict[str, Any] = {}
    messages: dict[str, str] = {}
    for f in fields:
        value, message = _parse(f, raw.get(f.name))
        if message:
            messages[f.name] = message
        values[f.name] = value
    if messages:
        return pd.DataFrame(), messages
    row = ({id_column: FORM_ID} if id_column else {}) | values
    return pd.DataFrame([row]), {}


def _is_empty(value) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _parse(f: Field, value) -> tuple[Any, str | None]:
    if _is_empty(value):
        if f.required:
            return np.nan, f"{f.label} is required."
        return np.nan, None
    if f.input == "select":
        text = str(value).strip()
        if f.kind == "binary" and text in ("0.0", "1.0"):
            text = text[0]
        if text not in f.choices:
            offered = ", ".join(f.choices.values())
            return np.nan, f"{f.label}: choose one of {offered}."
        return (float(text) if f.kind == "binary" else text), None
    try:
        number = float(str(value).strip()) if not isinstance(value, int | float) else float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        where = f" ({f.range_text})" if f.range_text else ""
        return np.nan, f"{f.label} must be a number{where}."
    if (f.min is not None and number < f.min) or (f.max is not None and number > f.max):
        return np.nan, _range_message(f, number)
    if f.kind == "integer" and not number.is_integer():
        return np.nan, f"{f.label} must be a whole number (got {_num(number)})."
    return number, None


def _range_message(f: Field, number: float) -> str:
    unit = f" {f.unit}" if f.unit else ""
    got = f"(got {_num(number)})"
    if f.min is not None and f.max is not None:
        return f"{f.label} must be between {_num(f.min)} and {_num(f.max)}{unit} {got}."
    if f.min is not None:
        return f"{f.label} must be at least {_num(f.min)}{unit} {got}."
    return f"{f.label} must be at most {_num(f.max)}{unit} {got}."


def risk_position(probability: float, percentiles) -> str | None:
    """Where a predicted risk sits among the development cohort's predicted risks.

    Parameters
    ----------
    probability : float
    percentiles : sequence of float or None
        ``training.risk_percentiles`` of model.json (the 5th, 10th, ..., 95th percentiles).

    Returns
    -------
    str or None
        A sentence, interpolating linearly between the stored percentiles; None without them.

    Examples
    --------
    >>> pct = [0.05 * k for k in range(1, 20)]
    >>> risk_position(0.52, pct)
    'Higher than about 52% of the predicted risks in the development cohort.'
    >>> risk_position(0.01, pct)
    'Lower than 95% of the predicted risks in the development cohort.'
    """
    if not percentiles or not is_finite_number(probability):
        return None
    levels = np.arange(5, 100, 5, dtype=float)
    values = np.asarray(percentiles, dtype=float)
    if values.size != levels.size:
        return None
    where = "of the predicted risks in the development cohort."
    if probability < values[0]:
        return f"Lower than 95% {where}"
    if probability > values[-1]:
        return f"Higher than 95% {where}"
    # the highest percentile level not above the probability (ties: flat stretches)
    share = float(np.interp(probability, values, levels)) if np.all(np.diff(values) > 0) else \
        float(levels[np.searchsorted(values, probability, side="right") - 1])
    return f"Higher than about {share:.0f}% {where}"
