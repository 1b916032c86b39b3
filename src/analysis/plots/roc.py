"""ROC curves of several models."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from analysis.evaluation.metrics import delong_auc
from analysis.evaluation.roc import roc_table


def plot_roc_curves(y, predictions: Mapping[str, np.ndarray], *, labels: Mapping[str, str] | None = None,
                    highlight: str | None = None, figsize=(6, 6)):
    """ROC curves with the DeLong AUC (95% CI) of each model in the legend."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize)
    table = roc_table(y, predictions)
    for name, rows in table.groupby("model", sort=False):
        auc = delong_auc(np.asarray(y), np.asarray(predictions[name]))
        label = f"{(labels or {}).get(name, name)}: {auc.auc:.2f} ({auc.ci_lower:.2f}–{auc.ci_upper:.2f})"
        width = 2.6 if name == highlight else 1.2
        ax.step(rows["fpr"], rows["tpr"], where="post", lw=width, label=label)
    ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=1)
    ax.set(xlabel="1 − specificity", ylabel="Sensitivity", xlim=(0, 1), ylim=(0, 1.01),
           title="ROC curves, out-of-fold predictions")
    ax.legend(loc="lower right", fontsize=8, title="AUC (95% CI)", title_fontsize=8)
    ax.set_aspect("equal")
    fig.tight_layout()
    return fig
