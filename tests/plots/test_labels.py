"""Every figure shows codebook labels, never raw column names, when given ``labels``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.describe.correlation import correlation_table
from analysis.describe.phenotypes import cluster_profiles
from analysis.formatting import codebook_labels, level_labels
from analysis.plots.added_value import plot_added_value
from analysis.plots.correlation import plot_correlation_heatmap
from analysis.plots.missingness import plot_missingness
from analysis.plots.overlap import plot_balance, plot_propensity_overlap
from analysis.plots.phenotypes import plot_cluster_profiles
from analysis.validation.added_value import AddedValue

CODEBOOK = {
    "crp_mg_l": {"type": "numeric", "label": "C-reactive protein", "unit": "mg/L"},
    "albumin_g_l": {"type": "numeric", "label": "Albumin", "unit": "g/L"},
    "disease_duration_years": {"type": "numeric", "label": "Disease duration", "unit": "years"},
    "smoking": {"type": "categorical", "label": "Smoking", "levels": ["never", "current"]},
    "arm": {"type": "categorical", "label": "Treatment arm", "levels": ["mucosal", "iv_mucosal"]},
}
LABELS = codebook_labels(CODEBOOK)
RAW = ("crp_mg_l", "albumin_g_l", "disease_duration_years", "iv_mucosal")


def all_text(fig) -> list[str]:
    """Every text the figure draws: tick labels, axis labels, titles, legends, annotations."""
    from matplotlib.text import Text

    return [t.get_text() for t in fig.findobj(Text) if t.get_text()]


def assert_labelled(fig, *expected):
    text = all_text(fig)
    joined = "\n".join(text)
    for label in expected:
        assert label in joined, f"{label!r} not drawn: {text}"
    for raw in RAW:
        assert raw not in joined, f"raw name {raw!r} drawn: {text}"


def frame(n=40, seed=3):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"crp_mg_l": rng.lognormal(1, 1, n), "albumin_g_l": rng.normal(40, 5, n),
                       "disease_duration_years": rng.gamma(2, 4, n),
                       "smoking": rng.choice(["never", "current"], n)})
    df.loc[::7, "crp_mg_l"] = np.nan
    return df


def test_missingness_map():
    fig = plot_missingness(frame(), ["crp_mg_l", "albumin_g_l"], labels=LABELS)
    assert_labelled(fig, "C-reactive protein (mg/L)", "Albumin (g/L)")


def test_correlation_heatmap():
    table = correlation_table(frame(), ["crp_mg_l", "albumin_g_l", "disease_duration_years"])
    fig = plot_correlation_heatmap(table, labels=LABELS)
    assert_labelled(fig, "C-reactive protein (mg/L)", "Disease duration (years)")


def test_balance_and_overlap_use_variable_level_and_option_labels():
    table = pd.DataFrame({"variable": ["crp_mg_l", "smoking"], "level": ["", "current"],
                          "option": "iv_mucosal", "smd_unweighted": [0.3, -0.2],
                          "smd_weighted": [0.01, 0.0]})
    options = level_labels("arm", CODEBOOK)
    fig = plot_balance(table, labels=LABELS, option_labels=options)
    assert_labelled(fig, "C-reactive protein (mg/L)", "Smoking: current", "iv mucosal")
    scores = pd.DataFrame({"mucosal": [0.7, 0.4, 0.6, 0.3], "iv_mucosal": [0.3, 0.6, 0.4, 0.7]})
    fig = plot_propensity_overlap(scores, ["mucosal", "iv_mucosal", "mucosal", "iv_mucosal"],
                                  ["mucosal", "iv_mucosal"], "mucosal", option_labels=options)
    assert_labelled(fig, "iv mucosal vs mucosal", "Propensity score of iv mucosal")


def test_cluster_profiles():
    df = frame()
    profiles = cluster_profiles(df, np.arange(len(df)) % 2 + 1, ["crp_mg_l", "smoking"], CODEBOOK)
    fig = plot_cluster_profiles(profiles, labels=LABELS)
    assert_labelled(fig, "C-reactive protein (mg/L)", "Smoking: current")


def test_added_value_predictor_lists():
    auc = pd.DataFrame({"model": ["baseline", "extended", "difference"],
                        "predictors": ["albumin_g_l", "albumin_g_l, crp_mg_l", "crp_mg_l"],
                        "auc": [0.7, 0.8, 0.1], "ci_lower": [0.6, 0.7, 0.02], "ci_upper": [0.8, 0.9, 0.18]})
    nb = pd.DataFrame({"threshold": [0.1, 0.2], "net_benefit_baseline": [0.1, 0.05],
                       "net_benefit_extended": [0.12, 0.08], "difference": [0.02, 0.03]})
    fig = plot_added_value(AddedValue(auc, {}, nb), labels=LABELS)
    # the extended model is named as the baseline plus the added predictor, by its label
    assert_labelled(fig, "baseline\n(1 predictor)", "extended\n(baseline +\nC-reactive protein (mg/L))")
