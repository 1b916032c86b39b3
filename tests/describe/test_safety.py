import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from analysis.describe.safety import ADVERSE_EVENT_COLUMNS, adverse_events, serious_events_by_visit
from analysis.errors import AnalysisError

NAN = np.nan


@pytest.fixture
def study():
    """Five enrolled patients; patient 5 has no visit, patient 2 a visit without AE records."""
    enrolled = pd.DataFrame({"pid": [1, 2, 3, 4, 5], "arm": ["a", "a", "b", "b", "b"]})
    rows = [(1, 0, 0, 0), (1, 4, 2, 1), (1, 8, 1, 1), (2, 0, 0, 0), (2, 4, NAN, NAN),
            (3, 0, 1, 0), (3, 4, 0, 0), (4, 4, 3, 1)]
    visits = pd.DataFrame(rows, columns=["pid", "week", "ae", "sae"])
    visits["arm"] = visits["pid"].map(enrolled.set_index("pid")["arm"])
    return visits, enrolled


def _ae(visits, enrolled, **kw):
    kw = {"id_col": "pid", "time": "week", "enrolled": enrolled, "count_col": "ae",
          "serious_col": "sae", "arm": "arm", **kw}
    return adverse_events(visits, **kw)


def test_adverse_event_counts_by_hand(study):
    visits, enrolled = study
    t = _ae(visits, enrolled)
    assert t.columns.tolist() == ADVERSE_EVENT_COLUMNS
    got = t[["arm", "event", "events", "patients_with_event", "n"]].values.tolist()
    assert got == [
        ["Overall", "any adverse event", 7, 3, 5],
        ["Overall", "serious adverse event", 3, 2, 5],
        ["a", "any adverse event", 3, 1, 2],
        ["a", "serious adverse event", 2, 1, 2],
        ["b", "any adverse event", 4, 2, 3],
        ["b", "serious adverse event", 1, 1, 3],
    ]
    for row in t.itertuples():
        assert row.proportion == pytest.approx(row.patients_with_event / row.n)
        lo, hi = proportion_confint(row.patients_with_event, row.n, method="beta")
        assert (row.ci_lower, row.ci_upper) == pytest.approx((lo, hi), abs=1e-10)
    assert set(t["method"]) == {"Clopper-Pearson exact 95% CI"}


def test_arm_order_single_event_and_no_arm(study):
    visits, enrolled = study
    t = _ae(visits, enrolled, arm_levels=["b", "a"], count_col=None)
    assert t["arm"].tolist() == ["Overall", "b", "a"]
    assert set(t["event"]) == {"serious adverse event"}
    overall = _ae(visits, enrolled[["pid"]], arm=None, serious_col=None)
    assert overall[["arm", "events", "patients_with_event", "n"]].values.tolist() == [["Overall", 7, 3, 5]]
    none = _ae(visits.iloc[[0, 3]], enrolled)  # no events at all: 0/n with exact bounds
    assert none["patients_with_event"].eq(0).all() and none["ci_lower"].eq(0).all()
    assert none["ci_upper"].iloc[0] == pytest.approx(proportion_confint(0, 5, method="beta")[1])


def test_serious_events_by_visit_counts_only(study):
    visits, _ = study
    t = serious_events_by_visit(visits, time="week", serious_col="sae", arm="arm")
    assert t.columns.tolist() == ["visit", "arm", "serious_events"]
    assert t.values.tolist() == [[0, "Overall", 0], [4, "Overall", 2], [8, "Overall", 1],
                                 [0, "a", 0], [4, "a", 1], [8, "a", 1],
                                 [0, "b", 0], [4, "b", 1], [8, "b", 0]]
    single = serious_events_by_visit(visits, time="week", serious_col="sae")
    assert single["serious_events"].tolist() == [0, 2, 1]


def test_bad_input_raises_analysis_error(study):
    visits, enrolled = study
    with pytest.raises(AnalysisError, match="count_col, serious_col"):
        _ae(visits, enrolled, count_col=None, serious_col=None)
    with pytest.raises(AnalysisError, match="ae"):
        _ae(visits.drop(columns="ae"), enrolled)
    for value in (-1, 1.5):
        bad = visits.copy()
        bad.loc[0, "ae"] = value
        with pytest.raises(AnalysisError, match="'ae' must hold non-negative whole numbers"):
            _ae(bad, enrolled)
    bad = visits.copy()
    bad.loc[0, "sae"] = 2
    with pytest.raises(AnalysisError, match="'sae' must be binary"):
        _ae(bad, enrolled)
    with pytest.raises(AnalysisError, match="'sae' must be binary"):
        serious_events_by_visit(bad, time="week", serious_col="sae")
    with pytest.raises(AnalysisError, match="not in the enrolled table"):
        _ae(visits, enrolled[enrolled["pid"] != 4])
    with pytest.raises(AnalysisError, match="visit_week"):
        serious_events_by_visit(visits, time="visit_week", serious_col="sae")
