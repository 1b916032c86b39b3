"""Deterministic demo cohorts, one documented data-generating model per study profile.

Examples
--------
>>> from analysis.synthetic import GENERATORS
>>> "ibd-biologics" in GENERATORS
True
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from analysis.synthetic import (
    cd_msc,
    cd_upadacitinib_ius,
    ibd_biologics,
    ra_refractory,
    sle_belimumab,
)
from analysis.synthetic._base import DemoCohort, write_cohort

GENERATORS: dict[str, ModuleType] = {
    ibd_biologics.NAME: ibd_biologics,
    ra_refractory.NAME: ra_refractory,
    sle_belimumab.NAME: sle_belimumab,
    cd_upadacitinib_ius.NAME: cd_upadacitinib_ius,
    cd_msc.NAME: cd_msc,
}


def simulate(study: str, n: int | None = None, seed: int | None = None) -> DemoCohort:
    """Draw a demo cohort of ``study`` (defaults: the profile's size and seed)."""
    gen = GENERATORS[study]
    return gen.simulate(n or gen.DEFAULT_N, gen.DEFAULT_SEED if seed is None else seed)


def write_demo_cohort(study: str, root: Path, n: int | None = None, seed: int | None = None) -> list[Path]:
    """Simulate ``study`` and write its raw tables under ``<root>/data/<study>/raw/``."""
    return write_cohort(simulate(study, n, seed), Path(root) / "data" / study / "raw")


__all__ = ["GENERATORS", "DemoCohort", "simulate", "write_demo_cohort"]
