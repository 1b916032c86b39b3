"""Learners that do not scale are left out of large cohorts, with a note (issue: scale)."""

from analysis.models import zoo
from analysis.models.zoo import LARGE_COHORT_LIMITS, large_cohort_rule, model_zoo
from analysis.study import settings

CODEBOOK = {"age": {"type": "numeric"}, "smoker": {"type": "binary"}}


def _zoo():
    return model_zoo(CODEBOOK, ["age", "smoker"], smoke=True)


def test_limits_are_far_above_demo_sizes_and_spare_the_reference():
    assert min(LARGE_COHORT_LIMITS.values()) >= 5_000
    assert "flexible_logistic" not in LARGE_COHORT_LIMITS
    assert "intercept_only" not in LARGE_COHORT_LIMITS
    assert set(LARGE_COHORT_LIMITS) <= set(zoo.MODEL_NAMES)


def test_at_or_below_limits_nothing_changes():
    models = _zoo()
    kept, notes = large_cohort_rule(models, min(LARGE_COHORT_LIMITS.values()))
    assert notes == []
    assert list(kept) == list(models)
    assert all(kept[name] is models[name] for name in models)


def test_above_limit_model_dropped_with_note():
    models = _zoo()
    kept, notes = large_cohort_rule(models, LARGE_COHORT_LIMITS["svm"] + 1)
    assert "svm" not in kept
    assert list(kept) == [name for name in models if name != "svm"]
    assert len(notes) == 1
    assert "Support vector machine" in notes[0] and "10,001 patients" in notes[0]
    assert "LARGE_COHORT_LIMITS" in notes[0]


def test_above_every_limit_notes_in_zoo_order():
    models = _zoo()
    kept, notes = large_cohort_rule(models, 100_000)
    assert set(models) - set(kept) == set(LARGE_COHORT_LIMITS)
    dropped = [n for n in notes if " is not fitted" in n]
    assert [n.split(" is not fitted")[0] for n in dropped] == [
        models[name].label for name in models if name in LARGE_COHORT_LIMITS]


def test_bootstrap_rule_constants():
    assert settings.LARGE_COHORT >= 5_000
    assert 2 <= settings.LARGE_COHORT_BOOTSTRAP < settings.MODELLING_DEFAULTS["bootstrap"]
