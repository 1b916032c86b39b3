"""The predict command end to end: a saved model scores a CSV of new patients."""

from __future__ import annotations

import argparse
import copy

import numpy as np
import pandas as pd
import pytest
from test_artifact import PREDICTORS, TINY, fit_pipeline, make_project, training_frame

from analysis.errors import DataValidationError
from analysis.models.artifact import save_model
from analysis.models.predict import add_predict_parser, main, option_column, predict_patients

NEW = pd.DataFrame({
    "pid": ["N1", "N2", "N3", "N4", "N5"],
    "age": [45.5, 19.0, 62.25, np.nan, 50.0],
    "crp_mg_l": [12.5, 3.0, 900.0, 0.1, 40.0],
    "smoking": ["never", "former", "current", "never", np.nan],
    "treatment": ["anti-TNF", "anti-IL-17", "anti-TNF", "anti-IL-17", np.nan],
    "prior_biologic": [0.0, 1.0, 1.0, np.nan, 0.0],
    "note": ["free text", "", "", "", ""],  # undeclared columns are ignored
})


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("project")
    study, pipeline, frame = make_project(root)
    return root, study, pipeline, frame


def cli(argv: list[str]) -> int:
    """Run the sub-command the way ``python -m analysis`` will: parser -> func(args)."""
    parser = argparse.ArgumentParser(prog="analysis")
    add_predict_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def reference(pipeline, rows: pd.DataFrame) -> np.ndarray:
    return pipeline.predict_proba(rows[PREDICTORS])[:, 1]


def test_cli_writes_id_and_probability_equal_to_the_pipeline(project, tmp_path, capsys):
    root, _, pipeline, _ = project
    src, out = tmp_path / "patients.csv", tmp_path / "out" / "predictions.csv"
    NEW.to_csv(src, index=False)
    code = cli(["predict", "--study", "tiny", "--input", str(src), "--output", str(out),
                "--root", str(root)])
    assert code == 0
    assert "5 patient(s), 4 with warnings" in capsys.readouterr().out
    got = pd.read_csv(out, float_precision="round_trip", keep_default_na=False)
    assert got.columns.tolist() == ["pid", "probability", "ci_lower", "ci_upper",
                                    "probability_anti_TNF", "probability_anti_IL_17", "warnings"]
    assert got["pid"].tolist() == NEW["pid"].tolist()
    np.testing.assert_array_equal(got["probability"].to_numpy(), reference(pipeline, NEW))


def test_cli_uses_the_project_root_from_the_environment(project, tmp_path, monkeypatch):
    root, _, pipeline, _ = project
    monkeypatch.setenv("ANALYSIS_PROJECT_ROOT", str(root))
    src, out = tmp_path / "p.csv", tmp_path / "o.csv"
    NEW.iloc[:2].to_csv(src, index=False)
    assert main(["--study", "tiny", "--input", str(src), "--output", str(out)]) == 0
    got = pd.read_csv(out, float_precision="round_trip")
    np.testing.assert_array_equal(got["probability"], reference(pipeline, NEW.iloc[:2]))


def test_treatment_options_equal_manual_toggling(project):
    root, study, pipeline, _ = project
    got = predict_patients(study, NEW)
    for option in ["anti-TNF", "anti-IL-17"]:
        toggled = NEW.copy()
        toggled["treatment"] = option
        np.testing.assert_array_equal(got[option_column(option)], reference(pipeline, toggled))
    # the probability under the patient's own treatment is one of the option columns
    own = np.where(NEW["treatment"] == "anti-TNF", got["probability_anti_TNF"],
                   got["probability_anti_IL_17"])
    np.testing.assert_array_equal(got["probability"][:4], own[:4])


def test_warnings_name_out_of_range_values_unseen_levels_and_gaps(project):
    _, study, _, frame = project
    got = predict_patients(study, NEW)["warnings"].tolist()

    def pct(col, q):  # the stored range: 1st/99th percentile to 3 significant digits
        return float(f"{np.quantile(frame[col].dropna(), q):.3g}")

    age_lo, age_hi = pct("age", 0.01), pct("age", 0.99)
    crp = f"[{pct('crp_mg_l', 0.01):g}, {pct('crp_mg_l', 0.99):g}]"
    assert 20 < age_lo <= 21 and 79 < age_hi < 80
    assert got[0] == ""
    assert got[1] == f"age=19 below the training range [{age_lo:g}, {age_hi:g}]"
    assert got[2] == (f"crp_mg_l=900 above the training range {crp}; "
                      "smoking=current not seen in training (levels: never, former)")
    assert got[3] == ("age missing (imputed by the model); "
                      f"crp_mg_l=0.1 below the training range {crp}; "
                      "prior_biologic missing (imputed by the model)")
    assert got[4] == "smoking missing (imputed by the model); treatment missing (imputed by the model)"


def test_bad_input_exits_1_lists_every_violation_and_writes_nothing(project, tmp_path, capsys):
    root, _, _, _ = project
    bad = NEW.drop(columns="smoking").astype(object)
    bad.loc[1, "age"] = "abc"
    bad.loc[2, "treatment"] = "rituximab"
    src, out = tmp_path / "bad.csv", tmp_path / "out.csv"
    bad.to_csv(src, index=False)
    code = cli(["predict", "--study", "tiny", "--input", str(src), "--output", str(out),
                "--root", str(root)])
    err = capsys.readouterr().err
    assert code == 1
    assert not out.exists()
    assert "3 validation error(s)" in err
    assert "column 'smoking': column missing from the data file" in err
    assert "column 'age': not a number (1 row, e.g. row 2 (pid=N2))" in err
    assert "column 'treatment': unknown level" in err


def test_codebook_range_and_duplicate_ids_are_errors(project):
    _, study, _, _ = project
    bad = NEW.copy()
    bad.loc[0, "crp_mg_l"] = 5000.0  # beyond the codebook's plausible max 1000
    bad.loc[1, "pid"] = "N1"
    with pytest.raises(DataValidationError) as info:
        predict_patients(study, bad)
    rules = {(v.column, v.rule) for v in info.value.violations}
    assert ("crp_mg_l", "value above max 1000") in rules
    assert ("pid", "duplicate id") in rules


def test_unknown_study_or_missing_model_exit_1(tmp_path, capsys):
    src = tmp_path / "p.csv"
    NEW.to_csv(src, index=False)
    assert cli(["predict", "--study", "nope", "--input", str(src), "--output",
                str(tmp_path / "o.csv"), "--root", str(tmp_path)]) == 1
    assert "study 'nope' not found" in capsys.readouterr().err
    from conftest import make_study

    make_study(tmp_path, "unsaved", TINY)
    assert cli(["predict", "--study", "unsaved", "--input", str(src), "--output",
                str(tmp_path / "o.csv"), "--root", str(tmp_path)]) == 1
    assert "no model.json" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()


def test_study_without_id_or_treatment_numbers_rows(project, tmp_path):
    root, _, pipeline, frame = project
    from conftest import make_study

    from analysis.study.config import load_study

    spec = copy.deepcopy(TINY)
    del spec["id"], spec["treatment"], spec["variables"]["pid"]
    make_study(tmp_path, "plain", spec)
    study = load_study("plain", root=tmp_path)
    folder = save_model(pipeline, study, model_name="m", metrics=None, training_frame=frame,
                        folder=tmp_path / "somewhere", status="fit-for-clinical-use")
    got = predict_patients(folder, NEW.drop(columns="pid"))
    assert got.columns.tolist() == ["row", "probability", "ci_lower", "ci_upper", "warnings"]
    assert got["row"].tolist() == [1, 2, 3, 4, 5]
    np.testing.assert_array_equal(got["probability"], reference(pipeline, NEW))
    # by study name under a root
    by_name = predict_patients("tiny", NEW, root=root)
    np.testing.assert_array_equal(by_name["probability"], reference(pipeline, NEW))


def test_binary_treatment_column_is_toggled_as_numbers(project, tmp_path):
    _, _, pipeline, frame = project
    from conftest import make_study

    from analysis.study.config import load_study

    spec = copy.deepcopy(TINY)
    spec["treatment"] = {"column": "prior_biologic", "options": [0, 1]}
    make_study(tmp_path, "binary", spec)
    study = load_study("binary", root=tmp_path)
    save_model(pipeline, study, model_name="m", metrics=None, training_frame=frame,
               status="fit-for-clinical-use")
    got = predict_patients(study, NEW)
    assert got.columns.tolist() == ["pid", "probability", "ci_lower", "ci_upper",
                                    "probability_0", "probability_1", "warnings"]
    for option in (0.0, 1.0):
        toggled = NEW.assign(prior_biologic=option)
        np.testing.assert_array_equal(got[option_column(int(option))], reference(pipeline, toggled))


def test_treatment_options_must_be_levels_of_the_column(project, tmp_path):
    _, _, pipeline, frame = project
    from conftest import make_study

    from analysis.errors import StudyConfigError
    from analysis.models.artifact import ModelArtifactError
    from analysis.study.config import load_study

    spec = copy.deepcopy(TINY)
    spec["treatment"]["options"] = ["anti-TNF", "rituximab"]
    make_study(tmp_path, "badopt", spec)
    # caught when the study is read, naming the key ...
    with pytest.raises(StudyConfigError, match="treatment.options: 'rituximab' is not a level"):
        load_study("badopt", root=tmp_path)
    # ... and again when a model is saved for a study whose options were changed afterwards
    good = copy.deepcopy(TINY)
    make_study(tmp_path, "late", good)
    late = load_study("late", root=tmp_path)
    late.treatment["options"] = ["anti-TNF", "rituximab"]
    with pytest.raises(ModelArtifactError, match="treatment.options: rituximab not among the levels"):
        save_model(pipeline, late, model_name="m", metrics=None, training_frame=frame)


def test_parser_registers_exactly_the_documented_flags():
    parser = argparse.ArgumentParser(prog="analysis")
    sub = parser.add_subparsers(dest="command")
    p = add_predict_parser(sub)
    flags = {o for a in p._actions for o in a.option_strings} - {"-h", "--help"}
    assert flags == {"--study", "--input", "--output", "--root", "--skip-invalid",
                     "--allow-unvalidated"}
    with pytest.raises(SystemExit):
        parser.parse_args(["predict", "--study", "s", "--input", "a.csv"])  # --output required


def test_training_frame_helper_is_deterministic():
    pd.testing.assert_frame_equal(training_frame(), training_frame())
    a, b = fit_pipeline(training_frame()), fit_pipeline(training_frame())
    np.testing.assert_array_equal(reference(a, NEW), reference(b, NEW))


def test_skip_invalid_keeps_input_row_numbers_without_an_id(project, tmp_path):
    _, _, pipeline, frame = project
    from conftest import make_study

    from analysis.models.predict import score_valid_rows
    from analysis.study.config import load_study

    spec = copy.deepcopy(TINY)
    del spec["id"], spec["treatment"], spec["variables"]["pid"]
    make_study(tmp_path, "plain", spec)
    folder = save_model(pipeline, load_study("plain", root=tmp_path), model_name="m",
                        metrics=None, training_frame=frame, folder=tmp_path / "m",
                        status="fit-for-clinical-use")
    rows = NEW.drop(columns="pid").astype(object)
    rows.loc[1, "age"] = "old"
    rows.loc[3, "crp_mg_l"] = 5000
    scores, rejected = score_valid_rows(folder, rows)
    assert scores["row"].tolist() == [1, 3, 5]
    np.testing.assert_array_equal(scores["probability"], reference(pipeline, NEW.iloc[[0, 2, 4]]))
    assert rejected.values.tolist() == [[2, "age", "not a number", "old"],
                                        [4, "crp_mg_l", "value above max 1000", "5000"]]
    with pytest.raises(DataValidationError, match="column 'age': not a number"):
        predict_patients(folder, rows)


# --------------------------------------------------------------------------- the ship gate


def _unvalidated(tmp_path, pipeline, frame, **status):
    from conftest import make_study

    from analysis.study.config import load_study

    make_study(tmp_path, "audit", TINY)
    study = load_study("audit", root=tmp_path)
    save_model(pipeline, study, model_name="m", metrics=None, training_frame=frame, **status)
    return study


def test_unvalidated_model_is_refused_by_the_cli_with_its_reasons(project, tmp_path, capsys):
    _, _, pipeline, frame = project
    _unvalidated(tmp_path, pipeline, frame, status="not-for-clinical-use",
                 status_reasons=["The cross-validated AUC of m is 0.520 (95% CI 0.41-0.63)."])
    src, out = tmp_path / "patients.csv", tmp_path / "predictions.csv"
    NEW.to_csv(src, index=False)
    argv = ["predict", "--study", "audit", "--input", str(src), "--output", str(out),
            "--root", str(tmp_path)]
    assert cli(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not-for-clinical-use" in err
    assert "AUC of m is 0.520" in err and "--allow-unvalidated" in err
    assert not out.exists()
    assert cli([*argv, "--skip-invalid"]) == 1 and not out.exists()

    assert cli([*argv, "--allow-unvalidated"]) == 0
    assert "NOT for clinical use" in capsys.readouterr().out
    got = pd.read_csv(out, keep_default_na=False)
    np.testing.assert_allclose(got["probability"], reference(pipeline, NEW))
    warning = "not for clinical use: The cross-validated AUC of m is 0.520 (95% CI 0.41-0.63)."
    assert all(w.startswith(warning) for w in got["warnings"])
    # the range warnings are kept after it
    assert "crp_mg_l=900 above the training range" in got.loc[2, "warnings"]


def test_a_model_saved_without_a_verdict_is_not_for_clinical_use(project, tmp_path):
    from analysis.models.predict import UnvalidatedModelError, score_valid_rows

    _, _, pipeline, frame = project
    study = _unvalidated(tmp_path, pipeline, frame)
    with pytest.raises(UnvalidatedModelError, match="saved without a ship-gate verdict"):
        predict_patients(study, NEW)
    with pytest.raises(UnvalidatedModelError):
        score_valid_rows(study, NEW)
    scores, _ = score_valid_rows(study, NEW, allow_unvalidated=True)
    assert scores["warnings"].str.startswith("not for clinical use: saved without").all()


def test_fit_model_rows_carry_no_status_warning(project):
    _, study, _, _ = project
    got = predict_patients(study, NEW)
    assert not got["warnings"].str.contains("clinical use").any()
    assert got.loc[0, "warnings"] == ""


# --------------------------------------------------------------------------- the benefit model


def _benefit_project(root, evidence):
    from sklearn.base import clone

    from analysis.benefit.effect_model import BenefitModel

    study, pipeline, frame = make_project(root)
    y = frame["response"].astype(int).to_numpy()
    model = BenefitModel(clone(pipeline), column="treatment", options=["anti-TNF", "anti-IL-17"],
                         reference="anti-TNF", n_boot=20, seed=3, evidence=evidence)
    model.fit(frame[PREDICTORS], y)
    save_model(model, study, model_name="effect model", metrics=None, training_frame=frame,
               folder=study.paths.benefit_model, status="fit-for-clinical-use")
    return study, model


def test_a_benefit_model_adds_intervals_benefit_and_preferred_option(tmp_path):
    study, model = _benefit_project(tmp_path, evidence={"anti-IL-17": True})
    got = predict_patients(study, NEW)
    assert got.columns.tolist() == [
        "pid", "probability", "ci_lower", "ci_upper",
        "probability_anti_TNF", "ci_lower_anti_TNF", "ci_upper_anti_TNF",
        "probability_anti_IL_17", "ci_lower_anti_IL_17", "ci_upper_anti_IL_17",
        "benefit_anti_IL_17", "benefit_ci_lower_anti_IL_17", "benefit_ci_upper_anti_IL_17",
        "preferred_option", "warnings"]
    expected = model.option_table(NEW[PREDICTORS].astype({"age": float, "crp_mg_l": float}))
    np.testing.assert_allclose(got["benefit_anti_IL_17"], expected["benefit_anti_IL_17"])
    assert got["preferred_option"].tolist() == expected["preferred_option"].tolist()
    assert set(got["preferred_option"]) <= {"anti-TNF", "anti-IL-17", "no clear difference"}
    assert (got["ci_lower_anti_TNF"] <= got["probability_anti_TNF"] + 1e-12).all()


def test_a_benefit_model_without_evidence_says_so(tmp_path):
    study, _ = _benefit_project(tmp_path, evidence={"anti-IL-17": False})
    got = predict_patients(study, NEW)
    assert set(got["preferred_option"]) == {"no evidence that the options differ for this patient"}


def test_a_benefit_model_of_another_study_is_refused(tmp_path):
    import hashlib
    import json

    from analysis.errors import AnalysisError

    study, _ = _benefit_project(tmp_path, evidence=None)
    meta_path = study.paths.benefit_model / "model.json"
    meta = json.loads(meta_path.read_text())
    meta["treatment"]["options"] = ["anti-IL-17", "anti-TNF"]
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    manifest = study.paths.benefit_model / "manifest.json"
    m = json.loads(manifest.read_text())
    m["files"]["model.json"]["sha256"] = hashlib.sha256(meta_path.read_bytes()).hexdigest()
    manifest.write_text(json.dumps(m))
    with pytest.raises(AnalysisError, match="benefit model's treatment differs"):
        predict_patients(study, NEW)


def test_the_command_line_parser_imports_no_model_code():
    """Every notebook run builds the whole parser: ``predict``'s model code loads only when it runs."""
    import subprocess
    import sys

    code = ("import sys; from analysis.pipeline.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('analysis.models.predict', 'pandas', 'sklearn', 'pandera') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
