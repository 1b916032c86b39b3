"""Formatted (manuscript) copies of tidy estimate tables."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd


def term_label(term: str, variables: Mapping[str, Mapping] | None = None) -> str:
    """Readable label of a model term: ``sex[male]`` → ``Sex: male`` using codebook labels.

    Examples
    --------
    >>> term_label("sex[male]", {"sex": {"label": "Sex"}})
    'Sex: male'
    >>> term_label("crp", {"crp": {"label": "CRP", "unit": "mg/L", "transform": "log"}})
    'CRP, mg/L (log)'
    """
    variables = variables or {}
    name, _, level = term.partition("[")
    base = name.rstrip("'")
    spec = variables.get(base, {})
    label = spec.get("label") or base
    if level:
        return f"{label}: {level.rstrip(']')}"
    if spec.get("unit"):
        label = f"{label}, {spec['unit']}"
    if spec.get("transform") in ("log", "log1p", "sqrt"):
        label = f"{label} ({spec['transform']})"
    if name.endswith("'"):
        label = f"{label} (spline term {name.count(chr(39))})"
    return label


def format_estimates(table: pd.DataFrame, variables: Mapping[str, Mapping] | None = None, *,
                     estimate: str = "odds_ratio", heading: str = "OR (95% CI)",
                     decimals: int = 2) -> pd.DataFrame:
    """Manuscript layout of a tidy estimate table (``term, <estimate>, ci_lower, ci_upper,
    p_value, n``): one row per term, ``<heading>`` as "1.23 (0.98 to 1.54)".

    Examples
    --------
    >>> t = pd.DataFrame({"term": ["age"], "odds_ratio": [1.234], "ci_lower": [1.1],
    ...                   "ci_upper": [1.4], "p_value": [0.0004], "n": [100]})
    >>> [str(v) for v in format_estimates(t).iloc[0]]
    ['age', '1.23 (1.10 to 1.40)', '<0.001', '100']
    """
    def cell(row) -> str:
        est, lo, hi = row[estimate], row["ci_lower"], row["ci_upper"]
        if not np.isfinite(est):
            return "not estimable"
        return f"{est:.{decimals}f} ({lo:.{decimals}f} to {hi:.{decimals}f})"

    out = pd.DataFrame({
        "Term": [term_label(t, variables) for t in table["term"]],
        heading: [cell(r) for _, r in table.iterrows()],
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
