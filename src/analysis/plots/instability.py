"""Riley & Collins' prediction instability plot: bootstrap models' risks against the final model's."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from analysis.errors import AnalysisError

#: At most this many points are drawn (a seeded sample of patient x bootstrap pairs).
MAX_POINTS = 20_000


def plot_prediction_instability(p, draws, *, seed: int = 0, title: str | None = None,
                                figsize: tuple[float, float] = (6.0, 6.0)) -> Figure:
    """Each patient's predicted risk under every bootstrap model, against the final model's.

    Points on the diagonal mean a bootstrap model agrees with the final model; the two lines
    are the 2.5th and 97.5th percentiles of the bootstrap risks, smoothed over the final
    model's risk (a running median over 5% of the patients), i.e. the spread of the risk a
    patient would have been given had the cohort been drawn again (Riley & Collins 2023).

    Parameters
    ----------
    p : array_like, shape (n,)
        The final model's predicted probabilities.
    draws : array_like, shape (B, n)
        The bootstrap models' probabilities for the same patients
        (:func:`analysis.validation.instability.instability_draws`).
    seed : int, default 0
        Seed of the sample of points drawn when there are more than :data:`MAX_POINTS`.
    title : str, optional
    figsize : tuple of float, default (6.0, 6.0)

    Returns
    -------
    matplotlib.figure.Figure
        One axes; nothing is saved.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> p = rng.uniform(0.1, 0.9, 50)
    >>> fig = plot_prediction_instability(p, np.clip(p + rng.normal(0, .05, (30, 50)), 0, 1))
    >>> len(fig.axes[0].lines)  # diagonal and the two percentile lines
    3
    """
    p = np.asarray(p, dtype=float)
    draws = np.asarray(draws, dtype=float)
    if p.ndim != 1 or draws.ndim != 2 or draws.shape[1] != p.size or not p.size:
        raise AnalysisError(f"draws must be B x n with n = len(p) = {p.size}, got {draws.shape}")
    fig = Figure(figsize=figsize)
    ax = fig.add_subplot()
    xs = np.broadcast_to(p, draws.shape).ravel()
    ys = draws.ravel()
    if xs.size > MAX_POINTS:
        keep = np.random.default_rng(seed).choice(xs.size, MAX_POINTS, replace=False)
        xs, ys = xs[keep], ys[keep]
    ax.scatter(xs, ys, s=4, alpha=0.15, color="0.35", linewidths=0, rasterized=True,
               label="bootstrap models")
    ax.plot([0, 1], [0, 1], color="black", linewidth=1, label="agreement")
    order = np.argsort(p, kind="stable")
    low, high = np.percentile(draws[:, order], [2.5, 97.5], axis=0)
    width = max(1, int(round(0.05 * p.size)))
    smooth = [np.array([np.median(v[max(0, i - width):i + width + 1]) for i in range(v.size)])
              for v in (low, high)]
    ax.plot(p[order], smooth[0], color="tab:blue", linewidth=1.5,
            label="2.5th-97.5th percentiles")
    ax.plot(p[order], smooth[1], color="tab:blue", linewidth=1.5)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="Predicted probability, final model",
           ylabel="Predicted probability, bootstrap models", aspect="equal")
    ax.legend(loc="upper left", frameon=False, fontsize="small")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig
