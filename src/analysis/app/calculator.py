"""The web calculator: one patient typed into a form, scored by the study's saved model.

``python -m analysis app --study NAME`` serves it (uvicorn, 127.0.0.1:8000 by default, no
access log). :func:`create_app` builds the :class:`shiny.App`:

- the study's title and the model's name; a red banner ``Not for clinical use: <reasons>``
  when ``model.json`` says the model failed the ship gate. Such a model gives no
  probability unless ``allow_unvalidated`` is set; the banner stays either way; an amber
  banner ``Caution: <cautions>`` with the gate's cautions (``status_cautions``: a cohort
  below Riley's minimum sample size);
- the form from the model's own codebook (:func:`analysis.app.form.form_fields`: derive
  inputs such as height and weight in place of BMI) and a "Calculate" button;
- the result, computed by :func:`analysis.explain.factors.explain_patients` - the scoring
  path of :func:`analysis.models.predict.predict_patients` (the same scores) plus each
  predictor's share of the risk - and nothing else: the probability (percent, 1 decimal;
  the exact value in the ``data-probability`` attribute of ``#probability``) with its 95%
  interval from the bootstrap refits, "(95% CI a–b%)" (``ci_lower``/``ci_upper``; "95% CI
  not available" for a model saved without refits); where it sits among the cohort's
  predicted risks; "The factors that moved this patient's risk most (probability scale)":
  the five predictors with the largest change of probability between the cohort's
  reference patient (medians and most common levels) and this patient, in signed
  percentage points; the per-option table of a study with treatment options
  (probability, interval, benefit over the reference with its interval, the preferred
  option) under the caveat that it is an observational comparison, and the text of the
  ``warnings`` column. A wrong value shows its message under its field and no
  probability;
- a footer: the model card (``/model-card``, ``MODEL_CARD.md`` as HTML), the date, the
  package version and "Nothing you enter is stored or logged."

Privacy: the values travel over Shiny's websocket (never in a URL), nothing is written or
logged, and the command line serves with uvicorn's access log off.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import os
import re
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from analysis import __version__
from analysis.app.form import Field, form_fields, parse_inputs, risk_position
from analysis.errors import AnalysisError
from analysis.explain.factors import explain_patients
from analysis.models.artifact import CARD_FILE, FIT, load_model
from analysis.models.predict import option_name, preload
from analysis.study.config import Study, load_study

__all__ = ["CAVEAT", "FACTORS_HEADING", "NOT_STORED", "TOP_FACTORS", "create_app", "model_folder",
           "render_card", "serve"]

#: Said under every per-option table.
CAVEAT = ("Observational comparison, not trial evidence: the options were not randomised, "
          "so these differences may reflect who received which option.")
#: The footer's privacy sentence.
NOT_STORED = "Nothing you enter is stored or logged."
NO_INTERVAL = "interval not available"
#: Heading of the per-patient explanation.
FACTORS_HEADING = "The factors that moved this patient's risk most (probability scale)"
#: Factors listed under :data:`FACTORS_HEADING`.
TOP_FACTORS = 5

STYLE = """
body { max-width: 60rem; margin: 0 auto; padding: 1rem; font-family: system-ui, sans-serif; }
.banner-red { background: #b00020; color: #fff; padding: .75rem 1rem; border-radius: .25rem;
              font-weight: 600; margin: 1rem 0; }
.banner-amber { background: #fff4e5; color: #5f3700; border: 1px solid #e8a33d;
                padding: .75rem 1rem; border-radius: .25rem; margin: 1rem 0; }
.field { margin-bottom: .5rem; }
.field-hint { color: #555; font-size: .85rem; }
.field-message { color: #b00020; font-weight: 600; }
.result { border: 1px solid #ccc; border-radius: .25rem; padding: 1rem; margin: 1rem 0; }
.result .probability { font-size: 2rem; font-weight: 700; }
.caveat { font-style: italic; }
table.options, table.factors { border-collapse: collapse; margin: .5rem 0; }
table.options th, table.options td, table.factors th, table.factors td {
  border: 1px solid #ccc; padding: .25rem .5rem; }
table.factors td.change { text-align: right; font-variant-numeric: tabular-nums; }
footer { margin-top: 2rem; color: #555; font-size: .9rem; }
"""


def model_folder(study_or_folder, root: str | os.PathLike | None = None) -> Path:
    """The model folder of a :class:`Study`, a study name (under ``root``) or a folder.

    Examples
    --------
    >>> model_folder("/no/such/study/name")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    analysis.errors.StudyConfigError: ...
    """
    if isinstance(study_or_folder, Study):
        return study_or_folder.paths.model
    if not isinstance(study_or_folder, str | os.PathLike):
        raise AnalysisError("study_or_folder: must be a Study, a study name or a model folder, "
                            f"got {type(study_or_folder).__name__}")
    path = Path(study_or_folder)
    if path.is_dir() and (path / "model.json").is_file():
        return path
    return load_study(str(study_or_folder), root).paths.model


def render_card(markdown_text: str) -> str:
    """The model card as an HTML page (markdown-it when installed, else preformatted text).

    Raw HTML in the card is escaped, never passed through.

    Examples
    --------
    >>> "<h1>Card</h1>" in render_card("# Card")
    True
    >>> "<script>" in render_card("<script>alert(1)</script>")
    False
    """
    try:
        from markdown_it import MarkdownIt

        body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown_text)
    except ImportError:  # pragma: no cover - markdown-it-py comes with Jupyter
        body = f"<pre>{html.escape(markdown_text)}</pre>"
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Model card"
            f"</title><style>{STYLE}</style></head><body>{body}</body></html>")


def _input_id(name: str, taken: set[str]) -> str:
    base = "in_" + re.sub(r"[^0-9A-Za-z_]", "_", name)
    out, i = base, 2
    while out in taken:
        out, i = f"{base}_{i}", i + 1
    taken.add(out)
    return out


def _field_ui(f: Field, input_id: str, labels: dict[str, str]):
    from shiny import ui

    label = f.display_label + (" *" if f.required else "")
    if f.input == "numeric":
        widget = ui.input_numeric(input_id, label, value=f.default, min=f.min, max=f.max,
                                  step=1 if f.kind == "integer" else "any")
    else:
        empty = "choose..." if f.required else "not known"
        choices = {"": empty, **f.choices}
        widget = ui.input_select(input_id, label, choices=choices,
                                 selected=f.default if f.default is not None else "")
    hints = []
    if f.range_text:
        hints.append(f"allowed: {f.range_text}")
    if f.derives:
        hints.append(f"used to compute {', '.join(labels.get(d, d) for d in f.derives)}")
    if not f.required:
        hints.append("may be left empty (the model imputes it)")
    return ui.div(widget, ui.div("; ".join(hints), class_="field-hint") if hints else None,
                  ui.output_ui(f"msg_{input_id}"), class_="field", data_field=f.name)


def _pct(p) -> str:
    return f"{100 * float(p):.1f}%"


def _finite(x) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _interval(row: pd.Series, lower: str, upper: str, percent_points: bool = False) -> str:
    if lower in row.index and upper in row.index and _finite(row[lower]) and _finite(row[upper]):
        if percent_points:
            return f"{100 * row[lower]:+.1f} to {100 * row[upper]:+.1f} points"
        return f"{_pct(row[lower])} to {_pct(row[upper])}"
    return NO_INTERVAL


def _option_table(row: pd.Series, meta: dict[str, Any]):
    from shiny import ui

    options = meta["treatment"]["options"]
    column = meta["treatment"]["column"]
    rows = []
    for option in options:
        name = option_name(option)
        prob = row.get(f"probability_{name}")
        if "benefit_" + name in row.index and _finite(row["benefit_" + name]):
            benefit = (f"{100 * row['benefit_' + name]:+.1f} points "
                       f"({_interval(row, 'benefit_ci_lower_' + name, 'benefit_ci_upper_' + name, True)})")
        elif any(c.startswith("benefit_") for c in row.index):
            benefit = "reference"
        else:
            benefit = "not available"
        rows.append(ui.tags.tr(
            ui.tags.td(option),
            ui.tags.td(_pct(prob) if _finite(prob) else "not available",
                       data_probability=repr(float(prob)) if _finite(prob) else None),
            ui.tags.td(_interval(row, f"ci_lower_{name}", f"ci_upper_{name}")),
            ui.tags.td(benefit),
            class_="option-row", data_option=option))
    label = (meta["predictors"].get(column) or {}).get("label") or column
    head = ui.tags.tr(ui.tags.th(str(label)), ui.tags.th("probability"),
                      ui.tags.th("95% interval"), ui.tags.th("benefit vs reference (95% interval)"))
    parts = [ui.h3("By treatment option"),
             ui.tags.table(ui.tags.thead(head), ui.tags.tbody(*rows), class_="options",
                           id="options")]
    if "preferred_option" in row.index and str(row["preferred_option"]).strip():
        parts.append(ui.p("Preferred option: ", ui.tags.strong(str(row["preferred_option"]),
                                                               id="preferred-option")))
    parts.append(ui.p(CAVEAT, class_="caveat", id="caveat"))
    return ui.div(*parts)


def _ci_text(row: pd.Series) -> str:
    """``(95% CI a–b%)`` from ``ci_lower``/``ci_upper``, or ``(95% CI not available)``."""
    lo, hi = row.get("ci_lower"), row.get("ci_upper")
    if _finite(lo) and _finite(hi):
        return f"(95% CI {100 * float(lo):.1f}–{100 * float(hi):.1f}%)"
    return "(95% CI not available)"


def _display_value(value, entry: dict[str, Any]) -> str:
    """A predictor's value as the form shows it: yes/no, the level, or the number and unit."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "not known (imputed)"
    kind = (entry or {}).get("type")
    if kind == "binary":
        return "yes" if float(value) == 1 else "no"
    if kind == "categorical":
        return str(value)
    number = f"{float(value):.4g}"
    unit = (entry or {}).get("unit")
    return f"{number} {unit}" if unit else number


def _factors_ui(factors: pd.DataFrame | None, meta: dict[str, Any]):
    """The top factors (non-zero contributions) as a table, under :data:`FACTORS_HEADING`."""
    from shiny import ui

    if factors is None or factors.empty:
        return None
    predictors = meta["predictors"]
    reference_p = float(factors["reference_prediction"].iloc[0])
    # the largest; one that rounds to 0.0 points did not move the risk
    moved = factors[(100 * factors["contribution"]).abs() >= 0.05].head(TOP_FACTORS)
    intro = ("Each predictor's share of the difference between this patient's predicted "
             "probability and that of a reference patient with the development cohort's "
             f"typical values (medians and most common levels; {_pct(reference_p)}), in "
             "percentage points (Shapley values; they add up to the difference).")
    parts = [ui.h3(FACTORS_HEADING), ui.p(intro, class_="field-hint")]
    if moved.empty:
        parts.append(ui.p("No predictor moves the risk by 0.1 points or more from the "
                          "reference patient's.", id="no-factors"))
        return ui.div(*parts, id="risk-factors")
    head = ui.tags.tr(ui.tags.th("factor"), ui.tags.th("this patient"),
                      ui.tags.th("reference"), ui.tags.th("change of risk"))
    rows = [ui.tags.tr(
        ui.tags.td(str(r.label)),
        ui.tags.td(_display_value(r.value, predictors.get(r.predictor))),
        ui.tags.td(_display_value(r.reference, predictors.get(r.predictor))),
        ui.tags.td(f"{100 * float(r.contribution):+.1f} points", class_="change"),
        class_="factor-row", data_predictor=str(r.predictor),
        data_contribution=repr(float(r.contribution)))
        for r in moved.itertuples(index=False)]
    parts.append(ui.tags.table(ui.tags.thead(head), ui.tags.tbody(*rows), class_="factors"))
    return ui.div(*parts, id="risk-factors")


def _result_ui(row: pd.Series, meta: dict[str, Any], notes: list[str],
               factors: pd.DataFrame | None = None):
    from shiny import ui

    p = float(row["probability"])
    outcome = (meta.get("outcome") or {}).get("label") or (meta.get("outcome") or {}).get("name")
    parts = [
        ui.p(f"Predicted probability of {outcome}: "),
        ui.p(ui.tags.span(_pct(p), id="probability", class_="probability",
                          data_probability=repr(p)),
             " ", ui.tags.span(_ci_text(row), id="probability-interval")),
    ]
    position = risk_position(p, (meta.get("training") or {}).get("risk_percentiles"))
    if position:
        parts.append(ui.p(position, id="risk-position"))
    parts.append(_factors_ui(factors, meta))
    if meta.get("treatment"):
        parts.append(_option_table(row, meta))
    texts = [w for w in str(row.get("warnings") or "").split("; ") if w.strip()] + notes
    if texts:
        parts.append(ui.div(ui.h3("Warnings"), ui.tags.ul(*[ui.tags.li(t) for t in texts]),
                            id="warnings"))
    return ui.div(*parts, class_="result", id="result-box")


def create_app(study_or_folder, *, root: str | os.PathLike | None = None,
               allow_unvalidated: bool = False):
    """The calculator for a study's saved model, as a :class:`shiny.App`.

    Parameters
    ----------
    study_or_folder : Study, str or path
        A study (its ``reports/<study>/model``), a study name resolved under ``root``, or
        a model folder holding ``model.json``.
    root : path, optional
        Project root for a study name.
    allow_unvalidated : bool, default False
        Show probabilities of a model marked ``not-for-clinical-use`` (the red banner
        stays).

    Returns
    -------
    shiny.App

    Raises
    ------
    ModelArtifactError
        If the model folder is missing or fails its checks.
    """
    from shiny import App, reactive, render, ui
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    folder = model_folder(study_or_folder, root)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, meta = load_model(folder)
        try:  # its refits and benefit model too, built once now and kept in memory
            preload(folder)
        except AnalysisError:
            pass  # said when a patient is scored
    load_notes = [str(w.message) for w in caught]
    fields = form_fields(meta)
    taken: set[str] = set()
    ids = {f.name: _input_id(f.name, taken) for f in fields}
    id_column = meta["id"]["name"] if meta.get("id") else None
    gated = meta.get("status") != FIT
    reasons = " ".join(str(r) for r in meta.get("status_reasons") or []) or "no reason recorded"
    cautions = " ".join(str(c) for c in meta.get("status_cautions") or [])
    card_html = render_card((folder / CARD_FILE).read_text(encoding="utf-8"))
    title = str(meta.get("title") or meta.get("study"))
    labels = {name: str(entry.get("label") or name) for name, entry in meta["predictors"].items()}

    def page(request):
        banner = (ui.div(f"Not for clinical use: {reasons}", id="status-banner",
                         class_="banner-red", role="alert") if gated else None)
        caution = (ui.div(f"Caution: {cautions}", id="caution-banner", class_="banner-amber",
                          role="note") if cautions else None)
        return ui.page_fluid(
            ui.head_content(ui.tags.title(f"{title}: calculator"), ui.tags.style(STYLE)),
            ui.h1(title, id="study-title"),
            ui.p("Model: ", ui.tags.span(str(meta.get("model_name")), id="model-name")),
            banner,
            caution,
            ui.div(*[_field_ui(f, ids[f.name], labels) for f in fields], id="form"),
            ui.p("* required", class_="field-hint"),
            ui.input_action_button("calculate", "Calculate", class_="btn-primary"),
            ui.output_ui("result"),
            ui.tags.footer(
                ui.p(ui.a("Model card", href="model-card", target="_blank", id="model-card-link"),
                     f" | {dt.date.today().isoformat()} | analysis {__version__}"),
                ui.p(NOT_STORED, id="not-stored")),
        )

    def server(input, output, session):
        state = reactive.value(None)

        @reactive.effect
        @reactive.event(input.calculate)
        def _calculate():
            raw = {name: input[input_id]() for name, input_id in ids.items()}
            patient, messages = parse_inputs(fields, raw, id_column=id_column)
            if messages:
                state.set({"messages": messages})
                return
            if gated and not allow_unvalidated:
                state.set({"error": "No probability is shown: this model is not for clinical "
                                    "use (see the banner above)."})
                return
            try:
                with warnings.catch_warnings(record=True) as seen:
                    warnings.simplefilter("always")
                    # the scores of analysis predict, and each predictor's share of them
                    scores, factors = explain_patients(folder, patient, source="the form",
                                                       allow_unvalidated=allow_unvalidated,
                                                       top=None)
            except AnalysisError as exc:
                state.set({"error": f"Cannot calculate: {exc}"})
                return
            notes = list(dict.fromkeys([*load_notes, *(str(w.message) for w in seen)]))
            state.set({"row": scores.iloc[0], "notes": notes, "factors": factors})

        def message_output(name: str, input_id: str) -> None:
            @output(id=f"msg_{input_id}")
            @render.ui
            def _message():
                current = state.get() or {}
                text = (current.get("messages") or {}).get(name)
                return (ui.div(text, class_="field-message", id=f"message-{input_id}")
                        if text else None)

        for name, input_id in ids.items():
            message_output(name, input_id)

        @render.ui
        def result():
            current = state.get()
            if current is None:
                return None
            if "messages" in current:
                return ui.div("Please correct the marked field(s); no probability is shown.",
                              class_="field-message", id="form-invalid")
            if "error" in current:
                return ui.div(current["error"], class_="field-message", id="result-error")
            return _result_ui(current["row"], meta, current["notes"], current.get("factors"))

    app = App(page, server)

    async def model_card(request):
        return HTMLResponse(card_html)

    app.starlette_app.router.routes.insert(0, Route("/model-card", model_card, methods=["GET"]))
    return app


def serve(study: str, *, root: str | os.PathLike | None = None, host: str = "127.0.0.1",
          port: int = 8000, allow_unvalidated: bool = False) -> None:
    """Serve the calculator with uvicorn; the access log is off (nothing is logged)."""
    import uvicorn

    app = create_app(study, root=root, allow_unvalidated=allow_unvalidated)
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning")
