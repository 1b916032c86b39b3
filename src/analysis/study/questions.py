"""The study's own questions in study.yaml: endpoints over visits, safety, added value, phenotypes.

Four optional top-level blocks (issue 15), each checked here against the codebook so that a
wrong name is an error naming the key before anything runs:

``endpoints`` (needs ``visits``): the binary visit outcomes reported over visits with exact
CIs, non-responder imputation as primary and observed cases as sensitivity::

    endpoints:
      outcomes: [cdai_response, cdai_remission]       # binary visit variables
      composites: {clinical_and_endoscopic_remission: [cdai_remission, endoscopic_remission]}
      arm: arm               # optional: a categorical cohort column (default: the study group)
      reference: mucosal     # optional: the arm differences are taken against (default: first level)
      ci: clopper-pearson    # or wilson

``safety`` (needs ``visits``): ``{count: <integer visit column of adverse events>,
serious: <binary visit column of serious adverse events>}`` (either may be omitted).

``added_value``: does a set of extra predictors (e.g. week-4 ultrasound change) add to a
baseline set? ``{baseline: [...], extended: [...], markers: [...]}``; ``extended`` contains
every baseline name; ``markers`` (optional) are numeric columns given a ROC curve and a
Youden cut-off each.

``phenotypes``: clustering of baseline variables ``{variables: [...], outcomes: [...],
max_clusters: 6, candidate_predictor: false, k: 3}``; ``outcomes`` are binary columns reported
by cluster. ``candidate_predictor: true`` offers the phenotype to every prediction model
(:mod:`analysis.models.phenotype`): the latent class model is refitted inside every model
pipeline, its most probable class enters as a categorical predictor, and the phenotype
variables that are not predictors become inputs of the saved model. ``k`` (optional, an
integer from 2 to 12) fixes its number of classes; without it the number is chosen once by
minimum BIC among 2 to ``max_clusters`` classes, without the outcome.

Examples
--------
>>> from analysis.study.config import Variable
>>> v = {"a": Variable("a", "numeric"), "b": Variable("b", "numeric"), "y": Variable("y", "binary")}
>>> added_value_problems({"baseline": ["a"], "extended": ["a", "b"], "markers": ["b"]}, v)
[]
>>> added_value_problems({"baseline": ["a", "c"], "extended": ["b"]}, v)  # doctest: +NORMALIZE_WHITESPACE
["added_value.baseline: 'c' is not declared under 'variables'",
 "added_value.extended: must contain every baseline name (missing: 'a', 'c')"]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "ADDED_VALUE_KEYS",
    "CI_METHODS",
    "ENDPOINT_KEYS",
    "PHENOTYPE_KEYS",
    "SAFETY_KEYS",
    "added_value_problems",
    "endpoint_problems",
    "phenotype_problems",
    "safety_problems",
]

ENDPOINT_KEYS = ("outcomes", "composites", "arm", "reference", "ci")
SAFETY_KEYS = ("count", "serious")
ADDED_VALUE_KEYS = ("baseline", "extended", "markers")
PHENOTYPE_KEYS = ("variables", "outcomes", "max_clusters", "candidate_predictor", "k")
CI_METHODS = ("clopper-pearson", "wilson")


def _unknown(block: Mapping, where: str, known) -> list[str]:
    return [f"{where}: unknown key {key!r} (known: {', '.join(known)})" for key in block
            if key not in known]


def _names(value, where: str) -> tuple[list[str], list[str]]:
    if value is None:
        return [], []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return [], [f"{where} must be a list of column names"]
    return list(value), []


def _declared(names, where: str, variables: Mapping, types=None) -> list[str]:
    problems = []
    for name in names:
        if name not in variables:
            problems.append(f"{where}: {name!r} is not declared under 'variables'")
        elif types and variables[name].type not in types:
            problems.append(f"{where}: {name!r} must be {' or '.join(types)} "
                            f"(it is {variables[name].type})")
    return problems


def endpoint_problems(block: Any, visit_variables: Mapping | None, variables: Mapping,
                      group: str | None) -> list[str]:
    """Problems of an ``endpoints`` block (see the module docstring)."""
    if not isinstance(block, Mapping):
        return ["'endpoints' must be a mapping"]
    if visit_variables is None:
        return ["endpoints: needs a 'visits' block (the outcomes are visit variables)"]
    problems = _unknown(block, "endpoints", ENDPOINT_KEYS)
    outcomes, bad = _names(block.get("outcomes"), "endpoints.outcomes")
    problems += bad
    if not outcomes and not bad:
        problems.append("endpoints.outcomes: list at least one binary visit variable")
    problems += _declared(outcomes, "endpoints.outcomes", visit_variables, ("binary",))
    composites = block.get("composites") or {}
    if not isinstance(composites, Mapping):
        problems.append("endpoints.composites must be a mapping: name -> [binary visit variables]")
        composites = {}
    for name, parts in composites.items():
        names, bad = _names(parts, f"endpoints.composites.{name}")
        problems += bad
        if not bad and len(names) < 2:
            problems.append(f"endpoints.composites.{name}: combine at least two outcomes")
        problems += _declared(names, f"endpoints.composites.{name}", visit_variables, ("binary",))
    arm = block.get("arm", group)
    if arm is not None:
        if not isinstance(arm, str) or arm not in variables:
            problems.append(f"endpoints.arm: {arm!r} is not declared under 'variables'")
        elif variables[arm].type not in ("categorical", "binary"):
            problems.append(f"endpoints.arm: {arm!r} must be categorical or binary")
        elif block.get("reference") is not None:
            levels = [str(v) for v in (variables[arm].levels or ("0", "1"))]
            if str(block["reference"]) not in levels:
                problems.append(f"endpoints.reference: {block['reference']!r} is not a level of "
                                f"{arm!r} ({', '.join(levels)})")
    if block.get("ci", CI_METHODS[0]) not in CI_METHODS:
        problems.append(f"endpoints.ci must be one of {', '.join(CI_METHODS)}")
    return problems


def safety_problems(block: Any, visit_variables: Mapping | None) -> list[str]:
    """Problems of a ``safety`` block (see the module docstring)."""
    if not isinstance(block, Mapping):
        return ["'safety' must be a mapping"]
    if visit_variables is None:
        return ["safety: needs a 'visits' block (adverse events are recorded per visit)"]
    problems = _unknown(block, "safety", SAFETY_KEYS)
    if not any(block.get(k) for k in SAFETY_KEYS):
        problems.append("safety: name 'count' and/or 'serious'")
    for key, types in (("count", ("integer", "numeric")), ("serious", ("binary",))):
        if block.get(key) is not None:
            problems += _declared([block[key]] if isinstance(block[key], str) else [repr(block[key])],
                                  f"safety.{key}", visit_variables, types)
    return problems


def added_value_problems(block: Any, variables: Mapping) -> list[str]:
    """Problems of an ``added_value`` block (see the module docstring)."""
    if not isinstance(block, Mapping):
        return ["'added_value' must be a mapping"]
    problems = _unknown(block, "added_value", ADDED_VALUE_KEYS)
    sets = {}
    for key in ADDED_VALUE_KEYS:
        names, bad = _names(block.get(key), f"added_value.{key}")
        problems += bad
        if key != "markers" and not names and not bad:
            problems.append(f"added_value.{key}: list at least one predictor")
        types = ("numeric", "integer") if key == "markers" else None
        problems += _declared(names, f"added_value.{key}", variables, types)
        sets[key] = names
    missing = [n for n in sets["baseline"] if n not in sets["extended"]]
    if missing and sets["extended"]:
        problems.append("added_value.extended: must contain every baseline name (missing: "
                        + ", ".join(repr(n) for n in missing) + ")")
    elif sets["extended"] and len(sets["extended"]) == len(sets["baseline"]):
        problems.append("added_value.extended: must add at least one predictor to the baseline set")
    return problems


def phenotype_problems(block: Any, variables: Mapping) -> list[str]:
    """Problems of a ``phenotypes`` block (see the module docstring)."""
    if not isinstance(block, Mapping):
        return ["'phenotypes' must be a mapping"]
    problems = _unknown(block, "phenotypes", PHENOTYPE_KEYS)
    names, bad = _names(block.get("variables"), "phenotypes.variables")
    problems += bad
    if len(names) < 2 and not bad:
        problems.append("phenotypes.variables: list at least two baseline variables")
    problems += _declared(names, "phenotypes.variables", variables,
                          ("numeric", "integer", "binary", "categorical"))
    outcomes, bad = _names(block.get("outcomes"), "phenotypes.outcomes")
    problems += bad + _declared(outcomes, "phenotypes.outcomes", variables, ("binary",))
    k = block.get("max_clusters", 6)
    if not isinstance(k, int) or isinstance(k, bool) or not 2 <= k <= 12:
        problems.append("phenotypes.max_clusters must be an integer from 2 to 12")
    if not isinstance(block.get("candidate_predictor", False), bool):
        problems.append("phenotypes.candidate_predictor must be true or false")
    classes = block.get("k")
    if classes is not None and (not isinstance(classes, int) or isinstance(classes, bool)
                                or not 2 <= classes <= 12):
        problems.append(f"phenotypes.k must be an integer from 2 to 12 (the number of phenotype "
                        f"classes offered to the models), got {classes!r}")
    return problems
