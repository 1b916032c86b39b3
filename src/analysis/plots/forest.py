"""Forest plot of regression estimates with confidence intervals, their text and p-values."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.formatting import estimate_labels, format_pvalue

__all__ = ["DISPLAY_RANGE", "plot_forest", "ratio_ticks"]

#: Ratios drawn on the log axis: estimates outside are listed, not drawn, and CI bars that
#: leave it end in an arrow (the tables report near-separation ORs such as 1e6 as they are).
DISPLAY_RANGE = (0.01, 100.0)
_MAX_TICKS = 7


def ratio_ticks(low: float, high: float) -> tuple[list[float], tuple[float, float]]:
    """Readable ticks and axis limits of a log-scaled ratio axis covering ``[low, high]``.

    Powers of two (0.25, 0.5, 1, 2, 4, ...) when at most seven fit, otherwise 1-2-5 steps
    of each decade (0.1, 0.2, 0.5, 1, 2, 5, 10) or, for wider ranges, the decades alone. The
    limits are the ticks at either end, so 1 is always on the axis and every tick label is
    short.

    Examples
    --------
    >>> ratio_ticks(0.6, 3.1)
    ([0.5, 1.0, 2.0, 4.0], (0.5, 4.0))
    >>> ratio_ticks(0.9, 1.2)
    ([0.5, 1.0, 2.0], (0.5, 2.0))
    >>> ratio_ticks(0.03, 40)[0]
    [0.01, 0.1, 1.0, 10.0, 100.0]
    """
    low, high = min(low, 1.0), max(high, 1.0)
    lo2, hi2 = np.floor(np.log2(low) + 1e-9), np.ceil(np.log2(high) - 1e-9)
    lo2, hi2 = min(lo2, -1.0), max(hi2, 1.0)  # at least 0.5, 1, 2
    if hi2 - lo2 + 1 <= _MAX_TICKS:
        ticks = [float(2.0 ** k) for k in np.arange(lo2, hi2 + 1)]
        return ticks, (ticks[0], ticks[-1])
    lo10, hi10 = int(np.floor(np.log10(low) + 1e-9)), int(np.ceil(np.log10(high) - 1e-9))
    steps = (1.0, 2.0, 5.0) if hi10 - lo10 <= 2 else (1.0,)
    ticks = [float(f"{m * 10.0 ** k:.10g}") for k in range(lo10, hi10 + 1) for m in steps
             if m * 10.0 ** k <= 10.0 ** hi10]
    return ticks, (ticks[0], ticks[-1])


def plot_forest(
    table: pd.DataFrame,
    reference_line: float | None = 1.0,
    log_scale: bool = True,
    estimate: str | None = None,
    label: str = "term",
    xlabel: str | None = None,
    ax=None,
    *,
    variables: Mapping[str, Mapping] | None = None,
    labels: Mapping[str, str] | None = None,
    columns: bool = True,
    decimals: int = 2,
):
    """Draw one point and horizontal CI bar per row, with the estimate and p-value as text.

    Parameters
    ----------
    table : pandas.DataFrame
        A tidy table with ``term`` (or ``label``), ``ci_lower``, ``ci_upper`` and an
        estimate column: ``odds_ratio`` (logistic tables) or ``estimate`` (linear); a
        ``p_value`` column fills the p column and a ``reference`` column names the reference
        level of categorical terms. Rows are drawn top to bottom in table order. Rows with a
        non-finite estimate or CI bound are listed with "(not estimable)" but not drawn.
    reference_line : float or None, default 1.0
        Vertical line of no effect (use 0 for linear estimates); ``None`` for none.
    log_scale : bool, default True
        Logarithmic x axis (for odds ratios) with the ticks of :func:`ratio_ticks`, limited
        to :data:`DISPLAY_RANGE`; needs positive estimates and bounds.
    estimate : str, optional
        Estimate column; defaults to ``odds_ratio`` if present, else ``estimate``.
    label : str, default "term"
        Column with the row labels (model terms).
    xlabel : str, optional
        Axis label; defaults to "Odds ratio (95% CI, log scale)" or "Estimate (95% CI)".
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is created otherwise.
    variables : mapping, optional
        Codebook: rows are labelled with codebook labels and the unit of each estimate
        (:func:`analysis.formatting.estimate_labels`: "Age (per 1 year)", "Sex: male (vs
        female)"); without it, rows show the raw terms.
    labels : mapping of str to str, optional
        Display label per term, overriding the codebook label.
    columns : bool, default True
        Add the "OR (95% CI)" (or "Estimate (95% CI)") and "p" text columns on the right.
    decimals : int, default 2
        Decimals of the estimate column.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    AnalysisError
        No row has a finite estimate and interval: the plot would be empty.

    Examples
    --------
    >>> t = pd.DataFrame({"term": ["age", "race[black]"], "odds_ratio": [0.96, 3.4],
    ...                   "ci_lower": [0.89, 1.2], "ci_upper": [1.04, 9.6], "p_value": [0.3, 0.02]})
    >>> fig = plot_forest(t)
    >>> ax = fig.axes[0]
    >>> [t.get_text() for t in ax.get_yticklabels()], ax.get_yticks().tolist()
    (['age', 'race[black]'], [1, 0])
    >>> [t.get_text() for t in fig.axes[1].texts]
    ['OR (95% CI)', 'p', '0.96 (0.89 to 1.04)', '0.300', '3.40 (1.20 to 9.60)', '0.020']
    >>> cb = {"age": {"label": "Age", "unit": "years"},
    ...       "race": {"label": "Race", "type": "categorical", "levels": ["white", "black"]}}
    >>> [t.get_text() for t in plot_forest(t, variables=cb).axes[0].get_yticklabels()]
    ['Age (per 1 year)', 'Race: black (vs white)']
    >>> t.loc[1, "ci_upper"] = float("nan")
    >>> [t.get_text() for t in plot_forest(t).axes[0].get_yticklabels()]
    ['age', 'race[black] (not estimable)']
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import FixedLocator, NullLocator

    if not isinstance(table, pd.DataFrame):
        raise AnalysisError(f"plot_forest expects a DataFrame, got {type(table).__name__}")
    if estimate is None:
        estimate = "odds_ratio" if "odds_ratio" in table.columns else "estimate"
    need = [label, estimate, "ci_lower", "ci_upper"]
    missing = [c for c in need if c not in table.columns]
    if missing:
        raise AnalysisError(f"plot_forest: table lacks column(s) {missing}")
    if len(table) == 0:
        raise AnalysisError("plot_forest: the table has no rows")
    est = table[estimate].to_numpy(dtype=float)
    lo = table["ci_lower"].to_numpy(dtype=float)
    hi = table["ci_upper"].to_numpy(dtype=float)
    drawable = np.isfinite(est) & np.isfinite(lo) & np.isfinite(hi)
    if log_scale:
        bad = drawable & ((est <= 0) | (lo <= 0))
        if bad.any():
            raise AnalysisError(
                f"plot_forest: column '{estimate}' or 'ci_lower' has values <= 0, impossible "
                "on a log scale; use log_scale=False"
            )
    names = _row_labels(table, label, variables, labels)
    if not drawable.any():
        raise AnalysisError(
            "plot_forest: no row has a finite estimate and confidence interval, nothing to "
            f"draw (not estimable: {names})"
        )
    outside = np.zeros(len(table), dtype=bool)
    if log_scale:
        outside = drawable & ((est < DISPLAY_RANGE[0]) | (est > DISPLAY_RANGE[1]))
    names = [text if ok else f"{text} (not estimable)" for text, ok in zip(names, drawable, strict=True)]
    names = [f"{text} (off the axis)" if off else text for text, off in zip(names, outside, strict=True)]
    shown = drawable & ~outside
    if not shown.any():
        raise AnalysisError(f"plot_forest: every estimate lies outside {DISPLAY_RANGE}: nothing to draw")
    y = np.arange(len(table))[::-1]
    if ax is None:
        fig = Figure(figsize=(9.0 if columns else 6.0, 1.3 + 0.3 * len(table)), layout="constrained")
        if columns:
            ax, text_ax = fig.subplots(1, 2, sharey=True, width_ratios=[3.2, 2.0])
        else:
            ax, text_ax = fig.subplots(), None
    else:
        fig = ax.figure
        text_ax = ax.inset_axes([1.02, 0.0, 0.6, 1.0], sharey=ax) if columns else None

    if log_scale:
        low = float(np.nanmin(np.where(shown, lo, np.inf)))
        high = float(np.nanmax(np.where(shown, hi, -np.inf)))
        ticks, limits = ratio_ticks(max(low, DISPLAY_RANGE[0]), min(high, DISPLAY_RANGE[1]))
        lo_drawn, hi_drawn = np.clip(lo, *limits), np.clip(hi, *limits)
    else:
        lo_drawn, hi_drawn = lo, hi
    ax.errorbar(
        est[shown], y[shown],
        xerr=[est[shown] - lo_drawn[shown], hi_drawn[shown] - est[shown]],
        fmt="s", color="black", ecolor="black", capsize=3, markersize=5,
    )
    if log_scale:  # a bar cut at the axis limit ends in an arrow
        for side, cut, marker in ((lo_drawn, lo < limits[0], "<"), (hi_drawn, hi > limits[1], ">")):
            cut = cut & shown
            if cut.any():
                ax.plot(side[cut], y[cut], linestyle="", marker=marker, color="black", markersize=6,
                        clip_on=False)
    if reference_line is not None:
        ax.axvline(reference_line, color="grey", linestyle="--", linewidth=1)
    if log_scale:
        ax.set_xscale("log")
        ax.set_xlim(*limits)
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticks(ticks, labels=[f"{t:g}" for t in ticks])
    ax.set_yticks(y, labels=names)
    ax.tick_params(axis="y", length=0, pad=8)  # clear of the arrows at the axis limit
    ax.set_ylim(-0.7, len(table) - 0.3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if xlabel is None:
        xlabel = ("Odds ratio (95% CI, log scale)" if estimate == "odds_ratio" and log_scale
                  else "Odds ratio (95% CI)" if estimate == "odds_ratio" else "Estimate (95% CI)")
    ax.set_xlabel(xlabel)
    if text_ax is not None:
        _text_columns(text_ax, table, est, lo, hi, y, estimate, decimals)
    return fig


def _row_labels(table: pd.DataFrame, label: str, variables, labels) -> list[str]:
    raw = table[label].astype(str).tolist()
    if variables is not None and label == "term":
        names = estimate_labels(table, variables)
    else:
        names = raw
    labels = dict(labels or {})
    return [str(labels.get(term, name)) for term, name in zip(raw, names, strict=True)]


def _text_columns(text_ax, table, est, lo, hi, y, estimate, decimals) -> None:
    """The "OR (95% CI)" and "p" columns beside the axis, one line per row."""
    text_ax.set_xlim(0, 1)
    text_ax.axis("off")
    heading = "OR (95% CI)" if estimate == "odds_ratio" else "Estimate (95% CI)"
    top = len(table) - 0.45
    style = {"va": "bottom", "fontweight": "bold", "clip_on": False, "fontsize": 9}
    text_ax.text(0.04, top, heading, ha="left", **style)
    text_ax.text(1.0, top, "p", ha="right", **style)
    pvalues = table["p_value"].tolist() if "p_value" in table else [np.nan] * len(table)
    for row, (e, a, b, p) in enumerate(zip(est, lo, hi, pvalues, strict=True)):
        finite = np.isfinite(e) and np.isfinite(a) and np.isfinite(b)
        cell = (f"{_compact(e, decimals)} ({_compact(a, decimals)} to {_compact(b, decimals)})"
                if finite else "not estimable")
        text_ax.text(0.04, y[row], cell, ha="left", va="center", clip_on=False, fontsize=9)
        text_ax.text(1.0, y[row], format_pvalue(p), ha="right", va="center", clip_on=False,
                     fontsize=9)


def _compact(value: float, decimals: int) -> str:
    """A number of the estimate column; ratios beyond 999 or below 0.01 as ">999" / "<0.01"."""
    if value >= 999.5:
        return ">999"
    if 0 <= value < 0.5 * 10.0 ** -decimals:
        return f"<{10.0 ** -decimals:.{decimals}f}"
    return f"{value:.{decimals}f}"
