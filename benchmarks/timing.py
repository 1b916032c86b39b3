"""Wall time of model comparison (05) and validation (06) per study, and of ``make all``.

Runs the two notebooks through Papermill (the same runner as ``make``) for each study, on
the machine's cores, and records seconds per notebook. Target: under 3 minutes for 05 + 06
on a 200-patient study with B = 200 on 2 cores.

With ``--make-all``, first times the whole ``make all`` from scratch (``make clean``, then
``make all``, which uses every core by default): five studies, full settings, demo data,
every notebook and report. Target: under 5 minutes on 2 cores. ``make clean`` removes the
generated data and reports, which ``make all`` then rebuilds identically.

With ``--baseline REV`` (and ``--make-all``), the machine's speed is taken out of the
comparison: REV is cloned into a temporary folder with its own ``.venv``, and ``make all``
of REV and of this checkout alternate, ``--rounds`` times each, in one run; the table gives
every time and the ratio of the medians (this checkout / REV). On a shared 2-core machine
the same ``make all`` varies by 20% from one hour to the next, so only such a ratio says
what a change gained. (The per-study times of 05 and 06 are then not taken.)

Usage::

    .venv/bin/python benchmarks/timing.py [--study NAME ...] [--make-all [--baseline REV] [--rounds N]]

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
    parser.add_argument("--baseline", metavar="REV",
                        help="with --make-all: alternate with `make all` of this git revision")
    parser.add_argument("--rounds", type=int, default=2,
                        help="with --baseline: make all runs of each tree (default 2)")
    args = parser.parse_args(argv)
    if args.baseline and not args.make_all:
        parser.error("--baseline needs --make-all")
    if args.make_all:
        time_make_all(args.baseline, max(1, args.rounds))
        if args.baseline:  # the comparison is the result; the per-study times need a quiet run
            return 0
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


def _revision(tree: Path) -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=tree, capture_output=True,
                          text=True)
    return done.stdout.strip() or "unknown"


def _make_all(tree: Path) -> tuple[float, int]:
    subprocess.run(["make", "clean"], cwd=tree, check=True, stdout=subprocess.DEVNULL)
    start = time.perf_counter()
    done = subprocess.run(["make", "all"], cwd=tree, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    return round(time.perf_counter() - start, 1), done.returncode


def _baseline_tree(revision: str, folder: Path) -> Path:
    """A clone of this repository at ``revision`` with its own environment and kernel."""
    tree = folder / "baseline"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(tree)], check=True)
    subprocess.run(["git", "checkout", "--quiet", revision], cwd=tree, check=True)
    subprocess.run(["make", "kernel"], cwd=tree, check=True, stdout=subprocess.DEVNULL)
    return tree


def time_make_all(baseline: str | None = None, rounds: int = 1) -> None:
    """``make clean`` then ``make all``, timed; rows in ``make_all.csv``.

    With ``baseline``, the baseline's and this checkout's ``make all`` alternate
    (baseline first) ``rounds`` times each.
    """
    import tempfile

    rows = []
    with tempfile.TemporaryDirectory(prefix="timing-baseline-") as folder:
        trees = [(_baseline_tree(baseline, Path(folder)), "baseline")] if baseline else []
        trees.append((ROOT, "current"))
        for round_ in range(1, (rounds if baseline else 1) + 1):
            for tree, role in trees:
                seconds, code = _make_all(tree)
                rows.append({"target": "make all", "studies": len(list_studies(tree)),
                             "seconds": seconds, "exit_code": code,
                             "meets_target": "yes" if seconds < 300 and code == 0 else "no",
                             "cores": os.cpu_count(), "machine": platform.machine(),
                             "tree": role, "revision": _revision(tree), "round": round_})
                print(rows[-1], file=sys.stderr)
                if code:
                    raise SystemExit(f"make all failed in {tree} (exit {code})")
    table = pd.DataFrame(rows)
    if baseline:
        medians = table.groupby("tree")["seconds"].median()
        table["ratio_of_medians"] = round(medians["current"] / medians["baseline"], 3)
    RESULTS.mkdir(parents=True, exist_ok=True)
    table.to_csv(RESULTS / "make_all.csv", index=False)
    print(table.to_string(index=False), file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
