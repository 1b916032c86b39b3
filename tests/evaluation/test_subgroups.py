"""Tests of analysis.evaluation.subgroups against hand computations."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.errors import AnalysisError
from analysis.evaluation.subgroups import SUBGROUP_COLUMNS, age_band_labels, subgroup_performance

Z975 = stats.norm.ppf(0.975)


@pytest.fixture
def case():
    frame = pd.DataFrame(
        {
            "sex": ["f", "f", "f", "f", "m", "m", "m", None],
            "smoker": [0.0, 1.0, 0.0, 1.0, 0.0, 0.0, np.nan, 0.0],
            "age": [39.9, 40.0, 59.0, 59.9, 60.0, 75.0, 18.0, np.nan],
        },
        index=[10, 11, 12, 13, 14, 15, 16, 17],
    )
    y = np.array([0, 0, 1, 1, 0, 1, 1, 0])
    prob = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.6, 0.9, 0.3])
    return y, prob, frame


def test_hand_checked_levels(case):
    y, prob, frame = case
    t = subgroup_performance(y, prob, frame, ["sex", "smoker"], age_column="age")
    assert list(t.columns) == list(SUBGROUP_COLUMNS)
    assert t[["subgroup", "level"]].values.tolist() == [
        ["overall", "all"],
        ["sex", "f"],
        ["sex", "m"],
        ["sex", "missing"],
        ["smoker", "0"],
        ["smoker", "1"],
        ["smoker", "missing"],
        ["age", "<40"],
        ["age", "40–59"],
        ["age", "≥60"],
        ["age", "missing"],
    ]
    r = t.set_index(["subgroup", "level"])
    f = r.loc[("sex", "f")]
    # events 0.35, 0.8 vs non-events 0.1, 0.4: 3 of 4 pairs concordant
    assert (f["n"], f["events"], f["auc"]) == (4, 2, 0.75)
    # DeLong by hand: V10 = (1/2, 1), V01 = (1, 1/2); var = 0.125/2 + 0.125/2
    se = np.sqrt(0.125)
    assert f["auc_ci_lower"] == pytest.approx(0.75 - Z975 * se)
    assert f["auc_ci_upper"] == 1.0  # clipped
    assert f["observed"] == 0.5
    assert f["expected"] == pytest.approx((0.1 + 0.4 + 0.35 + 0.8) / 4)
    assert f["calibration_in_the_large"] == pytest.approx(0.5 - 0.4125)
    assert f["oe_ratio"] == pytest.approx(0.5 / 0.4125)
    m = r.loc[("sex", "m")]
    assert (m["n"], m["events"], m["auc"]) == (3, 2, 1.0)
    # a level with one class has no AUC
    missing_sex = r.loc[("sex", "missing")]
    assert missing_sex["n"] == 1 and np.isnan(missing_sex["auc"])
    assert r.loc[("smoker", "1"), "auc"] == 1.0  # event 0.8 vs non-event 0.4
    assert r.loc[("smoker", "0"), ["n", "events", "auc"]].tolist() == [5, 2, 1.0]
    assert np.isnan(r.loc[("smoker", "missing"), "auc"])  # a single event
    overall = r.loc[("overall", "all")]
    assert overall["n"] == 8 and overall["events"] == 4
    # overall: events .35 .8 .6 .9 vs non-events .1 .4 .2 .3 -> 15 of 16 pairs
    assert overall["auc"] == pytest.approx(15 / 16)


def test_age_bands(case):
    y, prob, frame = case
    t = subgroup_performance(y, prob, frame, [], age_column="age").set_index("level")
    # 39.9 and 18 -> <40; 40, 59, 59.9 -> 40–59; 60, 75 -> ≥60
    assert t.loc["<40", "n"] == 2 and t.loc["40–59", "n"] == 3 and t.loc["≥60", "n"] == 2
    assert t.loc["<40", "expected"] == pytest.approx((0.1 + 0.9) / 2)
    assert age_band_labels((40, 60)) == ["<40", "40–59", "≥60"]
    assert age_band_labels((18, 65, 80)) == ["<18", "18–64", "65–79", "≥80"]
    assert age_band_labels((40.5,)) == ["<40.5", "≥40.5"]
    with pytest.raises(AnalysisError, match="increasing"):
        age_band_labels((60, 40))


def test_categorical_order_and_no_overall(case):
    y, prob, frame = case
    frame = frame.assign(sex=pd.Categorical(frame["sex"], categories=["m", "f"]))
    t = subgroup_performance(y, prob, frame, "sex", overall=False)
    assert t["level"].tolist() == ["m", "f", "missing"]


def test_errors(case):
    y, prob, frame = case
    with pytest.raises(AnalysisError, match="lacks subgroup column"):
        subgroup_performance(y, prob, frame, ["bmi"])
    with pytest.raises(AnalysisError, match="one row per outcome"):
        subgroup_performance(y, prob, frame.iloc[:5], ["sex"])
    with pytest.raises(AnalysisError, match="prob"):
        subgroup_performance(y, prob * 2, frame, ["sex"])
    with pytest.raises(AnalysisError, match="also listed"):
        subgroup_performance(y, prob, frame, ["age"], age_column="age")
