"""Shared fixtures: a throw-away project root holding one study, so tests never touch data/."""

from __future__ import annotations

import os

# one native thread per process, as in notebook runs (see analysis.pipeline.runner.THREAD_VARIABLES)
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402
from scipy.special import expit  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated_root(monkeypatch):
    """No test inherits a project root or a notebook transaction from the environment."""
    monkeypatch.delenv("ANALYSIS_PROJECT_ROOT", raising=False)
    monkeypatch.delenv("ANALYSIS_RUN_MANIFEST", raising=False)


def make_study(root: Path, name: str, spec: dict, data=None, filename: str = "raw/cohort.csv") -> Path:
    """Write ``data/<name>/study.yaml`` (and the raw table if given) under ``root``."""
    folder = root / "data" / name
    (folder / "raw").mkdir(parents=True, exist_ok=True)
    spec = {"data": filename, **spec}
    (folder / "study.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    if data is not None:
        path = folder / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        elif path.suffix == ".parquet":
            data.to_parquet(path, index=False)
        elif path.suffix == ".xlsx":
            data.to_excel(path, index=False)
        else:
            data.to_csv(path, index=False)
    return folder


@pytest.fixture
def demo_project(tmp_path) -> Path:
    """A project root with the ibd-biologics study and its generated demo cohort."""
    from analysis.synthetic import write_demo_cohort

    (tmp_path / "data" / "ibd-biologics").mkdir(parents=True)
    shutil.copy(REPO / "data" / "ibd-biologics" / "study.yaml", tmp_path / "data" / "ibd-biologics")
    write_demo_cohort("ibd-biologics", tmp_path)
    return tmp_path


def cohort_csv(cohort) -> dict[str, str]:
    """Each raw table of a simulated DemoCohort (and its truth file) as the CSV text written."""
    from analysis.synthetic._base import frame_to_csv

    return {name: frame_to_csv(frame) for name, frame in {**cohort.tables, "truth.csv": cohort.truth}.items()}


def study_from_cohort(root: Path, name: str, cohort):
    """A project under ``root`` holding the shipped study.yaml of ``name`` and ``cohort``."""
    from analysis.study.config import load_study
    from analysis.synthetic._base import write_cohort

    folder = root / "data" / name
    folder.mkdir(parents=True)
    shutil.copy(REPO / "data" / name / "study.yaml", folder)
    write_cohort(cohort, folder / "raw")
    return load_study(name, root=root)


# A small mixed-type modelling data set (validation and tuning tests).
CODEBOOK = {
    "x1": {"type": "numeric"},
    "x2": {"type": "numeric", "transform": "log"},
    "flag": {"type": "binary"},
    "group": {"type": "categorical", "levels": ["a", "b", "c"]},
}


def make_data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.lognormal(1.0, 0.7, n),
            "flag": rng.binomial(1, 0.4, n).astype(float),
            "group": rng.choice(["a", "b", "c"], n),
        }
    )
    lp = -0.2 + 1.2 * X["x1"] + 0.8 * np.log(X["x2"]) - 0.8 + 0.7 * X["flag"]
    y = rng.binomial(1, expit(lp)).astype(int)
    X.loc[rng.choice(n, 6, replace=False), "x1"] = np.nan
    X.loc[rng.choice(n, 4, replace=False), "group"] = np.nan
    X.index = np.arange(1000, 1000 + n)  # a non-default index must not matter
    return X, y
