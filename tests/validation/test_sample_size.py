"""Tests of analysis.validation.sample_size: Riley et al. (BMJ 2020) worked example and the C->R2 step."""

import math

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

from analysis.errors import AnalysisError
from analysis.validation.sample_size import (
    describe_adequacy,
    max_r2_cs,
    r2_cs_from_c_statistic,
    riley_binary,
)


def test_riley_bmj_2020_worked_example():
    # 24 parameters, prevalence 0.174, R2cs 0.288 -> 623, 662 and 221 participants.
    t = riley_binary(24, 0.174, r2_cs=0.288)
    assert list(t.columns) == ["criterion", "n_required", "events_required", "events_per_parameter"]
    assert t["criterion"].tolist() == ["shrinkage", "optimism", "overall_risk", "overall"]
    assert t["n_required"].tolist() == [623, 662, 221, 662]
    # events = ceil(n * prevalence); EPP = n * prevalence / parameters (pmsampsize output)
    assert t["events_required"].tolist() == [109, 116, 39, 116]
    np.testing.assert_allclose(t["events_per_parameter"].round(2), [4.52, 4.80, 1.60, 4.80])
    assert t.attrs["max_r2_cs"] == pytest.approx(0.6032, abs=5e-5)
    assert t.attrs["shrinkage_optimism"] == pytest.approx(0.905, abs=5e-4)


def test_criteria_follow_their_formulas():
    t = riley_binary(10, 0.3, r2_cs=0.15, shrinkage=0.85, delta=0.03, margin=0.04)
    n = dict(zip(t["criterion"], t["n_required"], strict=True))
    assert n["shrinkage"] == math.ceil(10 / ((0.85 - 1) * math.log(1 - 0.15 / 0.85)))
    s = 0.15 / (0.15 + 0.03 * max_r2_cs(0.3))
    assert n["optimism"] == math.ceil(10 / ((s - 1) * math.log(1 - 0.15 / s)))
    assert n["overall_risk"] == math.ceil((1.96 / 0.04) ** 2 * 0.3 * 0.7)
    assert n["overall"] == max(n["shrinkage"], n["optimism"], n["overall_risk"])


def test_max_r2_cs_closed_form():
    # balanced outcome: 1 - (0.5^0.5 * 0.5^0.5)^2 = 0.75 (Harrell's y = x example)
    assert max_r2_cs(0.5) == pytest.approx(0.75)
    assert max_r2_cs(0.174) == pytest.approx(1 - (0.174**0.174 * 0.826**0.826) ** 2)


@pytest.mark.parametrize(("c", "prev"), [(0.7, 0.1), (0.8, 0.174), (0.9, 0.5)])
def test_r2_from_c_statistic_matches_large_simulation(c, prev):
    """Riley et al. (2021) / pmsampsize: simulate LP ~ N(0,1) | y=0, N(mu,1) | y=1, fit a
    logistic regression, R2cs = 1 - exp(-LR/n).  Monte-Carlo SE here is about 0.001."""
    rng = np.random.default_rng(2021)
    n = 300_000
    n_events = int(prev * n)
    mu = np.sqrt(2) * stats.norm.ppf(c)
    lp = np.concatenate([rng.normal(0, 1, n - n_events), rng.normal(mu, 1, n_events)])
    y = np.concatenate([np.zeros(n - n_events), np.ones(n_events)])
    fit = sm.Logit(y, sm.add_constant(lp)).fit(disp=0)
    simulated = 1 - np.exp(-2 * (fit.llf - fit.llnull) / n)
    assert r2_cs_from_c_statistic(c, prev) == pytest.approx(simulated, abs=0.004)


def test_r2_from_c_statistic_properties():
    values = [r2_cs_from_c_statistic(c, 0.2) for c in (0.55, 0.7, 0.85, 0.95)]
    assert np.all(np.diff(values) > 0)
    assert values[-1] < max_r2_cs(0.2)
    assert r2_cs_from_c_statistic(0.5 + 1e-9, 0.2) == pytest.approx(0.0, abs=1e-12)
    # The BMJ worked example's R2cs of 0.288 corresponds to a C statistic of about 0.89.
    assert r2_cs_from_c_statistic(0.89, 0.174) == pytest.approx(0.288, abs=0.01)


def test_riley_from_c_statistic_records_source():
    t = riley_binary(24, 0.174, c_statistic=0.89)
    assert t.attrs["r2_cs"] == pytest.approx(r2_cs_from_c_statistic(0.89, 0.174))
    assert "c_statistic" in t.attrs["r2_cs_source"]
    # pmsampsize's example with the C statistic (type "b", cstatistic 0.89, 24 parameters,
    # prevalence 0.174) reports R2cs 0.2910 and 615 / 660 / 221 -> 660 with 115 events.
    # (Recorded from the package's documented output; R is not installed here to re-run it.)
    assert t.attrs["r2_cs"] == pytest.approx(0.2910, abs=5e-5)
    assert t["n_required"].tolist() == [615, 660, 221, 660]
    assert t["events_required"].tolist() == [108, 115, 39, 115]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"parameters": 0, "prevalence": 0.2, "r2_cs": 0.1}, "parameters must be an integer >= 1"),
        ({"parameters": 5, "prevalence": 1.0, "r2_cs": 0.1}, "prevalence must be"),
        ({"parameters": 5, "prevalence": 0.2}, "exactly one of r2_cs or c_statistic"),
        (
            {"parameters": 5, "prevalence": 0.2, "r2_cs": 0.1, "c_statistic": 0.7},
            "exactly one of r2_cs or c_statistic",
        ),
        ({"parameters": 5, "prevalence": 0.2, "r2_cs": 0.7}, "r2_cs must be a number in"),
        ({"parameters": 5, "prevalence": 0.2, "c_statistic": 0.4}, "c_statistic must be"),
        ({"parameters": 5, "prevalence": 0.2, "r2_cs": 0.1, "shrinkage": 1.2}, "shrinkage must"),
    ],
)
def test_riley_rejects_bad_input(kwargs, message):
    with pytest.raises(AnalysisError, match=message):
        riley_binary(**kwargs)


def test_describe_adequacy():
    req = riley_binary(24, 0.174, r2_cs=0.288)
    ok = describe_adequacy(700, 122, req)
    assert ok.startswith("The study is large enough")
    assert "662 participants with 116 events" in ok
    small = describe_adequacy(500, 87, req)
    assert small.startswith("The study is too small")
    assert "(i) expected shrinkage" in small and "(ii) small optimism" in small
    assert "(iii)" not in small
    few_events = describe_adequacy(700, 100, req)
    assert few_events.startswith("The study is too small")
    with pytest.raises(AnalysisError, match="events must not exceed n"):
        describe_adequacy(10, 20, req)
    with pytest.raises(AnalysisError, match="requirement_df must be the output of riley_binary"):
        describe_adequacy(10, 2, req.drop(columns="events_required"))
