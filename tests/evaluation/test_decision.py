"""Tests of analysis.evaluation.decision against dcurves (stored golden output) and hand computations."""

from pathlib import Path

import dcurves
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from analysis.errors import AnalysisError
from analysis.evaluation.decision import decision_curve, net_benefit
from analysis.plots.decision import plot_decision_curve

GOLDEN = Path(__file__).parents[1] / "golden" / "dca_binary.csv"  # from make_dca_binary.py
MODELS = ["cancerpredmarker", "famhistory"]


@pytest.fixture(scope="module")
def df_binary():
    return pd.read_csv(Path(dcurves.data) / "df_binary.csv")


def test_decision_curve_equals_stored_dcurves_output(df_binary):
    golden = pd.read_csv(GOLDEN, float_precision="round_trip")
    ours = decision_curve(df_binary["cancer"], {m: df_binary[m] for m in MODELS})
    assert list(ours.columns) == ["model", "threshold", "net_benefit", "tp_rate", "fp_rate"]
    assert ours["model"].tolist() == golden["model"].tolist()
    np.testing.assert_array_equal(ours["threshold"], golden["threshold"])
    for col in ("net_benefit", "tp_rate", "fp_rate"):
        np.testing.assert_allclose(ours[col], golden[col], rtol=0, atol=1e-10)


def test_decision_curve_equals_live_dcurves_with_ties_at_thresholds():
    rng = np.random.default_rng(3)
    n = 300
    risk = rng.uniform(0, 0.9, n)
    data = pd.DataFrame(
        {
            "y": rng.binomial(1, risk),
            "coarse": np.round(risk, 2),  # many predictions exactly on a threshold
            "fine": np.clip(risk + rng.normal(0, 0.1, n), 0.001, 0.999),
        }
    )
    thresholds = np.arange(0.01, 0.9, 0.01)
    ref = dcurves.dca(data=data, outcome="y", modelnames=["coarse", "fine"], thresholds=thresholds)
    ours = decision_curve(data["y"], {"coarse": data["coarse"], "fine": data["fine"]}, thresholds)
    assert ours["model"].tolist() == ref["model"].tolist()
    np.testing.assert_allclose(ours["net_benefit"], ref["net_benefit"], rtol=0, atol=1e-10)


def test_net_benefit_hand_computed():
    y = [1, 0, 1, 0]
    p = [0.9, 0.6, 0.4, 0.1]
    # t = 0.25: treat 0.9, 0.6, 0.4 -> TP 2, FP 1: 2/4 - 1/4 * (0.25/0.75) = 0.41666...
    # t = 0.50: treat 0.9, 0.6 -> TP 1, FP 1: 1/4 - 1/4 * 1 = 0
    # t = 0.60: treat 0.9, 0.6 (>=) -> 1/4 - 1/4 * 1.5 = -0.125
    np.testing.assert_allclose(net_benefit(y, p, [0.25, 0.5, 0.6]), [5 / 12, 0.0, -0.125])
    table = decision_curve(y, {"m": p}, [0.25, 0.5])
    treat_all = table[table["model"] == "all"]["net_benefit"].to_numpy()
    np.testing.assert_allclose(treat_all, [0.5 - 0.5 / 3, 0.0])
    none = table[table["model"] == "none"]
    assert (none["net_benefit"] == 0).all() and (none["tp_rate"] == 0).all()
    m = table[table["model"] == "m"]
    np.testing.assert_allclose(m["tp_rate"], [0.5, 0.25])
    np.testing.assert_allclose(m["fp_rate"], [0.25, 0.25])


def test_net_benefit_column_matches_function(df_binary):
    t = np.array([0.05, 0.1, 0.2, 0.35])
    table = decision_curve(df_binary["cancer"], {"marker": df_binary["cancerpredmarker"]}, t)
    np.testing.assert_allclose(
        table.loc[table["model"] == "marker", "net_benefit"],
        net_benefit(df_binary["cancer"], df_binary["cancerpredmarker"], t),
    )


@pytest.mark.parametrize("bad", [[0.0, 0.5], [0.5, 1.0], [np.nan], []])
def test_thresholds_must_be_strictly_inside_unit_interval(bad):
    with pytest.raises(AnalysisError, match="thresholds"):
        net_benefit([0, 1], [0.2, 0.8], bad)


def test_decision_curve_input_errors():
    with pytest.raises(AnalysisError, match="reserved model name 'all'"):
        decision_curve([0, 1], {"all": [0.2, 0.8]})
    with pytest.raises(AnalysisError, match=r"predictions\['m'\] must have the same length"):
        decision_curve([0, 1, 1], {"m": [0.2, 0.8]})
    with pytest.raises(AnalysisError, match="non-empty dict"):
        decision_curve([0, 1], [0.2, 0.8])


def test_plot_decision_curve(df_binary):
    table = decision_curve(df_binary["cancer"], {m: df_binary[m] for m in MODELS})
    fig = plot_decision_curve(table, title="DCA")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines] == MODELS + ["Treat all", "Treat none"]
    expected = table[table["model"] == "famhistory"]
    np.testing.assert_allclose(ax.lines[1].get_ydata(), expected["net_benefit"])
    low, high = ax.get_ylim()
    assert low < 0 < high and high >= table["net_benefit"].max()
    with pytest.raises(AnalysisError, match="columns"):
        plot_decision_curve(table.drop(columns="net_benefit"))
