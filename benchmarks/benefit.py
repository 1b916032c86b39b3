"""How well the benefit model recovers each patient's true benefit (issue 12).

For every study whose study.yaml declares treatment options and whose generator knows each
patient's true response probability under every option (``raw/truth.csv``:
``true_probability_<option>``), draw ``--draws`` development cohorts of the study's size
(prepared with the study's own rules), fit notebook 08's benefit model on each (the effect
model: flexible penalised logistic regression with treatment x modifier interactions, with
its bootstrap intervals), and score one fresh external sample (default 20,000 patients):

* ``spearman`` - Spearman correlation of predicted with true benefit (option minus
  reference), among all external patients, per non-reference option;
* ``share_correct_preferred`` - among patients for whom the choice matters (some option is
  at least 0.05 worse than the truly best; with two options: a true benefit of at least 0.05
  either way), the share whose ``preferred_option`` (the tool's rule, as if the
  validation had passed) is a truly best one (within 0.05 of the best); ``share_no_clear``
  the share the rule leaves at "no clear difference"; ``share_correct_argmax`` the share whose
  option of highest *point* prediction is a truly best one (no interval required);
* ``formula_*`` - the same for a model that *knows the true formula* (logistic regression
  on exactly the generator's true terms, ``true_design``, ridge-penalised with C tuned by
  5-fold log loss) fitted on the same draws (complete data): what any method can reach at
  this size; its shares use the point predictions.

Usage::

    .venv/bin/python benchmarks/benefit.py [--n 20000] [--seed 4242] [--draws 5]
                                           [--study NAME ...] [--out CSV]

Writes ``benchmarks/results/benefit.csv`` (one row per study and non-reference option,
means over draws) and prints it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from oracle import ROOT, fit_formula_model, prepared_draw  # noqa: E402  (a sibling script)

from analysis.benefit.effect_model import BenefitModel, effect_model_spec, option_name  # noqa: E402
from analysis.study.config import load_study  # noqa: E402
from analysis.synthetic import GENERATORS  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
MARGIN = 0.05


def _truth_matrix(truth: pd.DataFrame, options) -> np.ndarray:
    return np.column_stack([truth[f"true_probability_{option_name(o)}"].to_numpy(float)
                            for o in options])


def _clear_best(true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The acceptable options (within MARGIN of the truly best) and whether the choice matters.

    The choice matters when some option is at least MARGIN worse than the best (two options:
    a true benefit of at least MARGIN either way); then choosing an option within MARGIN of
    the best counts as right (options with nearly the same effect are equally good).
    """
    top = true.max(axis=1, keepdims=True)
    return true > top - MARGIN, (top[:, 0] - true.min(axis=1)) >= MARGIN


def _formula_predictions(gen, n_dev: int, dev_seed: int, ext_complete, options):
    model, centre, scale = fit_formula_model(gen, gen.simulate_complete(n_dev, dev_seed), dev_seed)
    cols = []
    for option in options:
        forced = gen.true_design(ext_complete, option).drop(columns="intercept").to_numpy(float)
        cols.append(model.predict_proba((forced - centre) / scale)[:, 1])
    return np.column_stack(cols)


def benchmark_study(study_name: str, n: int, seed: int, draws: int) -> list[dict]:
    gen = GENERATORS[study_name]
    study = load_study(study_name, root=ROOT)
    treatment = study.treatment
    options = [str(o) for o in treatment["options"]]
    reference = str(treatment["reference"])
    ref = options.index(reference)
    predictors = list(study.predictors)
    settings = study.settings(False)
    _, ext, _, truth = prepared_draw(study_name, n, seed)
    ext_complete = gen.simulate_complete(n, seed)
    ext_complete = ext_complete.iloc[truth["row"].to_numpy()].reset_index(drop=True)
    if not np.allclose(ext_complete["true_probability"], truth["true_probability"], atol=1e-5):
        raise RuntimeError(f"{study_name}: simulate_complete and the demo writer disagree")
    true = _truth_matrix(truth, options)
    best, clear = _clear_best(true)
    records: dict[str, list] = {}
    for d in range(draws):
        dev_seed = seed + 1000 + d
        dev_study, dev, y, _ = prepared_draw(study_name, gen.DEFAULT_N, dev_seed)
        spec = effect_model_spec(dev_study.codebook(predictors), predictors, treatment,
                                 interactions=settings.interactions, seed=study.seed)
        start = time.perf_counter()
        model = BenefitModel(spec.pipeline, column=treatment["column"], options=options,
                             reference=reference, n_boot=settings.bootstrap,
                             seed=study.seed).fit(dev[predictors], y)
        fit_seconds = time.perf_counter() - start
        table = model.option_table(ext[predictors], evidence=True)
        predicted = np.column_stack([table[f"probability_{option_name(o)}"] for o in options])
        formula = _formula_predictions(gen, gen.DEFAULT_N, dev_seed, ext_complete, options)
        preferred = table["preferred_option"].to_numpy()
        chosen = np.column_stack([preferred == o for o in options])
        records.setdefault("share_correct_preferred", []).append(
            float(np.mean((chosen & best)[clear].any(axis=1))))
        records.setdefault("share_no_clear", []).append(
            float(np.mean(preferred[clear] == "no clear difference")))
        rows = np.flatnonzero(clear)
        records.setdefault("share_correct_argmax", []).append(
            float(np.mean(best[rows, predicted[rows].argmax(axis=1)])))
        records.setdefault("formula_share_correct_argmax", []).append(
            float(np.mean(best[rows, formula[rows].argmax(axis=1)])))
        records.setdefault("fit_seconds", []).append(fit_seconds)
        for j, option in enumerate(options):
            if j == ref:
                continue
            true_b = true[:, j] - true[:, ref]
            records.setdefault(f"spearman:{option}", []).append(
                float(spearmanr(predicted[:, j] - predicted[:, ref], true_b).statistic))
            records.setdefault(f"formula_spearman:{option}", []).append(
                float(spearmanr(formula[:, j] - formula[:, ref], true_b).statistic))
        print(f"{study_name}: draw {d + 1}/{draws} done", file=sys.stderr)
    rows = []
    for j, option in enumerate(options):
        if j == ref:
            continue
        true_b = true[:, j] - true[:, ref]
        rows.append({
            "study": study_name, "option": option, "reference": reference,
            "n_development": gen.DEFAULT_N, "n_external": len(ext), "draws": draws,
            "true_benefit_sd": float(np.std(true_b)),
            "share_true_benefit_ge_005": float(np.mean(np.abs(true_b) >= MARGIN)),
            "share_choice_matters": float(np.mean(clear)),
            "spearman": float(np.mean(records[f"spearman:{option}"])),
            "formula_spearman": float(np.mean(records[f"formula_spearman:{option}"])),
            **{k: float(np.mean(v)) for k, v in records.items() if ":" not in k},
        })
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--study", action="append")
    parser.add_argument("--out", type=Path, default=RESULTS / "benefit.csv")
    args = parser.parse_args(argv)
    rows = []
    for name in args.study or sorted(GENERATORS):
        study = load_study(name, root=ROOT)
        if not study.treatment:
            continue
        print(f"{name}: {args.draws} development draws, {args.n} external patients ...",
              file=sys.stderr)
        rows.extend(benchmark_study(name, args.n, args.seed, args.draws))
    table = pd.DataFrame(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False, float_format="%.4f")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
