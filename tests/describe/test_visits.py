import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from analysis.describe.visits import visit_summary
from analysis.plots.visits import plot_trajectories


def test_visit_summary_matches_direct_computations():
    rng = np.random.default_rng(4)
    visits = pd.DataFrame({
        "week": np.repeat([0, 4, 12], 30), "arm": np.tile(["a", "b"], 45),
        "cdai": rng.normal(250, 60, 90), "resp": rng.integers(0, 2, 90).astype(float),
    })
    visits.loc[5, "resp"] = np.nan
    codebook = {"cdai": {"type": "numeric"}, "resp": {"type": "binary"}}
    table = visit_summary(visits, codebook, ["cdai", "resp"], "week", group="arm")
    row = table.query("variable == 'cdai' and time == 4 and group == 'b'").iloc[0]
    values = visits.query("week == 4 and arm == 'b'")["cdai"]
    lo, hi = stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=stats.sem(values))
    assert row["n"] == len(values) and row["mean"] == pytest.approx(values.mean())
    assert (row["ci_lower"], row["ci_upper"]) == pytest.approx((lo, hi))
    row = table.query("variable == 'resp' and time == 0 and group == 'Overall'").iloc[0]
    values = visits.query("week == 0")["resp"].dropna()
    wl, wh = proportion_confint(values.sum(), len(values), method="wilson")
    assert row["n"] == 29 and row["count"] == values.sum()
    assert (row["ci_lower"], row["ci_upper"]) == pytest.approx((100 * wl, 100 * wh))
    fig = plot_trajectories(table, "resp")
    assert fig.axes[0].get_ylim() == (0, 100) and len(fig.axes[0].get_legend().get_texts()) == 3
