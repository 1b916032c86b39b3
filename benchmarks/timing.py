"""Wall time of model comparison (05) and validation (06) per study, and of ``make all``.

Runs the two notebooks through Papermill (the same runner as ``make``) for each study, on
the machine's cores, and records seconds per notebook. Target: under 3 minutes for 05 + 06
on a 200-patient study with B = 200 on 2 cores.

With ``--make-all``, first times the whole ``make all`` from scratch (``make clean``, then
``make all``, which uses every core by default): five studies, full settings, demo data,
every notebook and report. Target: under 5 minutes on 2 cores. ``make clean`` removes the
generated data and reports, which ``make all`` then rebuilds identically.

Usage::

    .venv/bin/python benchmarks/timing.py [--study NAME ...] [--make-all]

Needs the processed cohorts (``make all`` first, or ``--make-all``). Writes
``benchmarks/results/timing.csv`` (and ``make_all.csv`` with ``--make-all``).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from analysis.pipeline.runner import run_notebook
from analysis.study.paths import list_studies, study_paths

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
NOTEBOOKS = ("05-compare-models", "06-validate-model")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--study", action="append")
    parser.add_argument("--make-all", action="store_true",
                        help="first time `make clean && make all` (rebuilds every output)")
    args = parser.parse_args(argv)
    if args.make_all:
        time_make_all()
    rows = []
    for name in args.study or list_studies(ROOT):
        paths = study_paths(name, ROOT)
        if not paths.processed_cohort.exists():
            print(f"{name}: no processed cohort (run `make all` first); skipped", file=sys.stderr)
            continue
        n = len(pd.read_parquet(paths.processed_cohort))
        for nb in NOTEBOOKS:
            start = time.perf_counter()
            # the real outputs are rewritten with identical content: same inputs, same seed
            run_notebook(ROOT / "notebooks" / f"{nb}.ipynb", paths.notebooks / f"{nb}.ipynb",
                         {"study": name}, root=ROOT, progress=False)
            rows.append({"study": name, "patients": n, "notebook": nb,
                         "seconds": round(time.perf_counter() - start, 1)})
            print(rows[-1], file=sys.stderr)
    table = pd.DataFrame(rows)
    total = table.groupby(["study", "patients"], as_index=False)["seconds"].sum().round(1)
    total["notebook"] = "05+06"
    table = pd.concat([table, total], ignore_index=True)
    # the bootstrap of 06 refits the selected model B times: its cost depends on the model
    selected = {}
    for name in table["study"].unique():
        comparison = pd.read_csv(study_paths(name, ROOT).tables / "model_comparison.csv")
        chosen = comparison.loc[comparison["selected"].astype(bool), "model"]
        # no model selected: notebook 06 validates the reference model for audit
        selected[name] = chosen.item() if len(chosen) == 1 else "none (reference audited)"
    table["selected_model"] = table["study"].map(selected)
    table["meets_target"] = ""
    is_total = table["notebook"] == "05+06"
    table.loc[is_total, "meets_target"] = (table.loc[is_total, "seconds"] < 180).map(
        {True: "yes", False: "no"})
    table["cores"] = os.cpu_count()
    table["machine"] = platform.machine()
    RESULTS.mkdir(parents=True, exist_ok=True)
    table.to_csv(RESULTS / "timing.csv", index=False)
    print(table.to_string(index=False))
    return 0


def time_make_all() -> None:
    """``make clean`` then ``make all``, timed; one row in ``make_all.csv``."""
    subprocess.run(["make", "clean"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    start = time.perf_counter()
    done = subprocess.run(["make", "all"], cwd=ROOT, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    seconds = round(time.perf_counter() - start, 1)
    row = pd.DataFrame([{"target": "make all", "studies": len(list_studies(ROOT)),
                         "seconds": seconds, "exit_code": done.returncode,
                         "meets_target": "yes" if seconds < 300 and done.returncode == 0 else "no",
                         "cores": os.cpu_count(), "machine": platform.machine()}])
    RESULTS.mkdir(parents=True, exist_ok=True)
    row.to_csv(RESULTS / "make_all.csv", index=False)
    print(row.to_string(index=False), file=sys.stderr)
    if done.returncode:
        raise SystemExit(f"make all failed (exit {done.returncode})")


if __name__ == "__main__":
    sys.exit(main())
