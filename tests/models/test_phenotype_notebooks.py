"""End to end: ra-refractory with the phenotype as a candidate predictor, notebooks 01, 05 and 06
in smoke mode on a generated cohort, then ``analysis predict`` on one patient of the raw table."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from conftest import REPO

from analysis.app.form import form_fields
from analysis.study.config import load_study
from analysis.synthetic import write_demo_cohort

STUDY = "ra-refractory"


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANALYSIS_")}
    return subprocess.run([sys.executable, "-m", "analysis", *args], capture_output=True,
                          text=True, env={**env, "CI": "1"}, timeout=timeout, cwd=REPO)


@pytest.mark.notebook
def test_phenotype_joins_the_models_and_the_saved_model_asks_for_its_variables(tmp_path):
    folder = tmp_path / "data" / STUDY
    folder.mkdir(parents=True)
    text = (REPO / "data" / STUDY / "study.yaml").read_text(encoding="utf-8")
    assert text.count("  candidate_predictor: false\n") == 1
    (folder / "study.yaml").write_text(
        text.replace("  candidate_predictor: false\n", "  candidate_predictor: true\n"),
        encoding="utf-8")
    write_demo_cohort(STUDY, tmp_path)
    study = load_study(STUDY, root=tmp_path)
    only = [v for v in study.phenotypes["variables"] if v not in study.predictors]
    assert only and study.model_inputs == (*study.predictors, *only)

    for notebook in ("01-prepare-cohort", "05-compare-models", "06-validate-model"):
        proc = cli("run", str(REPO / "notebooks" / f"{notebook}.ipynb"),
                   str(tmp_path / f"{notebook}.ipynb"), "--study", STUDY, "--root", str(tmp_path),
                   "--smoke")
        assert proc.returncode == 0, f"{notebook}: {proc.stderr[-3000:]}"
    compared = (tmp_path / "05-compare-models.ipynb").read_text(encoding="utf-8")
    assert "Phenotype as a candidate predictor" in compared

    meta = json.loads((tmp_path / "reports" / STUDY / "model" / "model.json").read_text())
    assert list(meta["predictors"]) == list(study.model_inputs)
    for name in only:  # asked for like any input: codebook entry and training range
        assert meta["predictors"][name]["type"] == study.variables[name].type
        assert name in meta["training"]["ranges"]

    patient = pd.read_csv(folder / study.data).head(1)
    patient.to_csv(tmp_path / "patient.csv", index=False)
    proc = cli("predict", "--study", STUDY, "--root", str(tmp_path), "--input",
               str(tmp_path / "patient.csv"), "--output", str(tmp_path / "scored.csv"),
               "--allow-unvalidated")
    assert proc.returncode == 0, proc.stderr[-3000:]
    scored = pd.read_csv(tmp_path / "scored.csv")
    assert len(scored) == 1 and 0 < scored["probability"].item() < 1
    # the calculator's form asks for them (rf_positive also feeds the derived seropositive)
    fields = {f.name: f for f in form_fields(meta)}
    assert set(only) <= set(fields) and "seropositive" in fields["rf_positive"].derives
    # without a phenotype-only variable the patient cannot be scored
    assert "esr_mm_h_m0" in only  # enters no derived predictor: only the phenotype needs it
    patient.drop(columns="esr_mm_h_m0").to_csv(tmp_path / "short.csv", index=False)
    proc = cli("predict", "--study", STUDY, "--root", str(tmp_path), "--input",
               str(tmp_path / "short.csv"), "--output", str(tmp_path / "short-scored.csv"),
               "--allow-unvalidated")
    assert proc.returncode != 0 and "esr_mm_h_m0" in proc.stderr
