"""Above LARGE_COHORT patients the zoo's costly tuning is lightened, with a note per model."""

from sklearn.base import clone

from analysis.models.zoo import (
    LARGE_COHORT_GRIDS,
    LARGE_COHORT_PARAMS,
    large_cohort_rule,
    model_zoo,
)
from analysis.study.settings import LARGE_COHORT, ModellingSettings

CODEBOOK = {"age": {"type": "numeric"}, "smoker": {"type": "binary"}}
NAMES = ["logistic", "lasso", "elastic_net", "flexible_logistic", "mlp"]


def _zoo():
    return model_zoo(CODEBOOK, ["age", "smoker"], include=NAMES)


def test_at_large_cohort_limit_the_full_grids_are_kept():
    models = _zoo()
    kept, notes = large_cohort_rule(models, LARGE_COHORT)
    assert notes == []
    assert all(kept[name] is models[name] for name in models)


def test_above_large_cohort_smaller_grids_and_fewer_inner_folds_with_notes():
    models = _zoo()
    before = {name: clone(spec.pipeline).get_params() for name, spec in models.items()}
    kept, notes = large_cohort_rule(models, LARGE_COHORT + 1)
    assert list(kept) == NAMES
    for name, grid in LARGE_COHORT_GRIDS.items():
        assert kept[name].param_grid == grid
        assert len(kept[name].param_grid["model__C"]) < len(models[name].param_grid["model__C"])
    flexible = kept["flexible_logistic"].pipeline.get_params()
    assert flexible["model__inner_splits"] == LARGE_COHORT_PARAMS["flexible_logistic"][
        "model__inner_splits"] < before["flexible_logistic"]["model__inner_splits"]
    # the caller's specs are untouched; unlisted models are the same objects
    assert models["flexible_logistic"].pipeline.get_params()["model__inner_splits"] == 5
    assert kept["mlp"] is models["mlp"] and kept["logistic"] is models["logistic"]
    assert len(notes) == 3
    assert any(n.startswith("Lasso") and "4 values of C instead of 8 values of C" in n for n in notes)
    assert flexible["model__nonlinear_ratios"] == (1.0, 4.0)
    assert len(flexible["model__alphas"]) == 11
    assert any("3 inner folds instead of 5" in n and "0.13 to 0.0001 per patient" in n
               for n in notes)
    assert any("4 values of C x 1 value of l1_ratio instead of 5 values of C x 3" in n
               for n in notes)


def test_smoke_grids_are_never_enlarged():
    models = model_zoo(CODEBOOK, ["age", "smoker"], smoke=True, include=NAMES)
    kept, notes = large_cohort_rule(models, 100_000)
    assert all(kept[name] is models[name] for name in models)
    assert notes == []


def test_settings_for_cohort_lighten_resampling_only_above_large_cohort():
    s = ModellingSettings()
    assert s.for_cohort(LARGE_COHORT) == (s, [])
    big, notes = s.for_cohort(LARGE_COHORT + 1)
    assert (big.outer_repeats, big.comparison_boot) == (1, 100)
    assert (big.outer_splits, big.inner_splits, big.bootstrap) == (5, 3, 200)
    assert len(notes) == 2 and "1 outer repeat instead of 2" in notes[0]
    smoke = ModellingSettings().smoke_mode()
    assert smoke.for_cohort(100_000) == (smoke, [])
