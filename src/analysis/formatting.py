"""Manuscript formatting: display labels and units from the codebook, estimate cells, p-values."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from analysis.environment import MIN_CELL_COUNT_ENV  # noqa: F401  (re-exported)

#: Columns of the project's tidy tables that hold variable names or model terms; their
#: values get codebook labels in the formatted (manuscript) copies (:func:`label_table`).
LABEL_COLUMNS = ("term", "variable", "var1", "var2", "marker", "outcome", "predictor")

_PLURAL_UNITS = {"years": "year", "months": "month", "weeks": "week", "days": "day",
                 "hours": "hour", "minutes": "minute", "points": "point", "cigarettes": "cigarette"}


def _spec(variables: Mapping[str, Mapping] | None, name: str) -> Mapping:
    spec = (variables or {}).get(name, {})
    # a study.Variable works as well as its as_dict() form
    return spec.as_dict() if hasattr(spec, "as_dict") else spec


def column_label(name: str, variables: Mapping[str, Mapping] | None = None, *,
                 unit: bool = True) -> str:
    """Display label of a column: codebook ``label`` with its ``unit`` in parentheses.

    A column without a codebook entry (or without a label) keeps its name.

    Examples
    --------
    >>> column_label("crp_mg_l", {"crp_mg_l": {"label": "CRP", "unit": "mg/L"}})
    'CRP (mg/L)'
    >>> column_label("crp_mg_l", {"crp_mg_l": {"label": "CRP", "unit": "mg/L"}}, unit=False)
    'CRP'
    >>> column_label("age")
    'age'
    """
    spec = _spec(variables, name)
    label = spec.get("label") or name
    if unit and spec.get("unit"):
        label = f"{label} ({spec['unit']})"
    return str(label)


def level_label(name: str, level, variables: Mapping[str, Mapping] | None = None) -> str:
    """Display label of one level of a categorical column.

    The codebook entry's ``level_labels`` mapping (``{code: label}``) when it names the
    level, otherwise the code with underscores shown as spaces (``iv_mucosal`` →
    ``iv mucosal``), so a legend never shows a raw code.

    Examples
    --------
    >>> level_label("arm", "iv_mucosal", {"arm": {"levels": ["mucosal", "iv_mucosal"]}})
    'iv mucosal'
    >>> level_label("arm", "iv_mucosal", {"arm": {"level_labels": {"iv_mucosal": "IV + mucosal"}}})
    'IV + mucosal'
    """
    names = _spec(variables, name).get("level_labels") or {}
    text = names.get(level, names.get(str(level)))
    return str(text) if text is not None else str(level).replace("_", " ")


def level_labels(name: str, variables: Mapping[str, Mapping] | None = None,
                 levels=None) -> dict[str, str]:
    """``{code: label}`` for the codebook levels of ``name`` (or the given ``levels``): legends.

    A binary column has no levels in the codebook: its codes 0 and 1 (also written ``0.0``,
    ``1.0`` once a column has been through a float) read ``<label>: no`` / ``<label>: yes``.

    Examples
    --------
    >>> level_labels("arm", {"arm": {"type": "categorical", "levels": ["mucosal", "iv_mucosal"]}})
    {'mucosal': 'mucosal', 'iv_mucosal': 'iv mucosal'}
    >>> level_labels("dsdna", {"dsdna": {"type": "binary", "label": "Anti-dsDNA"}})["1.0"]
    'Anti-dsDNA: yes'
    """
    spec = _spec(variables, name)
    if spec.get("type") == "binary" and not spec.get("level_labels"):
        label = spec.get("label") or name
        return {code: f"{label}: {word}" for code, word in
                (("0", "no"), ("1", "yes"), ("0.0", "no"), ("1.0", "yes"))}
    if levels is None:
        levels = spec.get("levels") or []
    return {str(lv): level_label(name, lv, variables) for lv in levels}


def term_label(term: str, variables: Mapping[str, Mapping] | None = None) -> str:
    """Readable label of a model term as :func:`analysis.regression.design.design_matrix` names it.

    ``sex[male]`` → ``Sex: male``; ``crp`` → ``CRP (mg/L, log)`` for a log-transformed
    predictor; ``age'`` → ``Age (spline term 1)``; codebook labels, units and level labels
    (:func:`level_label`) are used where they exist, the raw name otherwise.

    Examples
    --------
    >>> term_label("sex[male]", {"sex": {"label": "Sex"}})
    'Sex: male'
    >>> term_label("crp", {"crp": {"label": "CRP", "unit": "mg/L", "transform": "log"}})
    'CRP (mg/L, log)'
    >>> term_label("age''", {"age": {"label": "Age", "unit": "years"}})
    'Age (spline term 2)'
    """
    name, _, level = term.partition("[")
    base = name.rstrip("'")
    spec = _spec(variables, base)
    label = spec.get("label") or base
    if level:
        return f"{label}: {level_label(base, level[:-1] if level.endswith(']') else level, variables)}"
    if name.endswith("'"):
        return f"{label} (spline term {name.count(chr(39))})"
    details = [spec["unit"]] if spec.get("unit") else []
    if spec.get("transform") in ("log", "log1p", "sqrt"):
        details.append(spec["transform"])
    return f"{label} ({', '.join(details)})" if details else str(label)


def _per_one(unit: str | None) -> str:
    if not unit:
        return "per 1 unit"
    if unit.strip() == "%":
        return "per 1 percentage point"
    return f"per 1 {_PLURAL_UNITS.get(unit, unit)}"


def estimate_unit(term: str, variables: Mapping[str, Mapping] | None = None, *,
                  reference=None, spline: bool = False) -> str:
    """What one estimate of a regression table compares, as the tables report it.

    The regression tables (:mod:`analysis.regression.tables`) estimate per one unit of each
    model column: a numeric predictor per 1 codebook ``unit``; a ``transform: log``
    predictor per unit of its base-2 log, i.e. per doubling; a binary
    predictor yes vs no; a level of a categorical predictor vs the reference level; spline
    terms have no unit of their own (``""``).

    Parameters
    ----------
    term : str
        Model term (``age``, ``sex[male]``, ``age'``).
    variables : mapping, optional
        Codebook.
    reference : optional
        Reference level of a categorical term (the table's ``reference`` column); default:
        the first codebook level.
    spline : bool, default False
        The term belongs to a restricted cubic spline (its linear part included).

    Examples
    --------
    >>> cb = {"age": {"type": "numeric", "unit": "years"}, "crp": {"type": "numeric",
    ...       "transform": "log"}, "sex": {"type": "categorical", "levels": ["female", "male"]},
    ...       "smoker": {"type": "binary"}}
    >>> [estimate_unit(t, cb) for t in ["age", "crp", "sex[male]", "smoker"]]
    ['per 1 year', 'per doubling', 'vs female', 'yes vs no']
    """
    name, _, level = term.partition("[")
    base = name.rstrip("'")
    spec = _spec(variables, base)
    if level:
        if reference is None or (isinstance(reference, float) and np.isnan(reference)):
            levels = spec.get("levels") or []
            reference = levels[0] if levels else None
        return f"vs {level_label(base, reference, variables)}" if reference is not None else ""
    if spline or name.endswith("'"):
        return ""
    if spec.get("type") == "binary":
        return "yes vs no"
    transform = spec.get("transform")
    if transform == "log":
        return "per doubling"
    if transform == "log1p":
        return "per 1 unit of log(1 + x)"
    if transform == "sqrt":
        return "per 1 unit of √x"
    return _per_one(spec.get("unit"))


def estimate_labels(table: pd.DataFrame, variables: Mapping[str, Mapping] | None = None) -> list[str]:
    """Row labels of a tidy estimate table with the unit of each estimate.

    ``"<term label> (<unit>)"`` (:func:`term_label`, :func:`estimate_unit`): the one home of
    the row labels of the formatted regression tables and of the forest plot. The table's
    ``reference`` column (when present) names the reference level of categorical terms; a
    variable with a ``var'`` term is read as a spline.

    Examples
    --------
    >>> cb = {"age": {"label": "Age", "unit": "years"},
    ...       "sex": {"label": "Sex", "type": "categorical", "levels": ["female", "male"]}}
    >>> estimate_labels(pd.DataFrame({"term": ["age", "sex[male]"]}), cb)
    ['Age (per 1 year)', 'Sex: male (vs female)']
    """
    terms = [str(t) for t in table["term"]]
    splined = {t.rstrip("'") for t in terms if t.endswith("'")}
    references = table["reference"].tolist() if "reference" in table else [None] * len(terms)
    out = []
    for term, reference in zip(terms, references, strict=True):
        base = term.partition("[")[0].rstrip("'")
        name = term_label(term, variables)
        if not term.endswith("'") and "[" not in term:
            name = column_label(base, variables, unit=False)
        unit = estimate_unit(term, variables, reference=reference, spline=base in splined)
        if base in splined and not term.endswith("'"):
            name = f"{name} (spline, linear term)"
        out.append(f"{name} ({unit})" if unit else name)
    return out


def estimate_cell(estimate: float, lower: float, upper: float, decimals: int = 2) -> str:
    """``"1.23 (0.98 to 1.54)"``, or ``"not estimable"`` for a non-finite estimate.

    Examples
    --------
    >>> estimate_cell(1.234, 1.1, 1.4), estimate_cell(float("nan"), 1.0, 2.0)
    ('1.23 (1.10 to 1.40)', 'not estimable')
    """
    if not np.isfinite(estimate):
        return "not estimable"
    return f"{estimate:.{decimals}f} ({lower:.{decimals}f} to {upper:.{decimals}f})"


def codebook_labels(variables: Mapping[str, Mapping] | None) -> dict[str, str]:
    """Display label of every column and categorical-level term of a codebook.

    Keys are column names (``crp_mg_l`` → ``C-reactive protein (mg/L)``, :func:`column_label`)
    and, for categorical columns, the model terms ``name[level]`` (``sex[male]`` →
    ``Sex: male``, :func:`term_label`). This is the ``labels`` mapping every plot function
    of :mod:`analysis.plots` takes.

    Examples
    --------
    >>> codebook_labels({"sex": {"type": "categorical", "label": "Sex",
    ...                          "levels": ["female", "male"]}})
    {'sex': 'Sex', 'sex[female]': 'Sex: female', 'sex[male]': 'Sex: male'}
    """
    out: dict[str, str] = {}
    for name in variables or {}:
        out[str(name)] = column_label(name, variables)
        for level in _spec(variables, name).get("levels") or []:
            out[f"{name}[{level}]"] = term_label(f"{name}[{level}]", variables)
    return out


def label_table(table: pd.DataFrame, variables: Mapping[str, Mapping] | None,
                columns=LABEL_COLUMNS) -> pd.DataFrame:
    """A copy of a tidy table whose name-holding columns show codebook labels.

    For the formatted (HTML/DOCX) copy written by :func:`analysis.pipeline.export.save_table`
    (``formatted=label_table(tidy, codebook)``); the tidy table is not changed. Values of
    ``columns`` (``term``, ``variable``, ``var1``, ...) that are a codebook column or a
    categorical term get their :func:`codebook_labels` label, and so do column headers that
    name a codebook column (a wide table such as the missingness patterns); other values stay.

    Examples
    --------
    >>> t = pd.DataFrame({"variable": ["crp_mg_l", "other"], "vif": [1.2, 3.4]})
    >>> label_table(t, {"crp_mg_l": {"label": "CRP", "unit": "mg/L"}})["variable"].tolist()
    ['CRP (mg/L)', 'other']
    >>> list(label_table(pd.DataFrame({"crp_mg_l": [1], "count": [3]}),
    ...                  {"crp_mg_l": {"label": "CRP", "unit": "mg/L"}}).columns)
    ['CRP (mg/L)', 'count']
    """
    labels = codebook_labels(variables)
    out = table.copy()
    out.columns = [labels.get(c, c) if isinstance(c, str) and c in (variables or {}) else c
                   for c in table.columns]
    for column in columns:
        if column in out.columns and (pd.api.types.is_object_dtype(out[column])
                                      or pd.api.types.is_string_dtype(out[column])):
            out[column] = [labels.get(v, v) if isinstance(v, str) else v for v in out[column]]
    return out


def format_estimates(table: pd.DataFrame, variables: Mapping[str, Mapping] | None = None, *,
                     estimate: str = "odds_ratio", heading: str = "OR (95% CI)",
                     decimals: int = 2) -> pd.DataFrame:
    """Manuscript layout of a tidy estimate table (``term, <estimate>, ci_lower, ci_upper,
    p_value, n``): one row per term labelled with its unit (:func:`estimate_labels`),
    ``<heading>`` as "1.23 (0.98 to 1.54)".

    Examples
    --------
    >>> t = pd.DataFrame({"term": ["age"], "odds_ratio": [1.234], "ci_lower": [1.1],
    ...                   "ci_upper": [1.4], "p_value": [0.0004], "n": [100]})
    >>> [str(v) for v in format_estimates(t).iloc[0]]
    ['age (per 1 unit)', '1.23 (1.10 to 1.40)', '<0.001', '100']
    """
    out = pd.DataFrame({
        "Term": estimate_labels(table, variables),
        heading: [estimate_cell(e, lo, hi, decimals) for e, lo, hi
                  in zip(table[estimate], table["ci_lower"], table["ci_upper"], strict=True)],
        "P-value": [format_pvalue(p) for p in table["p_value"]],
    })
    if "n" in table:
        out["n"] = table["n"].to_numpy()
    return out


def format_pvalue(p: float) -> str:
    """Format a p-value as ``"<0.001"`` or with 3 decimals (``""`` for NaN).

    Parameters
    ----------
    p : float
        The p-value.

    Returns
    -------
    str
        The formatted p-value.

    Examples
    --------
    >>> format_pvalue(0.0004), format_pvalue(0.0412), format_pvalue(float("nan"))
    ('<0.001', '0.041', '')
    """
    if pd.isna(p):
        return ""
    return "<0.001" if p < 0.001 else f"{p:.3f}"


_MARKDOWN_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]|~"})


def escape_text(text) -> str:
    """Text from a user's file (study title, description, labels) made safe for Markdown/HTML.

    Markdown's emphasis, code, link and table characters are backslash-escaped and HTML is
    escaped (``<script>`` shows as text and never runs), so a title cannot inject markup
    into a notebook's Markdown output or the report.

    Examples
    --------
    >>> escape_text('<img src=x onerror="alert(1)">')
    '&lt;img src=x onerror=&quot;alert(1)&quot;&gt;'
    >>> escape_text("[click](javascript:alert(1)) *IBD* 2020-2024.")
    '\\\\[click\\\\](javascript:alert(1)) \\\\*IBD\\\\* 2020-2024.'
    """
    import html

    return html.escape(str(text).translate(_MARKDOWN_SPECIAL), quote=False).replace('"', "&quot;")


#: Columns of tidy tables that hold counts of patients or events (what small-cell
#: suppression applies to).
COUNT_COLUMNS = frozenset({
    "n", "events", "count", "patients", "n_patients", "n_events", "non_events", "missing",
    "serious", "n_serious", "responders", "n_observed", "n_missing",
})


def suppress_small_counts(table: pd.DataFrame, min_cell_count: int | None) -> pd.DataFrame:
    """``table`` with counts from 1 to ``min_cell_count - 1`` shown as ``"<min_cell_count"``.

    Applies to the count columns (:data:`COUNT_COLUMNS`, matched case-insensitively);
    zeros and larger counts stay as they are (a zero discloses no one), other columns are
    untouched; ``None`` returns the table unchanged.  Used for the *rendered* copies of a
    table (report, HTML, DOCX); the tidy CSV keeps the exact counts for the analyst.

    Examples
    --------
    >>> t = pd.DataFrame({"visit": [4, 8, 12], "n": [40, 3, 0], "proportion": [0.5, 0.1, 0.0]})
    >>> suppress_small_counts(t, 5)["n"].tolist()
    [40, '<5', 0]
    """
    if not min_cell_count or not isinstance(table, pd.DataFrame):
        return table
    out = table.copy()
    for column in out.columns:
        if str(column).lower() not in COUNT_COLUMNS:
            continue
        values = pd.to_numeric(out[column], errors="coerce")
        small = values.notna() & (values >= 1) & (values < min_cell_count) & (values % 1 == 0)
        if small.any():
            out[column] = out[column].astype(object).where(~small, f"<{min_cell_count}")
    return out


# -- numbers in running text (the manuscript's sentences; the tables use estimate_cell) --

def is_number(value) -> bool:
    """Whether ``value`` is a finite real number (text such as "0.5" counts).

    Examples
    --------
    >>> is_number(0.5), is_number("2"), is_number(float("nan")), is_number(None), is_number(True)
    (True, True, False, False, False)
    """
    if value is None or isinstance(value, bool):
        return False
    try:
        return bool(np.isfinite(float(value)))
    except (TypeError, ValueError):
        return False


def estimate_with_ci(estimate, lower, upper, decimals: int = 2, *, level: str = "95% CI") -> str:
    """``"0.69 (95% CI 0.62 to 0.77)"``; without finite limits only the estimate.

    Examples
    --------
    >>> estimate_with_ci(0.6922, 0.6171, 0.7678)
    '0.69 (95% CI 0.62 to 0.77)'
    >>> estimate_with_ci(0.6922, float("nan"), None, 3)
    '0.692'
    >>> estimate_with_ci(None, 0.1, 0.2)
    'not estimable'
    """
    if not is_number(estimate):
        return "not estimable"
    text = f"{float(estimate):.{decimals}f}"
    if is_number(lower) and is_number(upper):
        text += f" ({level} {float(lower):.{decimals}f} to {float(upper):.{decimals}f})"
    return text


def percent(value, decimals: int = 1) -> str:
    """A proportion as a percentage.

    Examples
    --------
    >>> percent(0.325), percent(1), percent(None)
    ('32.5%', '100.0%', 'not estimable')
    """
    if not is_number(value):
        return "not estimable"
    return f"{100 * float(value):.{decimals}f}%"


def proportion_with_ci(events, n, lower, upper, decimals: int = 1) -> str:
    """``"26/40 (65.0%, 95% CI 48.3% to 79.4%)"``: a count, its percentage and CI.

    Examples
    --------
    >>> proportion_with_ci(26, 40, 0.48316, 0.79372)
    '26/40 (65.0%, 95% CI 48.3% to 79.4%)'
    >>> proportion_with_ci(0, 0, None, None)
    '0/0'
    """
    events, n = int(events), int(n)
    if n == 0:
        return f"{events}/{n}"
    text = f"{events}/{n} ({percent(events / n, decimals)}"
    if is_number(lower) and is_number(upper):
        text += f", 95% CI {percent(lower, decimals)} to {percent(upper, decimals)}"
    return text + ")"
