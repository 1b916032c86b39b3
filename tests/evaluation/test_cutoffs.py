"""Tests of analysis.evaluation.cutoffs: Youden cut-offs against sklearn's ROC curve and by hand."""

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from sklearn.metrics import roc_curve

from analysis.errors import AnalysisError
from analysis.evaluation.cutoffs import CUTOFF_COLUMNS, cutoff_table, youden_cutoff
from analysis.evaluation.metrics import delong_auc
from analysis.plots.added_value import plot_roc_markers


def _reference(x, y):
    """Youden cut-off from sklearn: all thresholds, max J, smallest threshold among ties."""
    fpr, tpr, thr = roc_curve(y, x, drop_intermediate=False)
    finite = np.isfinite(thr)
    fpr, tpr, thr = fpr[finite], tpr[finite], thr[finite]
    j = tpr - fpr
    best = np.flatnonzero(np.isclose(j, j.max(), rtol=0, atol=1e-12))
    k = best[np.argmin(thr[best])]
    return thr[k], tpr[k], 1 - fpr[k]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    n = 150
    y = rng.binomial(1, 0.4, n)
    x = rng.normal(0, 1, n) + 1.0 * y
    return x, y


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cutoff_sensitivity_specificity_match_sklearn_roc_curve(seed):
    rng = np.random.default_rng(seed)
    n = 200
    y = rng.binomial(1, 0.3, n)
    x = np.round(rng.normal(0, 1, n) + 0.8 * y, 1)  # rounding makes ties in the marker
    row = youden_cutoff(x, y, n_boot=10).iloc[0]
    cut, sens, spec = _reference(x, y)
    assert row["direction"] == "higher"
    assert row["cutoff"] == pytest.approx(cut)
    assert row["sensitivity"] == pytest.approx(sens)
    assert row["specificity"] == pytest.approx(spec)
    assert row["youden_j"] == pytest.approx(sens + spec - 1)
    assert row["auc"] == pytest.approx(delong_auc(y, x).auc)


def test_tiny_hand_example_with_a_tie_takes_the_smallest_cutoff():
    # cut-off 3: TP 3/3, FP 1/3 (the 4) -> J = 2/3; cut-off 5: TP 2/3, FP 0 -> J = 2/3
    row = youden_cutoff([1, 2, 3, 4, 5, 6], [0, 0, 1, 0, 1, 1], n_boot=10).iloc[0]
    assert list(row.index) == list(CUTOFF_COLUMNS)
    assert (row["cutoff"], row["sensitivity"], row["specificity"]) == (3.0, 1.0, pytest.approx(2 / 3))
    assert row["auc"] == pytest.approx(8 / 9)
    assert (row["n"], row["events"]) == (6, 3)


def test_direction_lower_by_hand_and_auto():
    x = [1, 2, 3, 4, 5, 6]
    y = [1, 1, 0, 1, 0, 0]
    # marker <= 2: sens 2/3, spec 1; marker <= 4: sens 1, spec 2/3 -> tie, smallest is 2
    for direction in ("lower", "auto"):
        row = youden_cutoff(x, y, direction=direction, n_boot=10).iloc[0]
        assert row["direction"] == "lower"
        assert row["cutoff"] == 2.0
        assert row["sensitivity"] == pytest.approx(2 / 3) and row["specificity"] == 1.0
        assert row["auc"] == pytest.approx(8 / 9)
    forced = youden_cutoff(x, y, direction="higher", n_boot=10).iloc[0]
    assert forced["auc"] == pytest.approx(1 / 9)


def test_direction_lower_matches_sklearn_on_negated_marker(data):
    x, y = data
    row = youden_cutoff(-x, y, n_boot=10).iloc[0]
    assert row["direction"] == "lower"
    fpr, tpr, thr = roc_curve(y, x, drop_intermediate=False)
    j = (tpr - fpr)[np.isfinite(thr)]
    k = int(np.argmax(j))
    assert row["cutoff"] == pytest.approx(-thr[np.isfinite(thr)][k])
    assert row["youden_j"] == pytest.approx(j[k])


def test_bootstrap_is_reproducible_and_intervals_contain_the_estimates(data):
    x, y = data
    a = youden_cutoff(x, y, n_boot=300, seed=5)
    b = youden_cutoff(x, y, n_boot=300, seed=5)
    c = youden_cutoff(x, y, n_boot=300, seed=6)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    row = a.iloc[0]
    for stat in ("auc", "cutoff", "sensitivity", "specificity"):
        assert row[f"{stat}_ci_lower"] <= row[stat] <= row[f"{stat}_ci_upper"], stat
        assert row[f"{stat}_ci_lower"] < row[f"{stat}_ci_upper"], stat


def test_missing_values_are_dropped_and_counted(data):
    x, y = data
    xm = x.copy()
    xm[:7] = np.nan
    ym = y.astype(float)
    ym[10:13] = np.nan
    row = youden_cutoff(pd.Series(xm, name="crp"), ym, n_boot=10).iloc[0]
    assert row["marker"] == "crp"
    assert row["n"] == x.size - 10
    ref = youden_cutoff(x[13:].tolist() + x[7:10].tolist(), y[13:].tolist() + y[7:10].tolist(),
                        n_boot=10).iloc[0]
    assert row["cutoff"] == ref["cutoff"] and row["youden_j"] == ref["youden_j"]


def test_cutoff_table_concatenates_markers(data):
    x, y = data
    df = pd.DataFrame({"up": x, "down": -x, "y": y})
    t = cutoff_table(df, ["up", "down"], "y", n_boot=20)
    assert t["marker"].tolist() == ["up", "down"]
    assert t["direction"].tolist() == ["higher", "lower"]
    assert t["auc"].iloc[0] == pytest.approx(t["auc"].iloc[1])
    t2 = cutoff_table(df, ["up"], df["y"].to_numpy(), n_boot=20)
    pd.testing.assert_frame_equal(t.iloc[[0]], t2)
    fig = plot_roc_markers(df, ["up", "down"], "y", t, labels={"up": "Marker"})
    assert isinstance(fig, Figure)


@pytest.mark.parametrize(
    "kwargs",
    [{"direction": "up"}, {"n_boot": 1}, {"alpha": 1.5}],
)
def test_bad_arguments_raise(kwargs, data):
    x, y = data
    with pytest.raises(AnalysisError):
        youden_cutoff(x, y, **kwargs)


def test_bad_inputs_raise(data):
    x, y = data
    with pytest.raises(AnalysisError):
        youden_cutoff(x[:-1], y)
    with pytest.raises(AnalysisError):
        youden_cutoff(x, np.zeros_like(y))
    with pytest.raises(AnalysisError):
        youden_cutoff(np.full(x.size, np.nan), y)
    with pytest.raises(AnalysisError):
        cutoff_table(pd.DataFrame({"a": x, "y": y}), ["b"], "y")
