"""Shared input coercion, validation and output shaping for the clinical indices.

Every index function follows the same contract, implemented once here:

* inputs may be scalars, lists, numpy arrays or pandas Series; they are broadcast
  together positionally (Series arguments must share one index);
* scores come back as ``float`` (scalar in), ``numpy.ndarray`` (array in) or
  ``pandas.Series`` with the input's index (Series in), with ``NaN`` for missing;
* boolean rules use three-valued logic and come back as ``bool`` or ``pandas.NA``
  (scalar in), a ``pandas.arrays.BooleanArray`` (array in) or a ``Series`` of the
  nullable ``"boolean"`` dtype (Series in);
* categories come back as ``str`` or ``None`` (scalar in), an object array or an
  object Series with ``None`` for missing;
* impossible values raise :class:`analysis.errors.IndexInputError` whose message
  names the argument, the rule and the first offending value.

Internally a three-valued flag is a float array holding 1.0 (true), 0.0 (false)
or NaN (unknown), so that missing values flow through ordinary numpy arithmetic.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.errors import IndexInputError

#: Absolute tolerance for threshold comparisons, so that e.g. ``4.4 - 3.2`` (which is
#: ``1.2000000000000002`` in binary floating point) counts as an improvement of 1.2.
TOLERANCE = 1e-9

SCALAR, ARRAY, SERIES = "scalar", "array", "series"

__all__ = [
    "TOLERANCE",
    "Template",
    "all_of",
    "any_of",
    "as_matrix",
    "broadcast",
    "categorize",
    "check_choice",
    "check_flag",
    "check_in",
    "check_range",
    "ge",
    "gt",
    "le",
    "lt",
    "negate",
    "reject",
    "relative_drop",
    "table_columns",
    "to_float_array",
    "wrap_flag",
    "wrap_labels",
    "wrap_score",
]


@dataclass(frozen=True)
class Template:
    """How to shape an output like the inputs it came from.

    Parameters
    ----------
    kind : {"scalar", "array", "series"}
        Shape family of the inputs.
    shape : tuple of int
        Broadcast shape of the inputs (``()`` for scalars).
    index : pandas.Index or None
        Index of the Series inputs, when ``kind == "series"``.

    Examples
    --------
    >>> Template(SCALAR, (), None).kind
    'scalar'
    """

    kind: str
    shape: tuple
    index: pd.Index | None = None


# --------------------------------------------------------------------------- coercion
def _is_missing(value) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isnan(value)


def _position(shape: tuple, flat_pos: int) -> str:
    if len(shape) == 0:
        return ""
    if len(shape) == 1:
        return f" at position {flat_pos}"
    return f" at position {tuple(int(i) for i in np.unravel_index(flat_pos, shape))}"


def to_float_array(value, name: str) -> np.ndarray:
    """Convert one argument to a float array, mapping every missing marker to NaN.

    Parameters
    ----------
    value : scalar, sequence, numpy.ndarray or pandas.Series
        Numbers, booleans or missing markers (``None``, ``NaN``, ``pandas.NA``).
    name : str
        Argument name used in error messages.

    Returns
    -------
    numpy.ndarray
        Float array of the same shape (0-d for a scalar).

    Raises
    ------
    IndexInputError
        If a value is not numeric (e.g. a string) or is infinite.

    Examples
    --------
    >>> to_float_array([1, None, True], "x")
    array([ 1., nan,  1.])
    """
    if isinstance(value, pd.DataFrame):
        raw = value.to_numpy(dtype=object)
    elif isinstance(value, (pd.Series, pd.Index)):
        raw = value.to_numpy(dtype=object) if value.dtype.kind not in "biuf" else value.to_numpy()
    else:
        raw = np.asarray(value, dtype=object) if not isinstance(value, np.ndarray) else value
    if isinstance(raw, np.ndarray) and raw.dtype.kind in "biuf":
        arr = raw.astype(float)
    else:
        obj = np.asarray(raw, dtype=object)
        arr = np.empty(obj.shape, dtype=float)
        for flat_pos, item in enumerate(obj.flat):
            if _is_missing(item):
                arr.flat[flat_pos] = np.nan
            elif isinstance(item, (numbers.Real, np.bool_)):
                arr.flat[flat_pos] = float(item)
            else:
                raise IndexInputError(
                    f"{name}: must be numeric (got {item!r}{_position(obj.shape, flat_pos)})"
                )
    bad = np.isinf(arr)
    if bad.any():
        flat_pos = int(np.flatnonzero(bad.ravel())[0])
        raise IndexInputError(
            f"{name}: must be finite (got {arr.flat[flat_pos]:g}{_position(arr.shape, flat_pos)})"
        )
    return arr


def _template_for(named: Mapping[str, object], shape: tuple) -> Template:
    series = [(n, v) for n, v in named.items() if isinstance(v, pd.Series)]
    if series:
        first_name, first = series[0]
        for other_name, other in series[1:]:
            if not first.index.equals(other.index):
                raise IndexInputError(
                    f"{other_name}: must share the index of {first_name} "
                    "(Series arguments are combined row by row)"
                )
        if shape != (len(first),):
            raise IndexInputError(
                f"{first_name}: other arguments must be scalars or have length {len(first)}"
            )
        return Template(SERIES, shape, first.index)
    if shape == ():
        return Template(SCALAR, shape, None)
    return Template(ARRAY, shape, None)


def broadcast(named: Mapping[str, object]) -> tuple[dict[str, np.ndarray], Template]:
    """Coerce several arguments to float arrays of one common shape.

    Parameters
    ----------
    named : mapping of str to array-like
        Argument name to value, in signature order (used for error messages).

    Returns
    -------
    arrays : dict of str to numpy.ndarray
        The broadcast float arrays.
    template : Template
        How to shape outputs like these inputs.

    Raises
    ------
    IndexInputError
        If the shapes cannot be broadcast or Series indexes differ.

    Examples
    --------
    >>> arrays, template = broadcast({"a": [1, 2], "b": 3})
    >>> arrays["b"], template.kind
    (array([3., 3.]), 'array')
    """
    arrays = {n: to_float_array(v, n) for n, v in named.items()}
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays.values()))
    except ValueError:
        shapes = ", ".join(f"{n} {a.shape}" for n, a in arrays.items())
        raise IndexInputError(f"inputs: shapes cannot be combined ({shapes})") from None
    template = _template_for(named, shape)
    return {n: np.broadcast_to(a, shape) for n, a in arrays.items()}, template


def as_matrix(value, name: str, n_columns: int, what: str) -> tuple[np.ndarray, Template]:
    """Coerce item scores to a 2-D float array of ``n_columns`` columns.

    A 1-D input (one patient) gives a scalar template; a DataFrame gives a Series
    template with its index; a 2-D array gives an array template.

    Parameters
    ----------
    value : sequence, numpy.ndarray or pandas.DataFrame
        Shape ``(n_columns,)`` or ``(n, n_columns)``.
    name : str
        Argument name used in error messages.
    n_columns : int
        Required number of columns.
    what : str
        Description of one column set, e.g. ``"5 segment scores"``.

    Returns
    -------
    matrix : numpy.ndarray
        Shape ``(n, n_columns)``.
    template : Template
        How to shape per-row results.

    Examples
    --------
    >>> m, t = as_matrix([1, 2, 3], "x", 3, "3 items")
    >>> m.shape, t.kind
    ((1, 3), 'scalar')
    """
    arr = to_float_array(value, name)
    if arr.ndim == 1 and arr.shape[0] == n_columns:
        return arr.reshape(1, n_columns), Template(SCALAR, (), None)
    if arr.ndim == 2 and arr.shape[1] == n_columns:
        if isinstance(value, pd.DataFrame):
            return arr, Template(SERIES, (arr.shape[0],), value.index)
        return arr, Template(ARRAY, (arr.shape[0],), None)
    raise IndexInputError(
        f"{name}: must hold {what} per patient, shape ({n_columns},) or (n, {n_columns}) "
        f"(got shape {arr.shape})"
    )


# -------------------------------------------------------------------------- validation
def reject(arr: np.ndarray, bad: np.ndarray, name: str, rule: str) -> None:
    """Raise one IndexInputError naming the first value for which ``bad`` is true.

    Parameters
    ----------
    arr : numpy.ndarray
        The values checked.
    bad : numpy.ndarray of bool
        Mask of impossible values (NaN entries must already be False).
    name : str
        Argument name.
    rule : str
        The rule broken, e.g. ``"must be between 0 and 28"``.

    Examples
    --------
    >>> reject(np.array([1.0]), np.array([False]), "x", "must be positive")
    """
    bad = np.asarray(bad)
    if bad.any():
        flat_pos = int(np.flatnonzero(bad.ravel())[0])
        value = np.asarray(arr).flat[flat_pos]
        raise IndexInputError(f"{name}: {rule} (got {value:g}{_position(bad.shape, flat_pos)})")


def _fmt(x: float) -> str:
    return f"{x:g}"


def check_range(
    arr: np.ndarray, name: str, low: float, high: float | None = None, *, integer: bool = False
) -> np.ndarray:
    """Check that every non-missing value lies in ``[low, high]`` (and is whole if asked).

    Parameters
    ----------
    arr : numpy.ndarray
        Float values, NaN for missing.
    name : str
        Argument name.
    low, high : float
        Inclusive bounds; ``high=None`` means no upper bound.
    integer : bool, default False
        Also require whole numbers (counts and ordinal subscores).

    Returns
    -------
    numpy.ndarray
        ``arr`` unchanged, for chaining.

    Examples
    --------
    >>> check_range(np.array([0.0, 28.0, np.nan]), "tjc28", 0, 28, integer=True)
    array([ 0., 28., nan])
    """
    known = ~np.isnan(arr)
    whole = "a whole number " if integer else ""
    if high is None:
        rule = (
            f"must be {whole}of at least {_fmt(low)}"
            if integer
            else f"must be at least {_fmt(low)}"
        )
        bad = known & (arr < low)
    else:
        rule = f"must be {whole}between {_fmt(low)} and {_fmt(high)}"
        bad = known & ((arr < low) | (arr > high))
    if integer:
        bad = bad | (known & (arr != np.round(arr)))
    reject(arr, bad, name, rule)
    return arr


def check_in(arr: np.ndarray, name: str, allowed: tuple) -> np.ndarray:
    """Check that every non-missing value is one of ``allowed``.

    Parameters
    ----------
    arr : numpy.ndarray
        Float values, NaN for missing.
    name : str
        Argument name.
    allowed : tuple of float
        The permitted values.

    Returns
    -------
    numpy.ndarray
        ``arr`` unchanged.

    Examples
    --------
    >>> check_in(np.array([0.0, 5.0]), "abdominal_mass", (0, 2, 5))
    array([0., 5.])
    """
    bad = ~np.isnan(arr) & ~np.isin(arr, allowed)
    reject(arr, bad, name, "must be one of " + ", ".join(_fmt(a) for a in allowed))
    return arr


def check_flag(arr: np.ndarray, name: str) -> np.ndarray:
    """Check a yes/no input: True/False, 1/0 or missing.

    Parameters
    ----------
    arr : numpy.ndarray
        Float values, NaN for missing.
    name : str
        Argument name.

    Returns
    -------
    numpy.ndarray
        ``arr`` unchanged.

    Examples
    --------
    >>> check_flag(np.array([1.0, 0.0, np.nan]), "fever")
    array([ 1.,  0., nan])
    """
    bad = ~np.isnan(arr) & ~np.isin(arr, (0.0, 1.0))
    reject(arr, bad, name, "must be True/False (or 1/0)")
    return arr


def check_choice(value: str, name: str, choices) -> str:
    """Check a keyword option against its allowed values.

    Parameters
    ----------
    value : str
        The option given.
    name : str
        Option name.
    choices : iterable of str
        Allowed values.

    Returns
    -------
    str
        ``value`` unchanged.

    Examples
    --------
    >>> check_choice("le2", "rule", ("le2", "lt4"))
    'le2'
    """
    choices = tuple(choices)
    if value not in choices:
        raise IndexInputError(
            f"{name}: must be one of {', '.join(repr(c) for c in choices)} (got {value!r})"
        )
    return value


# ----------------------------------------------------------------- three-valued logic
def ge(a, b) -> np.ndarray:
    """Three-valued ``a >= b`` with tolerance: 1.0, 0.0 or NaN where either is missing.

    Examples
    --------
    >>> ge(np.array([1.0, np.nan]), 1.0)
    array([ 1., nan])
    """
    return _known(a, b, np.asarray(a) >= np.asarray(b) - TOLERANCE)


def gt(a, b) -> np.ndarray:
    """Three-valued ``a > b`` with tolerance.

    Examples
    --------
    >>> gt(np.array([1.2 + 1e-12]), 1.2)
    array([0.])
    """
    return _known(a, b, np.asarray(a) > np.asarray(b) + TOLERANCE)


def le(a, b) -> np.ndarray:
    """Three-valued ``a <= b`` with tolerance.

    Examples
    --------
    >>> le(np.array([3.0]), 3.0)
    array([1.])
    """
    return _known(a, b, np.asarray(a) <= np.asarray(b) + TOLERANCE)


def lt(a, b) -> np.ndarray:
    """Three-valued ``a < b`` with tolerance.

    Examples
    --------
    >>> lt(np.array([0.30000000000000004]), 0.3)
    array([0.])
    """
    return _known(a, b, np.asarray(a) < np.asarray(b) - TOLERANCE)


def _known(a, b, result) -> np.ndarray:
    missing = np.isnan(np.asarray(a, dtype=float)) | np.isnan(np.asarray(b, dtype=float))
    return np.where(missing, np.nan, np.asarray(result, dtype=float))


def all_of(*flags) -> np.ndarray:
    """Three-valued AND: false if any is false, else unknown if any is unknown.

    Examples
    --------
    >>> all_of(np.array([1.0, 1.0, 0.0]), np.array([1.0, np.nan, np.nan]))
    array([ 1., nan,  0.])
    """
    stack = np.stack(np.broadcast_arrays(*(np.asarray(f, dtype=float) for f in flags)))
    return np.where(
        (stack == 0).any(axis=0), 0.0, np.where(np.isnan(stack).any(axis=0), np.nan, 1.0)
    )


def any_of(*flags) -> np.ndarray:
    """Three-valued OR: true if any is true, else unknown if any is unknown.

    Examples
    --------
    >>> any_of(np.array([0.0, 0.0, 1.0]), np.array([0.0, np.nan, np.nan]))
    array([ 0., nan,  1.])
    """
    stack = np.stack(np.broadcast_arrays(*(np.asarray(f, dtype=float) for f in flags)))
    return np.where(
        (stack == 1).any(axis=0), 1.0, np.where(np.isnan(stack).any(axis=0), np.nan, 0.0)
    )


def negate(flag) -> np.ndarray:
    """Three-valued NOT.

    Examples
    --------
    >>> negate(np.array([1.0, 0.0, np.nan]))
    array([ 0.,  1., nan])
    """
    flag = np.asarray(flag, dtype=float)
    return np.where(np.isnan(flag), np.nan, 1.0 - flag)


def relative_drop(baseline: np.ndarray, followup: np.ndarray) -> np.ndarray:
    """Fractional decrease ``(baseline - followup) / baseline``; NaN where baseline is 0.

    A relative change from zero is undefined, so such patients are not evaluable.

    Examples
    --------
    >>> relative_drop(np.array([4.0, 0.0]), np.array([2.0, 0.0]))
    array([0.5, nan])
    """
    baseline = np.asarray(baseline, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (baseline - followup) / baseline
    return np.where(baseline == 0, np.nan, out)


# -------------------------------------------------------------------------- wrapping
def wrap_score(values: np.ndarray, template: Template):
    """Shape float results like the inputs: float, ndarray or Series.

    Examples
    --------
    >>> wrap_score(np.array(3.0), Template(SCALAR, (), None))
    3.0
    """
    values = np.asarray(values, dtype=float)
    if template.kind == SCALAR:
        return float(values.reshape(()))
    if template.kind == SERIES:
        return pd.Series(values.reshape(template.shape), index=template.index, dtype=float)
    return np.array(values.reshape(template.shape), dtype=float)


def wrap_flag(flags: np.ndarray, template: Template):
    """Shape three-valued flags: bool/``pd.NA``, BooleanArray or nullable-boolean Series.

    Examples
    --------
    >>> wrap_flag(np.array([1.0, np.nan]), Template(ARRAY, (2,), None))
    <BooleanArray>
    [True, <NA>]
    Length: 2, dtype: boolean
    """
    flags = np.asarray(flags, dtype=float)
    if template.kind == SCALAR:
        value = float(flags.reshape(()))
        return pd.NA if math.isnan(value) else bool(value)
    flat = flags.reshape(template.shape)
    if flat.ndim != 1:
        raise IndexInputError(
            f"inputs: yes/no rules take scalars or 1-D inputs (got shape {flat.shape})"
        )
    values = pd.array([pd.NA if math.isnan(v) else bool(v) for v in flat], dtype="boolean")
    if template.kind == SERIES:
        return pd.Series(values, index=template.index)
    return values


def wrap_labels(labels: np.ndarray, template: Template):
    """Shape category labels: str/``None``, object ndarray or object Series.

    Examples
    --------
    >>> wrap_labels(np.array(["mild"], dtype=object), Template(ARRAY, (1,), None))
    array(['mild'], dtype=object)
    """
    labels = np.asarray(labels, dtype=object)
    if template.kind == SCALAR:
        return labels.reshape(()).item()
    if template.kind == SERIES:
        return pd.Series(labels.reshape(template.shape), index=template.index, dtype=object)
    return labels.reshape(template.shape)


def categorize(values: np.ndarray, cuts: tuple, template: Template):
    """Label each value by ordered cut-offs.

    Parameters
    ----------
    values : numpy.ndarray
        Float scores, NaN for missing.
    cuts : tuple of (label, test)
        Checked in order; ``test`` is a callable returning a three-valued flag
        array; the first label whose test is true wins; the last entry's test
        may be ``None`` (everything else).
    template : Template
        Output shape.

    Returns
    -------
    str, None, numpy.ndarray or pandas.Series
        Labels, ``None`` where the value is missing.

    Examples
    --------
    >>> categorize(np.array(1.0), (("low", lambda v: lt(v, 2)), ("high", None)),
    ...            Template(SCALAR, (), None))
    'low'
    """
    out = np.full(values.shape, None, dtype=object)
    undecided = ~np.isnan(values)
    for label, test in cuts:
        hit = undecided if test is None else undecided & (test(values) == 1)
        out[hit] = label
        undecided = undecided & ~hit
    return wrap_labels(out, template)


def table_columns(items, names: tuple, what: str) -> tuple[dict[str, object], bool]:
    """Pull named columns from a mapping or DataFrame, naming any that is missing.

    Parameters
    ----------
    items : mapping or pandas.DataFrame
        Column name to values.
    names : tuple of str
        Columns required.
    what : str
        Name of the argument, for error messages.

    Returns
    -------
    columns : dict of str to object
        The required columns, in ``names`` order.
    is_frame : bool
        Whether ``items`` is a DataFrame.

    Examples
    --------
    >>> table_columns({"a": 1, "b": 2}, ("a",), "items")
    ({'a': 1}, False)
    """
    if not isinstance(items, (Mapping, pd.DataFrame)):
        raise IndexInputError(
            f"{what}: must be a mapping or DataFrame (got {type(items).__name__})"
        )
    keys = list(items.columns) if isinstance(items, pd.DataFrame) else list(items.keys())
    missing = [n for n in names if n not in keys]
    if missing:
        raise IndexInputError(f"{what}: missing required column(s) {', '.join(missing)}")
    return {n: items[n] for n in names}, isinstance(items, pd.DataFrame)
