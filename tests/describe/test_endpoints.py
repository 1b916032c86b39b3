import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from analysis.benefit import risk_groups
from analysis.describe.endpoints import RESPONSE_COLUMNS, arm_differences, response_by_visit
from analysis.errors import AnalysisError
from analysis.evaluation.metrics import newcombe_difference, proportion_ci
from analysis.plots.endpoints import plot_response_by_visit

NAN = np.nan


@pytest.fixture
def study():
    """Six patients, two arms; patient 3 misses week 4, patient 5 misses week 12."""
    enrolled = pd.DataFrame({"pid": [1, 2, 3, 4, 5, 6],
                             "arm": ["mucosal"] * 3 + ["iv_mucosal"] * 3})
    rows = [  # pid, week, response, remission, endoscopic
        (1, 0, NAN, NAN, NAN), (2, 0, NAN, NAN, NAN), (3, 0, NAN, NAN, NAN),
        (4, 0, NAN, NAN, NAN), (5, 0, NAN, NAN, NAN), (6, 0, NAN, NAN, NAN),
        (1, 4, 1, 1, 1), (2, 4, 0, 0, NAN), (4, 4, 1, 1, NAN), (5, 4, NAN, 0, 0), (6, 4, 1, 0, 1),
        (1, 12, 1, 0, 1), (2, 12, 1, 1, 1), (3, 12, 0, 0, 0), (4, 12, 1, 1, 1), (6, 12, 0, NAN, 1),
    ]
    visits = pd.DataFrame(rows, columns=["pid", "week", "response", "remission", "endoscopic"])
    return visits, enrolled


def _table(visits, enrolled, **kw):
    kw = {"id_col": "pid", "time": "week", "times": [0, 4, 12], "enrolled": enrolled, "arm": "arm",
          "composites": {"deep": ["remission", "endoscopic"]}, **kw}
    return response_by_visit(visits, ["response", "remission"], **kw)


def _cell(table, visit, arm, outcome, imputation):
    row = table.query("visit == @visit and arm == @arm and outcome == @outcome "
                      "and imputation == @imputation")
    assert len(row) == 1
    return int(row["n"].iloc[0]), int(row["events"].iloc[0])


def test_non_responder_and_observed_counts_by_hand(study):
    visits, enrolled = study
    t = _table(visits, enrolled)
    assert t.columns.tolist() == RESPONSE_COLUMNS
    assert 0 not in set(t["visit"])  # response undefined for everyone at baseline: skipped
    expected = {  # (visit, arm, outcome, imputation): (n, events)
        (4, "Overall", "response", "non-responder"): (6, 3),
        (4, "Overall", "response", "observed"): (4, 3),  # 3 missed the visit, 5 has NaN
        (4, "mucosal", "response", "non-responder"): (3, 1),
        (4, "mucosal", "response", "observed"): (2, 1),
        (4, "iv_mucosal", "response", "non-responder"): (3, 2),
        (4, "iv_mucosal", "response", "observed"): (2, 2),
        (4, "Overall", "deep", "non-responder"): (6, 1),
        (4, "Overall", "deep", "observed"): (4, 1),  # patient 4: a component missing
        (4, "iv_mucosal", "deep", "observed"): (2, 0),
        (4, "iv_mucosal", "deep", "non-responder"): (3, 0),
        (12, "Overall", "response", "non-responder"): (6, 3),
        (12, "Overall", "response", "observed"): (5, 3),
        (12, "Overall", "remission", "observed"): (4, 2),
        (12, "Overall", "deep", "observed"): (4, 2),
        (12, "Overall", "deep", "non-responder"): (6, 2),
        (12, "mucosal", "deep", "observed"): (3, 1),
        (12, "iv_mucosal", "deep", "observed"): (1, 1),
        (12, "iv_mucosal", "deep", "non-responder"): (3, 1),
    }
    for key, value in expected.items():
        assert _cell(t, *key) == value, key
    assert len(t) == 2 * 3 * 3 * 2  # visits x arms x outcomes x imputations
    assert t["proportion"].to_numpy() == pytest.approx((t["events"] / t["n"]).to_numpy())


def test_arm_order_overall_first_then_levels(study):
    visits, enrolled = study
    default = _table(visits, enrolled)
    assert list(pd.unique(default["arm"])) == ["Overall", "iv_mucosal", "mucosal"]
    assert default["arm"].iloc[0] == "Overall"
    chosen = _table(visits, enrolled, arm_levels=["mucosal", "iv_mucosal"])
    assert list(pd.unique(chosen["arm"])) == ["Overall", "mucosal", "iv_mucosal"]
    assert list(pd.unique(chosen["outcome"])) == ["response", "remission", "deep"]
    assert list(pd.unique(chosen["imputation"])) == ["non-responder", "observed"]
    single = response_by_visit(visits, "response", id_col="pid", time="week", times=[4, 12],
                               enrolled=enrolled[["pid"]])
    assert set(single["arm"]) == {"Overall"} and single["n"].iloc[0] == 6


def test_clopper_pearson_matches_statsmodels_on_every_row(study):
    visits, enrolled = study
    t = _table(visits, enrolled)
    for row in t.itertuples():
        lo, hi = proportion_confint(row.events, row.n, method="beta")
        assert (row.ci_lower, row.ci_upper) == pytest.approx((lo, hi), abs=1e-10)
    assert set(t["method"]) == {"Clopper-Pearson exact 95% CI"}
    w = _table(visits, enrolled, ci_method="wilson", alpha=0.1)
    row = w.iloc[0]
    lo, hi = proportion_confint(row["events"], row["n"], alpha=0.1, method="wilson")
    assert (row["ci_lower"], row["ci_upper"]) == pytest.approx((lo, hi))
    assert row["method"] == "Wilson score 90% CI"


@pytest.mark.parametrize(("k", "n"), [(0, 7), (7, 7), (0, 1), (1, 1), (3, 8)])
def test_clopper_pearson_edge_cases(k, n):
    lo, hi = proportion_ci(k, n, method="clopper-pearson")
    assert (float(lo), float(hi)) == pytest.approx(proportion_confint(k, n, method="beta"), abs=1e-12)


@pytest.mark.parametrize(("k1", "n1", "k0", "n0"),
                         [(0, 5, 3, 4), (5, 5, 0, 6), (1, 1, 0, 1), (0, 1, 1, 1), (4, 4, 4, 4),
                          (0, 3, 0, 5), (56, 70, 48, 80)])
def test_newcombe_matches_statsmodels(k1, n1, k0, n0):
    d, lo, hi = newcombe_difference(k1, n1, k0, n0)
    assert d == pytest.approx(k1 / n1 - k0 / n0)
    expected = confint_proportions_2indep(k1, n1, k0, n0, method="newcomb", compare="diff")
    assert (lo, hi) == pytest.approx(tuple(map(float, expected)), abs=1e-10)
    assert risk_groups.newcombe_difference is newcombe_difference  # old import path still works


def test_arm_differences_per_visit_outcome_and_imputation(study):
    visits, enrolled = study
    t = _table(visits, enrolled, arm_levels=["mucosal", "iv_mucosal"])
    d = arm_differences(t, reference="mucosal")
    assert d.columns.tolist() == ["visit", "outcome", "imputation", "arm", "reference", "difference",
                                  "ci_lower", "ci_upper", "method"]
    assert set(d["arm"]) == {"iv_mucosal"} and set(d["reference"]) == {"mucosal"}
    assert len(d) == 2 * 3 * 2
    row = d.query("visit == 4 and outcome == 'response' and imputation == 'non-responder'").iloc[0]
    assert row["difference"] == pytest.approx(2 / 3 - 1 / 3)
    lo, hi = confint_proportions_2indep(2, 3, 1, 3, method="newcomb", compare="diff")
    assert (row["ci_lower"], row["ci_upper"]) == pytest.approx((lo, hi))
    row = d.query("visit == 4 and outcome == 'response' and imputation == 'observed'").iloc[0]
    lo, hi = confint_proportions_2indep(2, 2, 1, 2, method="newcomb", compare="diff")
    assert (row["difference"], row["ci_lower"], row["ci_upper"]) == pytest.approx((0.5, lo, hi))
    assert d["method"].iloc[0] == "Newcombe hybrid score 95% CI"
    with pytest.raises(AnalysisError, match="reference arm"):
        arm_differences(t, reference="placebo")


def test_bad_input_raises_analysis_error_naming_the_problem(study):
    visits, enrolled = study
    with pytest.raises(AnalysisError, match="response"):
        _table(visits.drop(columns="response"), enrolled)
    with pytest.raises(AnalysisError, match="endoscopic"):
        _table(visits.drop(columns="endoscopic"), enrolled)
    bad = visits.copy()
    bad.loc[7, "remission"] = 2
    with pytest.raises(AnalysisError, match="'remission' must be binary"):
        _table(bad, enrolled)
    with pytest.raises(AnalysisError, match="arm"):
        _table(visits, enrolled.drop(columns="arm"))
    with pytest.raises(AnalysisError, match="not in the enrolled table"):
        _table(visits, enrolled[enrolled["pid"] != 6])
    with pytest.raises(AnalysisError, match="more than one row"):
        _table(pd.concat([visits, visits.iloc[[7]]]), enrolled)
    with pytest.raises(AnalysisError, match="not in arm_levels"):
        _table(visits, enrolled, arm_levels=["mucosal"])
    with pytest.raises(AnalysisError, match="ci_method"):
        _table(visits, enrolled, ci_method="wald")


def test_plot_ticks_at_the_visit_times_and_arm_labels():
    rng = np.random.default_rng(0)
    weeks = [0, 4, 8, 12, 24]
    enrolled = pd.DataFrame({"pid": range(40), "arm": ["mucosal", "iv_mucosal"] * 20})
    visits = pd.DataFrame([(p, w, float(rng.integers(0, 2))) for p in range(40) for w in weeks],
                          columns=["pid", "week", "remission"])
    t = response_by_visit(visits, ["remission"], id_col="pid", time="week", times=weeks,
                          enrolled=enrolled, arm="arm", arm_levels=["mucosal", "iv_mucosal"])
    fig = plot_response_by_visit(t, "remission", arm_labels={"mucosal": "Mucosal",
                                                             "iv_mucosal": "IV + mucosal"})
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xticks().tolist() == weeks
    assert ax.get_ylim() == (0, 100)
    assert [x.get_text() for x in ax.get_legend().get_texts()] == ["Overall", "Mucosal", "IV + mucosal"]
    with pytest.raises(AnalysisError, match="no rows"):
        plot_response_by_visit(t, "response")
