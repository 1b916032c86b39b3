"""Treatment benefit: by baseline risk (the PATH risk-based analysis) and as predicted per patient."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.benefit.effect_model import option_name
from analysis.errors import AnalysisError
from analysis.evaluation.metrics import proportion_ci


def plot_benefit_by_risk(
    table: pd.DataFrame,
    *,
    reference: str,
    option_labels: dict[str, str] | None = None,
    figsize: tuple[float, float] = (10.0, 4.2),
) -> Figure:
    """Response under each option, and the difference to the reference, by risk group.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`analysis.benefit.risk_groups.benefit_by_risk` output.
    reference : str
        The reference option (drawn in the left panel only).
    option_labels : dict, optional
        Display names of the options (default: the option codes).
    figsize : tuple of float, default (10.0, 4.2)

    Returns
    -------
    matplotlib.figure.Figure
        Left: observed response with Wilson 95% CIs per option and risk group. Right: the
        risk-adjusted difference to the reference with its 95% CI, a dashed line at 0;
        nothing is saved.

    Examples
    --------
    >>> t = pd.DataFrame({"risk_group": ["Q1", "Q1", "Q2", "Q2"], "option": ["a", "b"] * 2,
    ...                   "n": [10, 12, 11, 9], "events": [2, 6, 6, 5],
    ...                   "response": [0.2, 0.5, 6 / 11, 5 / 9],
    ...                   "difference": [np.nan, 0.3, np.nan, 0.01],
    ...                   "ci_lower": [np.nan, -0.1, np.nan, -0.4],
    ...                   "ci_upper": [np.nan, 0.6, np.nan, 0.4], "method": ""})
    >>> len(plot_benefit_by_risk(t, reference="a").axes)
    2
    """
    needed = {"risk_group", "option", "n", "events", "response", "difference", "ci_lower",
              "ci_upper"}
    if not needed <= set(table.columns):
        raise AnalysisError(f"table lacks column(s) {sorted(needed - set(table.columns))}")
    labels = option_labels or {}
    groups = list(dict.fromkeys(table["risk_group"]))
    options = list(dict.fromkeys(table["option"]))
    fig = Figure(figsize=figsize, layout="constrained")
    left, right = fig.subplots(1, 2)
    x = np.arange(len(groups))
    width = 0.8 / max(len(options), 1)
    for k, option in enumerate(options):
        rows = table[table["option"] == option].set_index("risk_group").reindex(groups)
        lo, hi = proportion_ci(rows["events"].fillna(0).astype(int),
                               rows["n"].fillna(0).astype(int))
        pos = x - 0.4 + width * (k + 0.5)
        # (np.maximum: rounding can make a zero-width bar a hair negative; NaN stays NaN)
        left.errorbar(pos, rows["response"],
                      yerr=[np.maximum(rows["response"] - lo, 0), np.maximum(hi - rows["response"], 0)],
                      fmt="o", capsize=3, label=labels.get(option, option))
        if option != reference:
            right.errorbar(pos, rows["difference"],
                           yerr=[np.maximum(rows["difference"] - rows["ci_lower"], 0),
                                 np.maximum(rows["ci_upper"] - rows["difference"], 0)],
                           fmt="s", capsize=3, label=labels.get(option, option),
                           color=f"C{k}")
    for ax in (left, right):
        ax.set_xticks(x, groups)
        ax.set_xlabel("Quarter of predicted baseline risk (treatment-blind model)")
    left.set_ylabel("Observed response (95% CI)")
    left.set_ylim(0, 1)
    left.legend(frameon=False, fontsize="small")
    right.axhline(0.0, color="grey", linestyle="--", linewidth=1)
    right.set_ylabel(f"Difference to {labels.get(reference, reference)} (95% CI)")
    right.legend(frameon=False, fontsize="small")
    return fig


def plot_predicted_benefit(
    table: pd.DataFrame,
    *,
    options,
    reference: str,
    option_labels: dict[str, str] | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Distribution of predicted benefit over the reference, one panel per other option.

    Parameters
    ----------
    table : pandas.DataFrame
        :meth:`analysis.benefit.effect_model.BenefitModel.option_table` output
        (``benefit_<option>``, ``benefit_ci_lower_<option>``, ``benefit_ci_upper_<option>``).
    options : sequence of str
    reference : str
    option_labels : dict, optional
    figsize : tuple of float, optional

    Returns
    -------
    matplotlib.figure.Figure
        Per option: patients sorted by predicted benefit with their 95% intervals (grey),
        the points coloured where the interval excludes 0, and a dashed line at 0.

    Examples
    --------
    >>> t = pd.DataFrame({"benefit_b": [0.1, -0.1, 0.0], "benefit_ci_lower_b": [0.05, -0.2, -0.1],
    ...                   "benefit_ci_upper_b": [0.2, -0.05, 0.1]})
    >>> len(plot_predicted_benefit(t, options=["a", "b"], reference="a").axes)
    1
    """
    labels = option_labels or {}
    others = [str(o) for o in options if str(o) != str(reference)]
    if not others:
        raise AnalysisError("plot_predicted_benefit needs an option besides the reference")
    fig = Figure(figsize=figsize or (4.2 * min(len(others), 3), 3.6 * ((len(others) + 2) // 3)))
    ncols = min(len(others), 3)
    nrows = (len(others) + ncols - 1) // ncols
    for k, option in enumerate(others):
        name = option_name(option)
        b = table[f"benefit_{name}"].to_numpy(dtype=float)
        lo = table[f"benefit_ci_lower_{name}"].to_numpy(dtype=float)
        hi = table[f"benefit_ci_upper_{name}"].to_numpy(dtype=float)
        order = np.argsort(b, kind="stable")
        x = np.arange(1, len(b) + 1)
        ax = fig.add_subplot(nrows, ncols, k + 1)
        ax.vlines(x, lo[order], hi[order], color="0.8", linewidth=0.8)
        clear = (lo[order] > 0) | (hi[order] < 0)
        ax.plot(x[~clear], b[order][~clear], "o", color="0.4", markersize=2.5,
                label="interval includes 0")
        ax.plot(x[clear], b[order][clear], "o", color="tab:red", markersize=3,
                label="interval excludes 0")
        ax.axhline(0, color="black", linestyle="--", linewidth=0.8)
        ax.set_xlabel("Patients, sorted by predicted benefit")
        ax.set_ylabel(f"{labels.get(option, option)} minus {labels.get(reference, reference)}")
        ax.set_title(f"Predicted benefit of {labels.get(option, option)}", fontsize=10)
        if k == 0:
            ax.legend(fontsize=8, loc="upper left", frameon=False)
    fig.tight_layout()
    return fig
