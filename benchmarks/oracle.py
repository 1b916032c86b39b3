"""External validation against the known truth of each demo cohort.

For every study with a demo generator and a saved model (``make all`` first), draw a fresh
external sample (default 20,000 patients, a seed the model never saw) from the study's
data-generating model, derive its outcome with the study's own rules, score it with the
saved model, and compare with the oracle (the true response probabilities):

* ``auc_ratio`` = external AUC / oracle AUC          (target >= 0.95)
* ``calibration_slope`` on the external sample      (target 0.8 - 1.2)

Usage::

    .venv/bin/python benchmarks/oracle.py [--n 20000] [--seed 777] [--study NAME ...]

Writes ``benchmarks/results/oracle.csv`` (one row per study) and prints it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from analysis.calibration import calibration_intercept_slope
from analysis.model_artifact import load_model
from analysis.paths import study_paths
from analysis.prepare import prepare_cohort
from analysis.study import load_study
from analysis.synthetic import GENERATORS, write_demo_cohort

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def external_validation(study_name: str, n: int, seed: int) -> dict:
    paths = study_paths(study_name, ROOT)
    pipeline, meta = load_model(paths.model)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "data" / study_name
        folder.mkdir(parents=True)
        shutil.copy(paths.study_yaml, folder / "study.yaml")
        start = time.perf_counter()
        write_demo_cohort(study_name, Path(tmp), n=n, seed=seed)
        study = load_study(study_name, root=tmp)
        cohort = prepare_cohort(study).cohort
        truth = pd.read_csv(folder / "raw" / "truth.csv")
        draw_seconds = time.perf_counter() - start
    keep = cohort[study.outcome].notna().to_numpy()
    y = cohort.loc[keep, study.outcome].astype(int).to_numpy()
    X = cohort.loc[keep, list(meta["predictors"])]
    start = time.perf_counter()
    prob = pipeline.predict_proba(X)[:, 1]
    score_seconds = time.perf_counter() - start
    oracle = truth.loc[keep, "true_probability"].to_numpy()
    cal = calibration_intercept_slope(y, np.clip(prob, 1e-9, 1 - 1e-9)).set_index("metric")["estimate"]
    external_auc, oracle_auc = roc_auc_score(y, prob), roc_auc_score(y, oracle)
    slope = float(cal["calibration_slope"])
    return {
        "study": study_name, "model": meta["model_name"], "n_external": int(len(y)),
        "events": int(y.sum()), "external_auc": external_auc, "oracle_auc": oracle_auc,
        "auc_ratio": external_auc / oracle_auc, "calibration_intercept": float(cal["calibration_intercept"]),
        "calibration_slope": slope,
        "meets_targets": bool(external_auc / oracle_auc >= 0.95 and 0.8 <= slope <= 1.2),
        "draw_seconds": round(draw_seconds, 2), "score_seconds": round(score_seconds, 3),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=777)
    parser.add_argument("--study", action="append")
    args = parser.parse_args(argv)
    rows = []
    for name in args.study or sorted(GENERATORS):
        if not (study_paths(name, ROOT).model / "model.json").exists():
            print(f"{name}: no saved model (run `make all` first); skipped", file=sys.stderr)
            continue
        print(f"{name}: drawing {args.n} external patients ...", file=sys.stderr)
        rows.append(external_validation(name, args.n, args.seed))
    table = pd.DataFrame(rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    table.to_csv(RESULTS / "oracle.csv", index=False, float_format="%.4f")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
