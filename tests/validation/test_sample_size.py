"""Tests of analysis.validation.sample_size: Riley et al. (BMJ 2020) worked example and the C->R2 step."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from analysis.errors import AnalysisError
from analysis.validation.sample_size import (
    describe_adequacy,
    max_r2_cs,
    r2_cs_from_c_statistic,
    riley_anticipated,
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
    # Values from tests/golden/riley_pmsampsize.csv, i.e. pmsampsize 0.1.0 run by
    # tests/golden/make_riley_pmsampsize.py as pmsampsize(type="b", cstatistic=0.89,
    # parameters=24, prevalence=0.174) with its default seed 123456: its simulation
    # (cstat2rsq, 1e6 patients) gives R2cs 0.29081, rounded to 0.2908, and
    # 615 / 660 / 221 -> 660 participants with ceil(660 * 0.174) = 115 events.
    golden = _golden_row(cstatistic=0.89)
    assert golden[["n_shrinkage", "n_optimism", "n_overall_risk", "n_final"]].tolist() == [
        615,
        660,
        221,
        660,
    ]
    assert golden["events_final"] == 115
    assert golden["r2_cs_simulated"] == pytest.approx(0.29081, abs=5e-6)
    # This module integrates exactly (R2cs 0.29095) instead of simulating; the difference
    # is within the Monte-Carlo error (see CSTAT_TOL) and leaves every n unchanged here.
    assert t.attrs["r2_cs"] == pytest.approx(golden["r2_cs_simulated"], abs=CSTAT_TOL)
    assert t["n_required"].tolist() == [615, 660, 221, 660]
    assert t["events_required"].iloc[-1] == 115


# --- pmsampsize (PyPI port 0.1.0) over a grid: tests/golden/make_riley_pmsampsize.py ---

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "riley_pmsampsize.csv"
# pmsampsize's cstat2rsq estimates R2cs from one simulated sample of 1,000,000 patients
# (seed 123456, recorded in the golden file's ``seed`` column); its Monte-Carlo standard
# error is about 5e-4 (0.001 at 300,000 patients, see the large-simulation test above),
# so agreement with the exact large-sample value is asked to 1e-3, about 2 SE.
CSTAT_TOL = 1e-3


def _golden() -> pd.DataFrame:
    # round_trip: the file holds 17 significant digits; read them back bit for bit.
    return pd.read_csv(GOLDEN, float_precision="round_trip")


def _golden_row(cstatistic: float) -> pd.Series:
    g = _golden()
    rows = g[(g["source"] == "cstatistic") & (g["cstatistic"] == cstatistic)]
    assert len(rows) == 1
    return rows.iloc[0]


def test_golden_grid_covers_the_intended_inputs():
    g = _golden()
    grid = g[g["source"] == "rsquared"]
    assert sorted(grid["parameters"].unique()) == [5, 10, 20, 24, 40]
    assert sorted(grid["prevalence"].unique()) == [0.1, 0.174, 0.2, 0.3, 0.5]
    assert sorted(grid["r2_cs"].unique()) == [0.02, 0.05, 0.1, 0.2, 0.288]
    assert sorted(grid["shrinkage"].unique()) == [0.85, 0.9]
    assert len(grid) == 5 * 5 * 5 * 2
    # every criterion is the binding one somewhere, so each formula is exercised
    n = grid[["n_shrinkage", "n_optimism", "n_overall_risk"]].to_numpy()
    assert set(np.argmax(n, axis=1)) == {0, 1, 2}
    assert (g.loc[g["source"] == "cstatistic", "seed"] == 123456).all()


def test_riley_matches_pmsampsize_over_grid():
    """Every criterion's n, the final n, its events and each EPP equal pmsampsize's.

    pmsampsize rounds each n up with ``math.ceil``, EPP to 2 decimals and prints
    ``ceil(n_final * prevalence)`` events; the n and events are compared exactly, EPP
    after the same rounding, and max R2cs, Nagelkerke R2 and the final shrinkage (which
    pmsampsize computes from ``E / n`` rather than the prevalence) to 1e-12.  The
    C-statistic rows are included with the R2cs pmsampsize used (rounded to 4 decimals).
    """
    mismatches = []
    for row in _golden().itertuples(index=False):
        t = riley_binary(
            int(row.parameters), float(row.prevalence), r2_cs=row.r2_cs, shrinkage=row.shrinkage
        )
        got = {
            "n": t["n_required"].tolist(),
            "epp": [round(v, 2) for v in t["events_per_parameter"]],
            "events_final": int(t["events_required"].iloc[-1]),
        }
        want = {
            "n": [row.n_shrinkage, row.n_optimism, row.n_overall_risk, row.n_final],
            "epp": [row.epp_shrinkage, row.epp_optimism, row.epp_overall_risk, row.epp_final],
            "events_final": row.events_final,
        }
        if got != want:
            mismatches.append((row, got, want))
        a = t.attrs
        np.testing.assert_allclose(
            [a["max_r2_cs"], a["nagelkerke_r2"], max(row.shrinkage, a["shrinkage_optimism"])],
            [row.max_r2_cs, row.nagelkerke_r2, row.shrinkage_final],
            rtol=1e-12,
        )
    assert mismatches == []


def test_r2_from_c_statistic_matches_pmsampsize_cstat2rsq():
    rows = _golden().query("source == 'cstatistic'")
    assert len(rows) == 5
    for row in rows.itertuples(index=False):
        exact = r2_cs_from_c_statistic(row.cstatistic, row.prevalence)
        assert exact == pytest.approx(row.r2_cs_simulated, abs=CSTAT_TOL), row
        # From the C statistic directly, n differs from pmsampsize's only through that
        # Monte-Carlo error and its 4-decimal rounding of R2cs: within 1%.
        t = riley_binary(int(row.parameters), row.prevalence, c_statistic=row.cstatistic)
        assert t["n_required"].iloc[-1] == pytest.approx(row.n_final, rel=0.01), row


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


def test_riley_anticipated_scenarios_are_riley_binary_at_c_and_c_plus_minus_005():
    t = riley_anticipated(8, 0.25, nested_cv_auc=0.72)
    assert list(t.columns) == ["scenario", "c_statistic", "c_source", "criterion", "n_required",
                               "events_required", "events_per_parameter", "r2_cs", "note"]
    assert t["scenario"].unique().tolist() == ["C - 0.05", "anticipated", "C + 0.05"]
    assert (t["c_source"] == "nested cross-validated AUC of the reference model").all()
    for scenario, c in [("C - 0.05", 0.67), ("anticipated", 0.72), ("C + 0.05", 0.77)]:
        part = t[t["scenario"] == scenario].reset_index(drop=True)
        assert part["c_statistic"].eq(c).all()
        expected = riley_binary(8, 0.25, c_statistic=c)
        assert part["criterion"].tolist() == expected["criterion"].tolist()
        assert part["n_required"].astype(int).tolist() == expected["n_required"].tolist()
        assert part["events_required"].astype(int).tolist() == expected["events_required"].tolist()
        # criterion (i) from its formula with R2cs derived from this C
        r2 = r2_cs_from_c_statistic(c, 0.25)
        assert part["r2_cs"].iloc[0] == pytest.approx(r2, rel=1e-12)
        assert part.loc[0, "n_required"] == math.ceil(8 / ((0.9 - 1) * math.log(1 - r2 / 0.9)))
    # lower discrimination needs more patients
    overall = t[t["criterion"] == "overall"].set_index("scenario")["n_required"]
    assert overall["C - 0.05"] > overall["anticipated"] > overall["C + 0.05"]


def test_riley_anticipated_prefers_the_literature_value_and_handles_c_near_05():
    t = riley_anticipated(5, 0.4, nested_cv_auc=0.9, anticipated_c=0.7, sensitivity=0.1)
    assert t["scenario"].unique().tolist() == ["C - 0.1", "anticipated", "C + 0.1"]
    assert t["c_source"].str.startswith("literature").all()
    assert sorted(t["c_statistic"].unique()) == pytest.approx([0.6, 0.7, 0.8])
    # C = 0.53: the lower scenario (0.48) has no defined requirement, the others do
    t = riley_anticipated(5, 0.4, nested_cv_auc=0.53)
    low = t[t["scenario"] == "C - 0.05"]
    assert low["n_required"].isna().all() and low["note"].str.contains("not above 0.5").all()
    assert t[t["scenario"] == "anticipated"]["n_required"].notna().all()
    with pytest.raises(AnalysisError, match="give nested_cv_auc or anticipated_c"):
        riley_anticipated(5, 0.4)
    with pytest.raises(AnalysisError, match="sensitivity"):
        riley_anticipated(5, 0.4, nested_cv_auc=0.7, sensitivity=0.6)
