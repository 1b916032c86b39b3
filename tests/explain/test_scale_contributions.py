"""Permutation importance of large cohorts is scored on a documented subsample (issue: scale)."""

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression

from analysis.explain import contributions
from analysis.explain.contributions import permutation_importance_table


def _fit(n, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.normal(size=n)})
    y = (X["a"] + 0.5 * X["b"] + rng.normal(size=n) > 0).astype(int).to_numpy()
    return LogisticRegression().fit(X, y), X, y


def test_constants_keep_demo_sizes_exact():
    assert contributions.IMPORTANCE_SAMPLE_ABOVE >= 5_000
    assert contributions.IMPORTANCE_SAMPLE_SIZE <= contributions.IMPORTANCE_SAMPLE_ABOVE


def test_at_or_below_threshold_every_patient_and_no_note(monkeypatch):
    monkeypatch.setattr(contributions, "IMPORTANCE_SAMPLE_ABOVE", 300)
    model, X, y = _fit(300)
    table = permutation_importance_table(model, X, y, n_repeats=4, seed=2)
    assert list(table.columns) == ["variable", "metric", "importance", "ci_lower", "ci_upper"]
    full = permutation_importance(model, X, y, scoring=["roc_auc", "neg_brier_score"],
                                  n_repeats=4, random_state=2)
    auc = table[table["metric"] == "roc_auc"].set_index("variable")["importance"]
    expected = full["roc_auc"].importances.mean(axis=1)
    np.testing.assert_array_equal(auc.loc[["a", "b", "c"]].to_numpy(), expected)


def test_above_threshold_documented_subsample_and_note(monkeypatch):
    monkeypatch.setattr(contributions, "IMPORTANCE_SAMPLE_ABOVE", 300)
    monkeypatch.setattr(contributions, "IMPORTANCE_SAMPLE_SIZE", 150)
    model, X, y = _fit(600)
    table = permutation_importance_table(model, X, y, n_repeats=4, seed=2)
    sub = permutation_importance(model, X, y, scoring=["roc_auc", "neg_brier_score"],
                                 n_repeats=4, random_state=2, max_samples=150)
    auc = table[table["metric"] == "roc_auc"].set_index("variable")["importance"]
    np.testing.assert_array_equal(auc.loc[["a", "b", "c"]].to_numpy(),
                                  sub["roc_auc"].importances.mean(axis=1))
    note = table["note"].unique()
    assert len(note) == 1
    assert "subsample of 150 of the 600 patients" in note[0]
    assert "IMPORTANCE_SAMPLE_SIZE" in note[0]
