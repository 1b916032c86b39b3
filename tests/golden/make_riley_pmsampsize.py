"""Regenerate ``riley_pmsampsize.csv``: Riley et al. sample sizes computed by pmsampsize.

The reference for ``tests/validation/test_sample_size.py``.  The independent source is
the PyPI port of the authors' ``pmsampsize`` (version 0.1.0, by the R/Stata package's
team; wheel sha256
``5219eb797cd5b3628a8c6a2eab4801568a94b19d3c4a12c3f892d9d8c4b01567``).  It is *not* a
dependency of this project: its metadata asks for Python >= 3.12, so pip refuses to
install it into the project's 3.11 virtualenv, but the code is pure Python and runs
unchanged on 3.11.  Fetch and unpack the wheel by hand, then run this script from the
repository root with the project's virtualenv::

    pip download --no-deps --python-version 3.12 --only-binary=:all: \\
        pmsampsize==0.1.0 -d /tmp/pms
    unzip -o /tmp/pms/pmsampsize-0.1.0-py3-none-any.whl -d /tmp/pms/ex
    .venv/bin/python tests/golden/make_riley_pmsampsize.py /tmp/pms/ex

(The argument is the directory holding the unpacked ``pmsampsize`` package; it defaults
to ``/tmp/pms/ex``.)  pmsampsize imports ``tabulate`` only to print its table; if it is
not installed a stub is put in its place, as nothing is printed here.

Rows with ``source == "rsquared"``: ``pmsampsize_bin`` with the Cox-Snell R-squared
given directly, which is deterministic, over the grid ``PARAMETERS`` x ``PREVALENCES``
x ``R2_CS`` x ``SHRINKAGES`` (the fixed delta = 0.05 and margin = 0.05 of pmsampsize).

Rows with ``source == "cstatistic"``: the wrapper ``pmsampsize(type="b",
cstatistic=...)`` for the pairs in ``C_STATISTICS``.  It estimates R2cs with
``cstat2rsq`` by simulating 1,000,000 patients with ``np.random.seed(SEED)`` (SEED =
123456, pmsampsize's default) and fitting a logistic regression; ``r2_cs_simulated`` is
that raw estimate and ``r2_cs`` the value rounded to 4 decimals that pmsampsize then
uses for the sample sizes.  (This port labels the first ``prevalence * n`` simulated
patients, drawn from N(0, 1), as non-events, so the simulated outcome proportion is
``1 - prevalence``; mirroring the linear predictor, x -> mu - x, shows the Cox-Snell
R-squared is unchanged, so the estimate still targets the intended quantity.)

Columns: inputs; ``n_shrinkage``, ``n_optimism``, ``n_overall_risk`` (criteria 1-3)
and ``n_final``; ``epp_*`` (events per parameter, rounded to 2 decimals by
pmsampsize); ``events_final_raw`` (``n_final * prevalence``) and ``events_final``
(its ceiling, as printed by pmsampsize); ``max_r2_cs``, ``nagelkerke_r2`` and
``shrinkage_final``.  Floats are written with 17 significant digits.
"""

import math
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = "/tmp/pms/ex"

PARAMETERS = [5, 10, 20, 24, 40]
PREVALENCES = [0.1, 0.174, 0.2, 0.3, 0.5]
R2_CS = [0.02, 0.05, 0.1, 0.2, 0.288]
SHRINKAGES = [0.9, 0.85]
# (C statistic, prevalence, parameters); the first is the Riley et al. (BMJ 2020) example.
C_STATISTICS = [
    (0.89, 0.174, 24),
    (0.7, 0.1, 10),
    (0.75, 0.3, 20),
    (0.8, 0.5, 5),
    (0.85, 0.2, 40),
]
SEED = 123456


def _import_pmsampsize(source: str):
    sys.path.insert(0, source)
    try:
        import tabulate  # noqa: F401
    except ImportError:
        stub = types.ModuleType("tabulate")
        stub.SEPARATING_LINE = "\001"
        stub.tabulate = lambda *a, **k: ""
        sys.modules["tabulate"] = stub
    import pmsampsize
    from pmsampsize import pmsampsize as module

    return pmsampsize.__version__, module


def _row(source, parameters, prevalence, shrinkage, out, cstatistic=np.nan, r2_sim=np.nan):
    table = [r for r in out["results_table"] if isinstance(r, list)]
    n = [r[1] for r in table]
    epp = [r[7] for r in table]
    return {
        "source": source,
        "parameters": parameters,
        "prevalence": prevalence,
        "shrinkage": shrinkage,
        "cstatistic": cstatistic,
        "seed": SEED if source == "cstatistic" else np.nan,
        "r2_cs_simulated": r2_sim,
        "r2_cs": out["rsquared"],
        "n_shrinkage": n[0],
        "n_optimism": n[1],
        "n_overall_risk": n[2],
        "n_final": n[3],
        "epp_shrinkage": epp[0],
        "epp_optimism": epp[1],
        "epp_overall_risk": epp[2],
        "epp_final": epp[3],
        "events_final_raw": out["events"],
        "events_final": math.ceil(out["events"]),
        "max_r2_cs": out["max_r2a"],
        "nagelkerke_r2": out["nag_r2"],
        "shrinkage_final": out["final_shrinkage"],
    }


def main() -> None:
    source = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_SOURCE
    version, pms = _import_pmsampsize(source)
    rows = []
    for p in PARAMETERS:
        for q in PREVALENCES:
            for r2 in R2_CS:
                for s in SHRINKAGES:
                    out = pms.pmsampsize_bin(
                        rsquared=r2,
                        parameters=p,
                        prevalence=q,
                        shrinkage=s,
                        cstatistic=None,
                        noprint=True,
                    )
                    rows.append(_row("rsquared", p, q, s, out))
    for c, q, p in C_STATISTICS:
        r2_sim = pms.cstat2rsq(cstatistic=c, prevalence=q, seed=SEED, noprint=True)
        out = pms.pmsampsize(type="b", cstatistic=c, parameters=p, prevalence=q, noprint=True)
        rows.append(_row("cstatistic", p, q, 0.9, out, c, float(r2_sim["R2_coxsnell"])))
    table = pd.DataFrame(rows)
    table.to_csv(HERE / "riley_pmsampsize.csv", index=False, float_format="%.17g")
    print(f"wrote {len(table)} rows with pmsampsize {version} from {source}")


if __name__ == "__main__":
    main()
