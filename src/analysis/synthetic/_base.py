"""Shared parts of the demo-cohort generators: the result type, missingness and writing.

Every generator is a documented data-generating model (DGM). It draws any number of
patients from a seeded :class:`numpy.random.Generator` (PCG64, stable across platforms and
NumPy versions), rounds values as clinicians record them, and returns the raw tables plus a
*truth* table holding each patient's true response probability, which is never a predictor.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.study.io import write_text


@dataclass
class DemoCohort:
    """Raw tables of one simulated study.

    Attributes
    ----------
    tables : dict
        File name under ``raw/`` -> DataFrame (``cohort.csv`` always; ``visits.csv`` for
        studies with repeated visits).
    truth : DataFrame
        ``<id>, true_probability`` (plus one column per treatment option where the study
        declares options): the oracle, written to ``raw/truth.csv``.
    """

    tables: dict[str, pd.DataFrame]
    truth: pd.DataFrame
    notes: dict[str, str] = field(default_factory=dict)


def expit(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


def logit(p):
    p = np.asarray(p, dtype=float)
    return np.log(p / (1.0 - p))


def mask_mcar(rng: np.random.Generator, values: pd.Series, rate: float) -> pd.Series:
    """Missing completely at random with probability ``rate``."""
    out = values.astype(float).copy()
    out[rng.random(len(values)) < rate] = np.nan
    return out


def mask_mar(rng: np.random.Generator, values: pd.Series, driver: np.ndarray, rate: float,
             strength: float = 1.0) -> pd.Series:
    """Missing at random: the chance of missingness rises with an *observed* ``driver``.

    The intercept is solved so that the average missingness equals ``rate``.
    """
    z = (driver - np.nanmean(driver)) / (np.nanstd(driver) or 1.0)
    lo, hi = -20.0, 20.0
    for _ in range(60):  # bisection for the intercept giving the target mean rate
        mid = (lo + hi) / 2
        if expit(mid + strength * z).mean() > rate:
            hi = mid
        else:
            lo = mid
    p = expit((lo + hi) / 2 + strength * z)
    out = values.astype(float).copy()
    out[rng.random(len(values)) < p] = np.nan
    return out


def clip_round(x, lo, hi, decimals=0):
    return np.round(np.clip(np.asarray(x, dtype=float), lo, hi), decimals)


def frame_to_csv(df: pd.DataFrame) -> str:
    """CSV text with integers written without decimals and floats as rounded upstream."""
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_float_dtype(s) and s.dropna().eq(s.dropna().round()).all():
            out[col] = s.astype("Int64")
    return out.to_csv(index=False, lineterminator="\n", float_format="%.10g")


def write_cohort(cohort: DemoCohort, raw_dir: Path) -> list[Path]:
    """Write the tables and truth file under ``raw_dir`` atomically, then make them read-only."""
    raw_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in {**cohort.tables, "truth.csv": cohort.truth}.items():
        path = raw_dir / name
        write_text(path, frame_to_csv(frame))
        os.chmod(path, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        written.append(path)
    return written


def as_float_flag(values) -> np.ndarray:
    """Booleans with missing values as floats 1.0/0.0/NaN (the derived flags of study.yaml).

    Examples
    --------
    >>> as_float_flag([True, False, None]).tolist()
    [1.0, 0.0, nan]
    """
    return pd.array(values, dtype="boolean").astype("Float64").to_numpy(dtype=float, na_value=np.nan)
