"""External validation against the known truth of each demo cohort.

For every study with a demo generator and a saved model (``make all`` first), draw a fresh
external sample (default 20,000 patients, a seed the model never saw) from the study's
data-generating model, derive its outcome with the study's own rules, score it with the
saved model, and compare with the oracle (the true response probabilities):

* ``auc_ratio`` = external AUC / oracle AUC          (target >= 0.95)
* ``calibration_slope`` on the external sample      (target 0.8 - 1.2)
  (``slope_before_recalibration``: the same for the model before notebook 06 recalibrated
  it, when it did)

Whether the targets are attainable at the study's size at all is measured alongside, on
the same external sample (``--draws`` fresh development cohorts of the study's size):

* ``formula_*`` - a model that *knows the true formula*: logistic regression on exactly
  the generator's true terms (``true_design``: the right transforms, hinges and
  interactions, nothing else), ridge-penalised with C tuned by 5-fold log loss, fitted on
  each draw of complete data.  ``formula_auc_ratio`` is its mean ratio,
  ``formula_share_ratio_ok`` / ``formula_share_slope_ok`` the share of draws meeting each
  target.  No method that has to find the formula from the candidate predictors can be
  expected to do better, so a study whose formula model misses the targets is too small
  for them (compare Riley's sample size in notebook 06).
* ``large_*`` - the saved model's pipeline (same model, same tuning) refitted on one draw of
  ``--large-n`` patients (default 2000) prepared with the study's own rules: the pipeline
  itself recovers the truth once the sample is large enough.

Usage::

    .venv/bin/python benchmarks/oracle.py [--n 20000] [--seed 777] [--draws 20]
                                          [--large-n 2000] [--study NAME ...]

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
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from analysis.evaluation.calibration import calibration_intercept_slope
from analysis.models.artifact import load_model
from analysis.models.recalibration import RecalibratedClassifier
from analysis.models.zoo import model_zoo
from analysis.study.config import load_study
from analysis.study.paths import study_paths
from analysis.study.prepare import prepare_cohort
from analysis.synthetic import GENERATORS, write_demo_cohort
from analysis.validation.resampling import fit_final

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


AUC_TARGET = 0.95
SLOPE_TARGET = (0.8, 1.2)


def _slope(y, prob) -> float:
    try:
        cal = calibration_intercept_slope(y, np.clip(prob, 1e-9, 1 - 1e-9))
    except Exception:  # noqa: BLE001 - a degenerate fit has no slope
        return float("nan")
    return float(cal.set_index("metric").loc["calibration_slope", "estimate"])


def _slope_ok(slope: float) -> bool:
    return bool(SLOPE_TARGET[0] <= slope <= SLOPE_TARGET[1])


def prepared_draw(study_name: str, n: int, seed: int):
    """A fresh cohort of ``n`` patients prepared with the study's rules, and its truth."""
    paths = study_paths(study_name, ROOT)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "data" / study_name
        folder.mkdir(parents=True)
        shutil.copy(paths.study_yaml, folder / "study.yaml")
        write_demo_cohort(study_name, Path(tmp), n=n, seed=seed)
        study = load_study(study_name, root=tmp)
        cohort = prepare_cohort(study).cohort
        truth = pd.read_csv(folder / "raw" / "truth.csv")
    keep = cohort[study.outcome].notna().to_numpy()
    y = cohort.loc[keep, study.outcome].astype(int).to_numpy()
    return study, cohort.loc[keep].reset_index(drop=True), y, truth.loc[keep].reset_index(drop=True)


def formula_benchmark(study_name: str, n_external: int, seed: int, draws: int) -> dict:
    """Ratio and slope of the exact-formula logistic fitted to draws of the study's size."""
    gen = GENERATORS[study_name]
    ext = gen.simulate_complete(n_external, seed)
    y_ext = ext["latent_response"].to_numpy()
    design_ext = gen.true_design(ext).drop(columns="intercept").to_numpy(float)
    oracle_auc = roc_auc_score(y_ext, ext["true_probability"])
    ratios, slopes = [], []
    for d in range(draws):
        dev = gen.simulate_complete(gen.DEFAULT_N, seed + 1000 + d)
        design = gen.true_design(dev).drop(columns="intercept").to_numpy(float)
        centre, scale = design.mean(axis=0), design.std(axis=0) + 1e-12
        model = GridSearchCV(
            LogisticRegression(max_iter=5000), {"C": np.logspace(-3, 2, 20).tolist()},
            scoring="neg_log_loss", cv=StratifiedKFold(5, shuffle=True, random_state=d),
        ).fit((design - centre) / scale, dev["latent_response"].to_numpy())
        prob = model.predict_proba((design_ext - centre) / scale)[:, 1]
        ratios.append(roc_auc_score(y_ext, prob) / oracle_auc)
        slopes.append(_slope(y_ext, prob))
    ratios, slopes = np.array(ratios), np.array(slopes)
    return {
        "formula_draws": draws,
        "formula_auc_ratio": float(ratios.mean()),
        "formula_share_ratio_ok": float((ratios >= AUC_TARGET).mean()),
        "formula_median_slope": float(np.nanmedian(slopes)),
        "formula_share_slope_ok": float(np.mean([_slope_ok(v) for v in slopes])),
    }


def large_sample_benchmark(study_name, meta, X_ext, y_ext, oracle_prob, n_large, seed) -> dict:
    """The saved model's pipeline refitted on ``n_large`` patients, scored externally."""
    study, cohort, y, _ = prepared_draw(study_name, n_large, seed)
    predictors = list(meta["predictors"])
    settings = study.modelling_settings()
    spec = model_zoo(study.codebook(predictors), predictors, seed=study.seed,
                     include=[meta["model_name"]])[meta["model_name"]]
    fitted = fit_final(spec, cohort[predictors], y, inner_splits=settings["inner_splits"],
                       seed=study.seed)
    prob = fitted.predict_proba(X_ext)[:, 1]
    ratio = roc_auc_score(y_ext, prob) / roc_auc_score(y_ext, oracle_prob)
    slope = _slope(y_ext, prob)
    return {"large_n": n_large, "large_auc_ratio": ratio, "large_calibration_slope": slope,
            "large_meets_targets": bool(ratio >= AUC_TARGET and _slope_ok(slope))}


def external_validation(study_name: str, n: int, seed: int, draws: int = 20,
                        large_n: int = 2000) -> dict:
    paths = study_paths(study_name, ROOT)
    pipeline, meta = load_model(paths.model)
    start = time.perf_counter()
    _, cohort, y, truth = prepared_draw(study_name, n, seed)
    draw_seconds = time.perf_counter() - start
    X = cohort[list(meta["predictors"])]
    start = time.perf_counter()
    prob = pipeline.predict_proba(X)[:, 1]
    score_seconds = time.perf_counter() - start
    oracle = truth["true_probability"].to_numpy()
    cal = calibration_intercept_slope(y, np.clip(prob, 1e-9, 1 - 1e-9)).set_index("metric")["estimate"]
    external_auc, oracle_auc = roc_auc_score(y, prob), roc_auc_score(y, oracle)
    slope = float(cal["calibration_slope"])
    row = {
        "study": study_name, "model": meta["model_name"], "n_development": int(meta["training"]["n"]),
        "n_external": int(len(y)),
        "events": int(y.sum()), "external_auc": external_auc, "oracle_auc": oracle_auc,
        "auc_ratio": external_auc / oracle_auc, "calibration_intercept": float(cal["calibration_intercept"]),
        "calibration_slope": slope,
        "meets_targets": bool(external_auc / oracle_auc >= AUC_TARGET and _slope_ok(slope)),
        "draw_seconds": round(draw_seconds, 2), "score_seconds": round(score_seconds, 3),
    }
    if isinstance(pipeline, RecalibratedClassifier):
        # the saved model was recalibrated (notebook 06): how calibrated was it before?
        base = pipeline.estimator.predict_proba(X)[:, 1]
        row["slope_before_recalibration"] = _slope(y, base)
    else:
        row["slope_before_recalibration"] = float("nan")
    if draws:
        row.update(formula_benchmark(study_name, n, seed, draws))
    if large_n:
        row.update(large_sample_benchmark(study_name, meta, X, y, oracle, large_n, seed + 1))
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=777)
    parser.add_argument("--draws", type=int, default=20,
                        help="development draws of the study's size for the formula model (0: skip)")
    parser.add_argument("--large-n", type=int, default=2000,
                        help="patients for the large-sample refit of the pipeline (0: skip)")
    parser.add_argument("--study", action="append")
    args = parser.parse_args(argv)
    rows = []
    for name in args.study or sorted(GENERATORS):
        if not (study_paths(name, ROOT).model / "model.json").exists():
            print(f"{name}: no saved model (run `make all` first); skipped", file=sys.stderr)
            continue
        print(f"{name}: drawing {args.n} external patients ...", file=sys.stderr)
        rows.append(external_validation(name, args.n, args.seed, args.draws, args.large_n))
    table = pd.DataFrame(rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    table.to_csv(RESULTS / "oracle.csv", index=False, float_format="%.4f")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
