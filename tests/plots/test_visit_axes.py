"""Visit figures: x ticks exactly at the study's visit times, level labels in the legends."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.formatting import codebook_labels, level_labels
from analysis.plots.endpoints import plot_response_by_visit
from analysis.plots.mixed_model import plot_mixed_model
from analysis.plots.visits import plot_trajectories

TIMES = [0, 4, 8, 12, 24]
CODEBOOK = {"arm": {"type": "categorical", "label": "Treatment arm", "levels": ["mucosal", "iv_mucosal"],
                    "level_labels": {"iv_mucosal": "IV + mucosal"}},
            "cdai": {"type": "numeric", "label": "CDAI"},
            "crp_mg_l": {"type": "numeric", "label": "C-reactive protein", "unit": "mg/L"}}
ARMS = level_labels("arm", CODEBOOK)


def legend(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().texts]


def ticks(ax) -> list[float]:
    return [float(t) for t in ax.get_xticks()]


def test_response_by_visit_ticks_and_legend():
    rows = [{"visit": t, "arm": arm, "outcome": "cdai_response", "n": 20, "events": 5 + i,
             "proportion": (5 + i) / 20, "ci_lower": 0.1, "ci_upper": 0.7, "method": "Clopper-Pearson",
             "imputation": "non-responder"}
            for i, t in enumerate(TIMES[1:]) for arm in ("mucosal", "iv_mucosal")]
    fig = plot_response_by_visit(pd.DataFrame(rows), "cdai_response", arm_labels=ARMS)
    ax = fig.axes[0]
    assert ticks(ax) == [4.0, 8.0, 12.0, 24.0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["4", "8", "12", "24"]
    assert ax.get_xlabel() == "Week"
    assert legend(ax) == ["mucosal", "IV + mucosal"]


def test_trajectory_ticks_are_the_visit_times_despite_the_dodge():
    summary = pd.DataFrame([{"variable": "crp_mg_l", "group": g, "time": t, "n": 10, "mean": 5.0 - t / 10,
                             "percent": np.nan, "ci_lower": 4.0 - t / 10, "ci_upper": 6.0 - t / 10}
                            for g in ("Overall", "mucosal", "iv_mucosal") for t in TIMES])
    fig = plot_trajectories(summary, "crp_mg_l", time_label="Week", labels=codebook_labels(CODEBOOK),
                            group_labels=ARMS)
    ax = fig.axes[0]
    assert ticks(ax) == [float(t) for t in TIMES]
    assert ax.get_title() == "C-reactive protein (mg/L)"
    assert legend(ax) == ["Overall", "mucosal", "IV + mucosal"]
    assert not any(t.label1.get_text() for t in ax.xaxis.get_minor_ticks())


def test_mixed_model_ticks_legend_and_label():
    rng = np.random.default_rng(1)
    visits = pd.DataFrame([{"id": i, "week": t, "arm": "mucosal" if i % 2 else "iv_mucosal",
                            "cdai": 300 - 5 * t + rng.normal(0, 10)} for i in range(6) for t in TIMES])
    fit = pd.DataFrame({"variable": "cdai", "term": ["Intercept", "time", "arm[iv_mucosal]", "time:arm[iv_mucosal]"],
                        "estimate": [300.0, -5.0, 2.0, -1.0]})
    fig = plot_mixed_model(visits, "cdai", fit, id_col="id", time="week", arm="arm",
                           arm_levels=["mucosal", "iv_mucosal"], arm_labels=ARMS,
                           labels=codebook_labels(CODEBOOK), time_label="Week")
    ax = fig.axes[0]
    assert ticks(ax) == [float(t) for t in TIMES]
    assert ax.get_xlabel() == "Week" and ax.get_ylabel() == "CDAI"
    assert legend(ax) == ["mucosal", "IV + mucosal"]
