"""The Dask route: resampling on a distributed.LocalCluster gives the local results exactly."""

import numpy as np
import pandas as pd
import pytest

from analysis.models.zoo import model_zoo
from analysis.validation.distributed import SCHEDULER_ENV, dask_backend, resampling_backend
from analysis.validation.resampling import bootstrap_optimism, nested_cv

distributed = pytest.importorskip(
    "dask.distributed", reason="the optional extra .[dask] is not installed (.ci/run installs it)")


def _data(n=120, seed=3):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"age": rng.normal(50, 10, n), "crp": np.exp(rng.normal(2, 1, n)),
                      "smoker": (rng.random(n) < 0.3).astype(float)})
    lp = 0.04 * (X["age"] - 50) - 0.5 * (np.log(X["crp"]) - 2) + 0.5 * X["smoker"]
    y = (rng.random(n) < 1 / (1 + np.exp(-lp))).astype(int).to_numpy()
    return X, y


CODEBOOK = {"age": {"type": "numeric"}, "crp": {"type": "numeric", "transform": "log"},
            "smoker": {"type": "binary"}}


def test_bootstrap_and_nested_cv_on_a_local_cluster_are_byte_identical(monkeypatch):
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    X, y = _data()
    zoo = model_zoo(CODEBOOK, list(CODEBOOK), smoke=True, seed=5,
                    include=["logistic", "lasso", "flexible_logistic"])
    local_boot = bootstrap_optimism(zoo["flexible_logistic"], X, y, n_boot=6, seed=7, n_jobs=1,
                                    progress=False)
    local_cv = nested_cv(zoo, X, y, outer_splits=3, outer_repeats=1, inner_splits=2, seed=7,
                         n_jobs=1, progress=False)
    with dask_backend("local", n_workers=2) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        dask_boot = bootstrap_optimism(zoo["flexible_logistic"], X, y, n_boot=6, seed=7,
                                       n_jobs=-1, progress=False)
        dask_cv = nested_cv(zoo, X, y, outer_splits=3, outer_repeats=1, inner_splits=2, seed=7,
                            n_jobs=-1, progress=False)
    assert local_boot.to_csv() == dask_boot.to_csv()
    assert local_cv.predictions.to_csv() == dask_cv.predictions.to_csv()
    assert local_cv.tuning.to_csv() == dask_cv.tuning.to_csv()


def test_the_environment_variable_selects_the_cluster(monkeypatch):
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    assert type(resampling_backend()).__name__ == "nullcontext"
    X, y = _data(80)
    spec = model_zoo(CODEBOOK, list(CODEBOOK), smoke=True, seed=5, include=["logistic"])["logistic"]
    local = bootstrap_optimism(spec, X, y, n_boot=4, seed=1, n_jobs=1, progress=False)
    monkeypatch.setenv(SCHEDULER_ENV, "local")
    seen = []
    original = distributed.Client.__init__

    def spy(self, *args, **kwargs):
        seen.append(args or kwargs)
        original(self, *args, **kwargs)

    monkeypatch.setattr(distributed.Client, "__init__", spy)
    remote = bootstrap_optimism(spec, X, y, n_boot=4, seed=1, n_jobs=-1, progress=False)
    assert seen, "no Dask client was created although ANALYSIS_DASK_SCHEDULER was set"
    assert local.to_csv() == remote.to_csv()
