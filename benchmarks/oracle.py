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
* ``l2_*`` - what a careful analyst gets by hand at the study's size: an L2-penalised
  logistic regression on the study's candidate predictors with the codebook's declared
  transforms (``transform: log``), one-hot categoricals, median imputation and C tuned by
  5-fold cross-validated log loss, fitted with scikit-learn on the study's own development
  cohort (``data/<study>/processed/cohort.parquet``) and scored on the same external sample.
* ``flexible_*`` - the zoo's ``flexible_logistic`` (issue 17's default reference) fitted on
  the same development cohort, whether or not the selection rule shipped it, with its
  effective degrees of freedom; ``plain_*`` - scikit-learn's ``LogisticRegression()`` with
  its defaults on the same data (no transform): a default analysis.
* ``gate_status`` / ``gate_reasons`` - the ship gate's verdict in ``model.json`` (notebook
  06).  The issue's targets: ``slope_target_met`` - external slope within 0.8-1.2 wherever
  the gate lets the model through (empty when the gate stops it); ``ratio_target_met`` -
  AUC ratio at least that of the L2 model.  ``gate_cautions`` - the gate's non-blocking
  cautions (``gate.csv``: the cohort below Riley's minimum sample size when the study sets
  ``modelling.gate.minimum_sample_size: warn``); ``gate_status_if_required`` /
  ``slope_target_met_if_required`` - the verdict and the slope target under
  ``minimum_sample_size: require`` (the default: a cohort below the minimum blocks), and
  ``gate_status_if_warned`` / ``slope_target_met_if_warned`` under ``warn`` (it is only a
  caution).
* ``h2h_*`` - the flexible model against the L2 model by hand, each fitted on
  ``--h2h-draws`` fresh development cohorts of the study's size and scored on the same
  external sample: mean AUC ratios, the paired mean difference (flexible - L2) with its
  95% CI, and the share of draws in which the flexible model is not worse.  One
  development cohort cannot tell two methods 0.01 apart; ten can bound the difference.
* ``large_*`` - the saved model's pipeline (same model, same tuning) refitted on one draw of
  ``--large-n`` patients (default 2000) prepared with the study's own rules: the pipeline
  itself recovers the truth once the sample is large enough.

Usage::

    .venv/bin/python benchmarks/oracle.py [--n 20000] [--seed 777] [--draws 20]
                                          [--large-n 2000] [--h2h-draws 10]
                                          [--study NAME ...] [--out CSV]

Writes ``benchmarks/results/oracle.csv`` (one row per study; ``--out`` elsewhere), prints
it and a per-study summary.
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
from scipy import stats
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from analysis.evaluation.calibration import calibration_intercept_slope
from analysis.models.artifact import load_model
from analysis.models.recalibration import RecalibratedClassifier
from analysis.models.zoo import model_zoo
from analysis.study.config import load_study
from analysis.study.paths import study_paths
from analysis.study.prepare import prepare_cohort, read_processed
from analysis.synthetic import GENERATORS, write_demo_cohort
from analysis.validation.gate import FIT, verdict_from_table
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
    """A fresh cohort of ``n`` patients prepared with the study's rules, and its truth.

    The truth keeps the generator's row order in ``row`` (the rows of ``simulate_complete``
    with the same ``n`` and ``seed``).
    """
    paths = study_paths(study_name, ROOT)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "data" / study_name
        folder.mkdir(parents=True)
        shutil.copy(paths.study_yaml, folder / "study.yaml")
        write_demo_cohort(study_name, Path(tmp), n=n, seed=seed)
        study = load_study(study_name, root=tmp)
        cohort = prepare_cohort(study).cohort
        truth = pd.read_csv(folder / "raw" / "truth.csv")
        truth["row"] = np.arange(len(truth))
    keep = cohort[study.outcome].notna().to_numpy()
    y = cohort.loc[keep, study.outcome].astype(int).to_numpy()
    return study, cohort.loc[keep].reset_index(drop=True), y, truth.loc[keep].reset_index(drop=True)


def fit_formula_model(gen, dev: pd.DataFrame, cv_seed: int):
    """Ridge logistic regression on the generator's true terms of ``dev`` (complete data).

    C is tuned by 5-fold log loss over 20 values from 0.001 to 100; returns the fitted
    search and the centre and scale of the design (apply ``(design - centre) / scale``).
    """
    design = gen.true_design(dev).drop(columns="intercept").to_numpy(float)
    centre, scale = design.mean(axis=0), design.std(axis=0) + 1e-12
    model = GridSearchCV(
        LogisticRegression(max_iter=5000), {"C": np.logspace(-3, 2, 20).tolist()},
        scoring="neg_log_loss", cv=StratifiedKFold(5, shuffle=True, random_state=cv_seed),
    ).fit((design - centre) / scale, dev["latent_response"].to_numpy())
    return model, centre, scale


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
        model, centre, scale = fit_formula_model(gen, dev, cv_seed=d)
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


def _log_columns(X: pd.DataFrame, floors: np.ndarray) -> np.ndarray:
    """Natural log, values below the column's floor (zeros included) set to the floor."""
    return np.log(np.maximum(np.asarray(X, dtype=float), floors))


def hand_l2_pipeline(codebook: dict, X_dev: pd.DataFrame, seed: int) -> GridSearchCV:
    """L2 logistic regression with the codebook's transforms, built with scikit-learn only.

    Numeric, integer and binary predictors: median imputation, then the declared
    ``transform: log`` (floor: half the smallest positive development value), then
    standardisation; categorical (and any text-valued) predictors: most-frequent
    imputation and one-hot coding (every level, unseen levels ignored).  C is tuned on a
    grid of 20 values in [1e-3, 1e2] by 5-fold cross-validated log loss.
    """
    categorical = [c for c in X_dev.columns
                   if codebook[c].get("type") == "categorical" or X_dev[c].dtype == object]
    numeric = [c for c in X_dev.columns if c not in categorical]
    logged = [c for c in numeric if codebook[c].get("transform") == "log"]
    plain = [c for c in numeric if c not in logged]
    floors = []
    for c in logged:
        positive = X_dev[c][X_dev[c] > 0]
        floors.append(float(positive.min()) / 2 if len(positive) else 1e-6)
    parts = [("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), plain)]
    if logged:
        parts.append(("log", make_pipeline(
            SimpleImputer(strategy="median"),
            FunctionTransformer(_log_columns, kw_args={"floors": np.array(floors)}),
            StandardScaler()), logged))
    if categorical:
        parts.append(("cat", make_pipeline(
            SimpleImputer(strategy="most_frequent"),
            OneHotEncoder(handle_unknown="ignore", sparse_output=False)), categorical))
    pipeline = Pipeline([("design", ColumnTransformer(parts)),
                         ("model", LogisticRegression(max_iter=5000))])
    return GridSearchCV(pipeline, {"model__C": np.logspace(-3, 2, 20).tolist()},
                        scoring="neg_log_loss", cv=StratifiedKFold(5, shuffle=True, random_state=seed))


def _aligned(predictors: list, dev: pd.DataFrame, ext: pd.DataFrame):
    """The predictors of a development and the external cohort, text columns as object."""
    X_dev, X_ext = dev[predictors].copy(), ext[predictors].copy()
    for c in X_dev.columns:  # text columns: one dtype on both sides for the encoder
        if X_dev[c].dtype == object or X_ext[c].dtype == object:
            X_dev[c], X_ext[c] = X_dev[c].astype(object), X_ext[c].astype(object)
    return X_dev, X_ext


def _development(study_name: str, X_ext: pd.DataFrame):
    """The study's own development cohort (processed), and the external predictors aligned."""
    study = load_study(study_name, root=ROOT)
    cohort = read_processed(study)
    cohort = cohort[cohort[study.outcome].notna()].reset_index(drop=True)
    X_dev, X_ext = _aligned(list(study.predictors), cohort, X_ext)
    return study, X_dev, X_ext, cohort[study.outcome].astype(int).to_numpy()


def fit_flexible(study, X_dev: pd.DataFrame, y_dev):
    """The zoo's ``flexible_logistic`` as the pipeline builds it for ``study``, fitted."""
    predictors = list(X_dev.columns)
    settings = study.settings(False)
    spec = model_zoo(study.codebook(predictors), predictors, seed=study.seed,
                     include=["flexible_logistic"],
                     interactions=settings.interactions)["flexible_logistic"]
    return fit_final(spec, X_dev, y_dev, seed=study.seed)


def l2_benchmark(study_name: str, X_ext: pd.DataFrame, y_ext, oracle_auc: float) -> dict:
    """The hand-built L2 model fitted on the study's development cohort, scored externally."""
    study, X_dev, X_ext, y_dev = _development(study_name, X_ext)
    predictors = list(study.predictors)
    search = hand_l2_pipeline(study.codebook(predictors), X_dev, study.seed).fit(X_dev, y_dev)
    prob = search.predict_proba(X_ext)[:, 1]
    auc = roc_auc_score(y_ext, prob)
    return {"l2_C": float(search.best_params_["model__C"]), "l2_external_auc": auc,
            "l2_auc_ratio": auc / oracle_auc, "l2_calibration_slope": _slope(y_ext, prob)}


def flexible_and_plain_benchmark(study_name: str, X_ext: pd.DataFrame, y_ext,
                                 oracle_auc: float) -> dict:
    """The zoo's flexible model and a default logistic regression, same development data.

    ``flexible_*``: ``flexible_logistic`` exactly as the pipeline builds it (the study's
    codebook and ``modelling.interactions``), fitted on the development cohort - whether or
    not the selection rule shipped it.  ``plain_*``: scikit-learn's
    ``LogisticRegression()`` with its defaults (L2, C = 1) on median-imputed, standardised
    columns and one-hot categories, no transform: what a default analysis does.
    """
    study, X_dev, X_ext, y_dev = _development(study_name, X_ext)
    predictors = list(study.predictors)
    codebook = study.codebook(predictors)
    flexible = fit_flexible(study, X_dev, y_dev)
    prob = flexible.predict_proba(X_ext)[:, 1]
    out = {"flexible_effective_df": float(flexible.named_steps["model"].effective_df_),
           "flexible_auc_ratio": roc_auc_score(y_ext, prob) / oracle_auc,
           "flexible_calibration_slope": _slope(y_ext, prob)}
    categorical = [c for c in predictors if codebook[c].get("type") == "categorical"]
    numeric = [c for c in predictors if c not in categorical]
    plain = Pipeline([
        ("design", ColumnTransformer([
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                                  OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
             categorical)])),
        ("model", LogisticRegression(max_iter=5000))]).fit(X_dev, y_dev)
    prob = plain.predict_proba(X_ext)[:, 1]
    out.update(plain_auc_ratio=roc_auc_score(y_ext, prob) / oracle_auc,
               plain_calibration_slope=_slope(y_ext, prob))
    return out


def head_to_head_benchmark(study_name: str, ext: pd.DataFrame, y_ext, oracle_auc: float,
                           seed: int, draws: int) -> dict:
    """The flexible model against the hand-built L2 model over fresh development cohorts.

    One development cohort decides little at n = 40-200: the AUC ratio of the same method
    varies by a few hundredths from cohort to cohort.  Here ``draws`` fresh cohorts of the
    study's demo size (prepared with the study's rules, seeds ``seed + 3000 + d``) are each
    fitted with both methods and scored on the same external sample; ``h2h_mean_difference``
    is the paired mean of (flexible - L2) AUC ratio with a t-based 95% CI over the draws, and
    ``h2h_share_flexible_not_worse`` the share of draws in which the flexible model's ratio is
    at least the L2 model's.
    """
    size = GENERATORS[study_name].DEFAULT_N
    flexible, l2, flexible_slopes, l2_slopes = [], [], [], []
    for d in range(draws):
        study, dev, y_dev, _ = prepared_draw(study_name, size, seed + 3000 + d)
        predictors = list(study.predictors)
        X_dev, X_ext = _aligned(predictors, dev, ext)
        prob = fit_flexible(study, X_dev, y_dev).predict_proba(X_ext)[:, 1]
        flexible.append(roc_auc_score(y_ext, prob) / oracle_auc)
        flexible_slopes.append(_slope(y_ext, prob))
        search = hand_l2_pipeline(study.codebook(predictors), X_dev, study.seed).fit(X_dev, y_dev)
        prob = search.predict_proba(X_ext)[:, 1]
        l2.append(roc_auc_score(y_ext, prob) / oracle_auc)
        l2_slopes.append(_slope(y_ext, prob))
    difference = np.array(flexible) - np.array(l2)
    low, high = (stats.ttest_rel(flexible, l2).confidence_interval() if draws > 1
                 else (float("nan"), float("nan")))
    return {
        "h2h_draws": draws, "h2h_n": size,
        "h2h_flexible_mean_ratio": float(np.mean(flexible)),
        "h2h_l2_mean_ratio": float(np.mean(l2)),
        "h2h_mean_difference": float(difference.mean()), "h2h_difference_ci_low": float(low),
        "h2h_difference_ci_high": float(high),
        "h2h_share_flexible_not_worse": float((difference >= 0).mean()),
        "h2h_flexible_median_slope": float(np.median(flexible_slopes)),
        "h2h_l2_median_slope": float(np.median(l2_slopes)),
    }


def gate_of(meta: dict, gate_table: Path | None = None) -> dict:
    """The ship gate's verdict saved in model.json (empty when the model predates the gate),
    its cautions (``gate.csv``), and the verdict under either ``minimum_sample_size`` rule:
    ``_if_required`` (the sample-size criterion blocking, the default) and ``_if_warned``
    (it only a caution)."""
    reasons = meta.get("status_reasons") or []
    out = {"gate_status": meta.get("status") or "",
           "gate_reasons": "; ".join(str(r) for r in reasons), "gate_cautions": ""}
    out["gate_status_if_required"] = out["gate_status_if_warned"] = out["gate_status"]
    if gate_table is not None and gate_table.is_file():
        table = pd.read_csv(gate_table)
        out["gate_cautions"] = "; ".join(verdict_from_table(table).cautions)
        # only the sample-size criterion can be a caution: every other one always blocks
        size = table["criterion"] == "sample_size_adequate"
        out["gate_status_if_required"] = verdict_from_table(table.assign(blocking=True)).status
        out["gate_status_if_warned"] = verdict_from_table(table.assign(blocking=~size)).status
    return out


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
                        large_n: int = 2000, h2h_draws: int = 0) -> dict:
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
    row.update(gate_of(meta, paths.table("gate")))
    row.update(l2_benchmark(study_name, cohort, y, oracle_auc))
    row.update(flexible_and_plain_benchmark(study_name, cohort, y, oracle_auc))
    # the targets: slope within range wherever the gate lets the model through, and
    # AUC ratio at least that of the hand-built L2 model
    row["slope_target_met"] = _slope_ok(slope) if row["gate_status"] == FIT else None
    row["slope_target_met_if_required"] = (_slope_ok(slope) if row["gate_status_if_required"] == FIT
                                            else None)
    row["slope_target_met_if_warned"] = (_slope_ok(slope) if row["gate_status_if_warned"] == FIT
                                         else None)
    row["ratio_target_met"] = bool(row["auc_ratio"] >= row["l2_auc_ratio"])
    if draws:
        row.update(formula_benchmark(study_name, n, seed, draws))
    if large_n:
        row.update(large_sample_benchmark(study_name, meta, X, y, oracle, large_n, seed + 1))
    if h2h_draws:
        row.update(head_to_head_benchmark(study_name, cohort, y, oracle_auc, seed, h2h_draws))
    return row


def _f(value, digits: int = 2) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{value:.{digits}f}"


def summary(row: dict) -> str:
    """Per-study lines: the shipped model, its gate, its targets, and the two yardsticks."""
    gate = row.get("gate_status") or "no gate verdict in model.json"
    if row.get("gate_reasons"):  # the first reason; all of them are in the CSV
        first = row["gate_reasons"].split("; ")[0]
        gate += f" - {first if len(first) <= 110 else first[:107] + '...'}"
    slope_met = row.get("slope_target_met")
    slope_target = ("not applicable (the gate stops the model)" if slope_met is None or pd.isna(slope_met)
                    else "met" if slope_met else "MISSED")
    lines = [
        f"{row['study']} (n = {row['n_development']}): shipped {row['model']}; gate: {gate}",
        f"  shipped : external AUC {_f(row['external_auc'], 3)} / oracle {_f(row['oracle_auc'], 3)}"
        f" = ratio {_f(row['auc_ratio'], 3)}; calibration slope {_f(row['calibration_slope'])}",
        f"  L2 by hand (C = {_f(row['l2_C'], 3)}"
        f"{', the grid lower edge: near intercept-only' if row['l2_C'] <= 1e-3 else ''}):"
        f" ratio {_f(row['l2_auc_ratio'], 3)}; slope {_f(row['l2_calibration_slope'])}",
        f"  flexible_logistic (effective df {_f(row['flexible_effective_df'], 1)}): ratio"
        f" {_f(row['flexible_auc_ratio'], 3)}; slope {_f(row['flexible_calibration_slope'])};"
        f"  plain LogisticRegression(): ratio {_f(row['plain_auc_ratio'], 3)};"
        f" slope {_f(row['plain_calibration_slope'])}",
    ]
    if "formula_auc_ratio" in row:
        lines.append(f"  true formula, same size ({row['formula_draws']} draws): mean ratio"
                     f" {_f(row['formula_auc_ratio'], 3)}; median slope {_f(row['formula_median_slope'])}")
    if "h2h_mean_difference" in row:
        lines.append(
            f"  flexible vs L2 by hand over {row['h2h_draws']} fresh cohorts of {row['h2h_n']}:"
            f" mean ratio {_f(row['h2h_flexible_mean_ratio'], 3)} vs {_f(row['h2h_l2_mean_ratio'], 3)};"
            f" difference {row['h2h_mean_difference']:+.3f} (95% CI {row['h2h_difference_ci_low']:+.3f}"
            f" to {row['h2h_difference_ci_high']:+.3f}); not worse in"
            f" {row['h2h_share_flexible_not_worse']:.0%} of draws")
    lines.append(f"  targets: slope 0.8-1.2 where the gate passes: {slope_target};"
                 f" ratio >= L2's: {'met' if row['ratio_target_met'] else 'MISSED'}")
    if row.get("gate_status_if_warned") != row.get("gate_status"):
        warned = row.get("slope_target_met_if_warned")
        lines.append("  the gate stops it for its sample size alone (below Riley's minimum); under"
                     " `minimum_sample_size: warn` it would ship, slope target "
                     + ("met" if warned else "MISSED"))
    elif row.get("gate_cautions"):
        lines.append("  gate caution (minimum_sample_size: warn): the cohort is below Riley's minimum;"
                     " under `require` the gate would stop this model")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=777)
    parser.add_argument("--draws", type=int, default=20,
                        help="development draws of the study's size for the formula model (0: skip)")
    parser.add_argument("--large-n", type=int, default=2000,
                        help="patients for the large-sample refit of the pipeline (0: skip)")
    parser.add_argument("--h2h-draws", type=int, default=10,
                        help="fresh development cohorts of the study's size on which the flexible"
                             " model and the hand-built L2 model are compared (0: skip)")
    parser.add_argument("--study", action="append")
    parser.add_argument("--out", type=Path, default=RESULTS / "oracle.csv",
                        help="CSV to write (default benchmarks/results/oracle.csv)")
    args = parser.parse_args(argv)
    rows = []
    for name in args.study or sorted(GENERATORS):
        if not (study_paths(name, ROOT).model / "model.json").exists():
            print(f"{name}: no saved model (run `make all` first); skipped", file=sys.stderr)
            continue
        print(f"{name}: drawing {args.n} external patients ...", file=sys.stderr)
        rows.append(external_validation(name, args.n, args.seed, args.draws, args.large_n,
                                        args.h2h_draws))
    table = pd.DataFrame(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False, float_format="%.4f")
    shown = table.drop(columns=["gate_reasons"], errors="ignore")  # long text: see the CSV
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print()
    for row in rows:
        print(summary(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
