"""environment.yml (conda) and pyproject.toml (pip) must name the same dependencies."""

import re
import tomllib

import yaml
from conftest import REPO


def _normalise(requirement: str) -> tuple[str, str]:
    name, spec = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", requirement).groups()
    return name.lower().replace("_", "-"), spec.replace(" ", "")


# Not packaged for conda: installed from PyPI by the `-e .[dev]` line of environment.yml.
PIP_ONLY = {"firthmodels", "pypandoc-binary"}


def test_environment_yml_mirrors_pyproject_dependencies():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    pip_deps = dict(_normalise(r) for r in pyproject["project"]["dependencies"])
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    conda_deps = dict(_normalise(d.replace("=", "==", 1) if re.match(r"^[\w-]+=[^=<>]", d) else d) for d in conda)
    for tool in ("python", "quarto", "pip"):
        conda_deps.pop(tool)
    assert PIP_ONLY <= set(pip_deps)
    assert conda_deps == {k: v for k, v in pip_deps.items() if k not in PIP_ONLY}
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip_section == ["-e .[dev]"]
    assert any(d.startswith("python=3.11") for d in conda)


def test_dev_extra_has_the_test_tools():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    dev = {_normalise(r)[0] for r in pyproject["project"]["optional-dependencies"]["dev"]}
    assert {"pytest", "hypothesis", "nbstripout"} <= dev


def test_makefile_generates_every_demo_study():
    from analysis.synthetic import GENERATORS

    lines = (REPO / "Makefile").read_text().splitlines()
    line = next(t for t in lines if t.startswith("DEMO_STUDIES :="))
    assert sorted(line.split(":=")[1].split()) == sorted(GENERATORS)
    for name in GENERATORS:
        assert (REPO / "data" / name / "study.yaml").exists(), name
