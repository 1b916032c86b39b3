"""Render a study's report: the Quarto manuscript when Quarto is on PATH, else the fallback.

Papermill executes, Quarto only renders.  The report stage writes
``reports/<study>/manuscript.qmd`` from the template ``reports/templates/manuscript.qmd``
(:mod:`analysis.pipeline.manuscript_source`): the ship gate's verdict first
(:func:`verdict_paragraph`), the generated Summary, Methods, participant flow and TRIPOD+AI
checklist (:mod:`analysis.manuscript`) as text, and every result as an ``{{< embed >}}`` of a
labelled cell of the executed notebooks.  With Quarto, ``quarto render`` turns it into
``report.html`` (or ``report.docx`` / ``report.pdf`` through Typst); without, one line says
so and the same items (sections, order, captions, figure and table numbers) are rendered to
one self-contained ``report.html`` by nbconvert (and ``report.docx`` by the pandoc binary of
``pypandoc_binary``).  Both routes see only sanitised outputs (:func:`sanitize_html`).

Figures are then copied into manuscript order as ``figures/fig-<NN>-<slug>.*`` with
``figures/index.csv`` (:func:`export_manuscript_figures`).
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

import nbformat
import pandas as pd

from analysis.errors import AnalysisError
from analysis.formatting import escape_text
from analysis.pipeline.export import (
    SIDECAR_SUFFIX,
    export_numbered_figures,
    read_figure_sidecar,
    stable_zip,
)
from analysis.pipeline.manuscript_source import (
    Item,
    instantiate,
    labelled_cells,
    markdown_table,
    parse_manuscript,
    resolve_crossrefs,
)
from analysis.study.io import write_bytes, write_text
from analysis.study.paths import StudyPaths
from analysis.validation.gate import NOT_FIT, verdict_from_table

QUARTO_MISSING = ("Quarto was not found on PATH: rendering the fallback report (same sections, "
                  "order, captions and numbering) without it.")
#: ``--format`` -> (Quarto's ``--to``, file suffix of the report)
FORMATS = {"html": ("html", "html"), "docx": ("docx", "docx"), "pdf": ("typst", "pdf")}
MANUSCRIPT = "manuscript.qmd"
TEMPLATE = Path("reports") / "templates" / "manuscript.qmd"
QUARTO_PROJECT = Path("reports") / "_quarto.yml"
#: the picture of a study's calculator, in its figures folder (taken by analysis.app.screenshot)
CALCULATOR_SCREENSHOT = Path("prediction-tool.png")
_SCRIPT_MIMETYPES = ("application/javascript", "text/javascript",
                     "application/vnd.jupyter.widget-view+json")
_ANCHOR_LINK = re.compile(r'<a class="anchor-link"[^>]*>.*?</a>', re.DOTALL)
_SAVE_FIGURE = re.compile(r"save_figure\(\s*\w+\s*,\s*(f?)([\"'])(.+?)\2")


def executed_notebooks(paths: StudyPaths) -> list[Path]:
    """The study's executed notebooks (``NN-*.ipynb``), in order."""
    return sorted(
        p for p in paths.notebooks.glob("[0-9][0-9]-*.ipynb")
        if not p.name.endswith(".failed.ipynb")
    )


# --------------------------------------------------------------------------------------
# the manuscript of one study
# --------------------------------------------------------------------------------------
def template_path(root: Path) -> Path:
    """The manuscript template: the project's own, else the one of this checkout.

    A scratch project (tests, a copied study) without ``reports/templates`` uses the
    template shipped next to the package source.
    """
    for base in (Path(root), Path(__file__).resolve().parents[3]):
        if (base / TEMPLATE).is_file():
            return base / TEMPLATE
    raise AnalysisError(f"no manuscript template: {Path(root) / TEMPLATE} does not exist")


def manuscript_conditions(study) -> dict[str, bool]:
    """The template's conditions for a study.

    ``endpoints``: study.yaml declares visit endpoints (single-arm and visit-based studies:
    response and remission over visits come first in the Results); ``calculator``: a
    screenshot of this study's prediction tool exists (``figures/prediction-tool.png``,
    taken before the report by :mod:`analysis.app.screenshot` when chromium is installed and
    the model passed the ship gate).
    """
    return {
        "endpoints": bool(study.endpoints) and study.visits is not None,
        "calculator": (study.paths.figures / CALCULATOR_SCREENSHOT).is_file(),
    }


def generated_inserts(study) -> dict[str, str]:
    """The generated text of the manuscript (Markdown), by the template's insert names.

    Summary, Methods, the participant-flow table and the TRIPOD+AI checklist come from
    :mod:`analysis.manuscript`; the verdict from :func:`verdict_paragraph`.
    """
    paths = study.paths
    try:
        from analysis.manuscript.flow import participant_flow
        from analysis.manuscript.methods import methods_markdown
        from analysis.manuscript.summary import summary_markdown
        from analysis.manuscript.tripod import tripod_checklist
    except ImportError as exc:
        raise AnalysisError(
            f"the manuscript's generated text is not available ({exc}): analysis.manuscript must "
            "provide summary_markdown, methods_markdown, participant_flow and tripod_checklist"
        ) from exc
    return {
        "verdict": verdict_paragraph(paths),
        "summary": summary_markdown(study, paths),
        "methods": methods_markdown(study, paths),
        "participant-flow": markdown_table(
            participant_flow(study, paths), "Participant flow: rows read, excluded by rule and analysed",
            "tbl-flow"),
        "tripod": markdown_table(
            tripod_checklist(study, paths),
            "TRIPOD+AI checklist (Collins et al., BMJ 2024): where each item is reported, and the "
            "items the authors must supply", "tbl-tripod"),
    }


def write_manuscript(study, inserts: Mapping[str, str] | None = None, *,
                     template: str | Path | None = None) -> Path:
    """Write ``reports/<study>/manuscript.qmd`` (atomically) and return its path.

    ``inserts`` overrides generated text by name (the rest comes from
    :func:`generated_inserts`; the verdict always from :func:`verdict_paragraph` unless
    given); the calculator screenshot, when the template shows it, is copied to
    ``figures/prediction-tool.png``.
    """
    paths = study.paths
    inserts = dict(inserts or {})
    inserts.setdefault("verdict", verdict_paragraph(paths))
    if not {"summary", "methods", "participant-flow", "tripod"} <= set(inserts):
        inserts = {**generated_inserts(study), **inserts}
    conditions = manuscript_conditions(study)
    text = instantiate(
        template or template_path(paths.root),
        title=_yaml_text(study.title), subtitle=_yaml_text(f"Study: {study.name}"),
        conditions=conditions,
        inserts=inserts,
        notebooks=paths.notebooks,
    )
    # a reference to an output this study lacks reads "(not shown)" in every route
    text = resolve_crossrefs(text, parse_manuscript(text), keep_known=True)
    return write_text(paths.reports / MANUSCRIPT, text)


def report_path(paths: StudyPaths, fmt: str = "html") -> Path:
    """``reports/<study>/report.<html|docx|pdf>``."""
    return paths.report_html if fmt == "html" else paths.reports / f"report.{FORMATS[fmt][1]}"


def render_report(study, *, fmt: str = "html", echo=print, force_fallback: bool = False,
                  inserts: Mapping[str, str] | None = None, template: str | Path | None = None) -> Path:
    """Render the study's report (``report.html`` by default) and its numbered figures.

    Parameters
    ----------
    study : analysis.study.config.Study
        The study; its executed notebooks are under ``reports/<study>/notebooks``.
    fmt : {"html", "docx", "pdf"}
        The report's format.  Without Quarto, ``docx`` also writes the fallback HTML, and
        ``pdf`` is an error (Typst comes with Quarto).
    echo : callable
        Where the one line saying that Quarto is missing goes.
    force_fallback : bool
        Skip Quarto even if installed.
    inserts : mapping, optional
        Generated text by insert name (see :func:`write_manuscript`).

    Examples
    --------
    >>> # render_report(load_study("cd-msc"), fmt="docx")
    """
    if fmt not in FORMATS:
        raise AnalysisError(f"unknown report format {fmt!r} (known: {', '.join(FORMATS)})")
    paths = study.paths
    if not executed_notebooks(paths):
        raise FileNotFoundError(f"no executed notebooks in {paths.notebooks}: run `make study STUDY={paths.study}`")
    manuscript = write_manuscript(study, inserts, template=template)
    text = manuscript.read_text(encoding="utf-8")
    items = parse_manuscript(text, paths.notebooks)
    quarto = None if force_fallback else quarto_available()
    if quarto:
        out = write_bytes(report_path(paths, fmt), _render_with_quarto(quarto, text, items, study, fmt))
    else:
        echo(QUARTO_MISSING)
        if fmt == "pdf":
            raise AnalysisError("a PDF report needs Quarto (Typst); without it use --format html or docx")
        html = _render_fallback_html(items, paths, study.title)
        out = write_text(paths.report_html, html)
        if fmt == "docx":
            out = write_bytes(report_path(paths, "docx"), html_to_docx(html))
    export_manuscript_figures(items, paths)
    return out


# --------------------------------------------------------------------------------------
# numbered figures
# --------------------------------------------------------------------------------------
def figure_entries(items: list[Item], paths: StudyPaths) -> list[dict]:
    """The saved figure files behind each numbered figure of the manuscript, in order.

    An embedded cell's files are those whose sidecar (written by ``save_figure``) names the
    cell's label, in the order they were saved; for a run older than the sidecars, the
    names in the cell's ``save_figure(fig, "name", ...)`` calls (f-strings as patterns).
    """
    entries = []
    for item in items:
        if item.float_kind != "Figure" or item.kind not in ("embed", "image"):
            continue
        if item.kind == "image":
            sources = [(paths.reports / item.path).with_suffix("")]
        else:
            sources = _figure_sources(item, paths)
        for i, source in enumerate(sources):
            entries.append({"source": source, "number": item.number,
                            "panel": "" if len(sources) == 1 else _panel(i),
                            "caption": item.caption, "notebook": item.notebook.rsplit("/", 1)[-1]
                            if item.notebook else "", "label": item.label})
    return entries


def _panel(i: int) -> str:
    return "abcdefghijklmnopqrstuvwxyz"[i] if i < 26 else f"z{i}"


def _figure_sources(item: Item, paths: StudyPaths) -> list[Path]:
    folder = paths.figures
    sidecars = []
    for path in sorted(folder.glob(f"*{SIDECAR_SUFFIX}")):
        try:
            meta = read_figure_sidecar(path)
        except (ValueError, OSError):
            continue
        if meta.get("label") == item.label:
            sidecars.append((int(meta.get("panel") or 0), meta.get("name") or path.stem))
    if sidecars:
        return [folder / name for _, name in sorted(sidecars)]
    cell = labelled_cells(paths.reports / item.notebook).get(item.label)
    sources = []
    for is_f, _, name in _SAVE_FIGURE.findall(cell.source if cell is not None else ""):
        pattern = re.sub(r"\{[^}]*\}", "*", name) if is_f else name
        sources += sorted({p.with_suffix("") for p in folder.glob(f"{pattern}.png")})
    return sources


def export_manuscript_figures(items: list[Item], paths: StudyPaths) -> list[Path]:
    """Write ``figures/fig-<NN>-<slug>.*`` and ``figures/index.csv`` for the manuscript."""
    return export_numbered_figures(figure_entries(items, paths), paths.figures)


# --------------------------------------------------------------------------------------
# outputs both routes see
# --------------------------------------------------------------------------------------
def clean_outputs(cell) -> list:
    """A cell's outputs as the report shows them: no stderr, no scripts, HTML sanitised.

    Examples
    --------
    >>> cell = nbformat.v4.new_code_cell("x")
    >>> cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": "<b>a</b><script>x</script>"})]
    >>> clean_outputs(cell)[0]["data"]["text/html"]
    '<b>a</b>&lt;script&gt;x&lt;/script&gt;'
    """
    outputs = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            continue
        output = copy.deepcopy(output)
        data = output.get("data", {})
        for mime in _SCRIPT_MIMETYPES:
            data.pop(mime, None)
        if "text/html" in data:
            html = data["text/html"]
            data["text/html"] = sanitize_html("".join(html) if isinstance(html, list) else html)
        outputs.append(output)
    return outputs


def _sanitised_notebook(path: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = clean_outputs(cell)
    return nb


# --------------------------------------------------------------------------------------
# the Quarto route
# --------------------------------------------------------------------------------------
def quarto_available() -> str | None:
    """Path of the ``quarto`` executable, or None."""
    return shutil.which("quarto")


def _render_with_quarto(quarto: str, text: str, items: list[Item], study, fmt: str) -> bytes:
    """Render in a scratch project holding sanitised copies of the embedded notebooks."""
    paths = study.paths
    to, suffix = FORMATS[fmt]
    with tempfile.TemporaryDirectory(dir=paths.reports, prefix=".quarto-") as tmp:
        tmp = Path(tmp)
        project = paths.root / QUARTO_PROJECT
        if not project.is_file():
            project = template_path(paths.root).parents[1] / QUARTO_PROJECT.name
        shutil.copyfile(project, tmp / QUARTO_PROJECT.name)
        (tmp / MANUSCRIPT).write_text(text, encoding="utf-8")
        for notebook in sorted({i.notebook for i in items if i.kind == "embed"}):
            target = tmp / notebook
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(_sanitised_notebook(paths.reports / notebook), target)
        for image in (i.path for i in items if i.kind == "image"):
            (tmp / image).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(paths.reports / image, tmp / image)
        subprocess.run([quarto, "render", MANUSCRIPT, "--to", to, "--no-execute"], check=True, cwd=tmp)
        return (tmp / f"{Path(MANUSCRIPT).stem}.{suffix}").read_bytes()


# --------------------------------------------------------------------------------------
# the fallback: the same items through nbconvert (HTML) and pandoc (DOCX)
# --------------------------------------------------------------------------------------
def caption_markdown(item: Item) -> str:
    """``**Figure 3.** caption`` for a numbered item (caption escaped), else ``""``.

    Examples
    --------
    >>> caption_markdown(Item("embed", label="fig-roc", caption="ROC <curves>", number=3))
    '**Figure 3.** ROC &lt;curves&gt;'
    """
    if item.number is None:
        return ""
    caption = escape_text(item.caption) if item.caption else ""
    return f"**{item.float_kind} {item.number}.** {caption}".rstrip()


def fallback_notebook(items: list[Item], paths: StudyPaths, title: str) -> nbformat.NotebookNode:
    """The manuscript's items as one notebook: headings, text, captions and cell outputs.

    Table captions go above the table, figure captions below the figure, as Quarto does;
    cross-references in the text read ``Table 2`` / ``Figure 3`` (:func:`resolve_crossrefs`).
    """
    nb = nbformat.v4.new_notebook()
    cells = [nbformat.v4.new_markdown_cell(f"# {escape_text(title)}\n\n*Study: {escape_text(paths.study)}*")]
    cache: dict[str, dict] = {}
    contents = _contents(items)
    for item in items:
        if item.kind == "heading":
            if contents:  # Quarto's table of contents, before the first section
                cells.append(nbformat.v4.new_markdown_cell(contents))
                contents = ""
            cells.append(nbformat.v4.new_markdown_cell(f"{'#' * item.level} {item.text}"))
        elif item.kind == "text":
            cells.append(nbformat.v4.new_markdown_cell(resolve_crossrefs(item.text, items)))
        elif item.kind == "table":
            cells.append(nbformat.v4.new_markdown_cell(f"{caption_markdown(item)}\n\n{item.text}"))
        elif item.kind == "image":
            png = base64.b64encode((paths.reports / item.path).read_bytes()).decode("ascii")
            code = nbformat.v4.new_code_cell("")
            code.outputs = [nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": ""})]
            cells += [code, nbformat.v4.new_markdown_cell(caption_markdown(item))]
        elif item.kind == "embed":
            if item.notebook not in cache:
                cache[item.notebook] = labelled_cells(paths.reports / item.notebook)
            code = nbformat.v4.new_code_cell("")
            code.outputs = clean_outputs(cache[item.notebook][item.label])
            caption = caption_markdown(item)
            if caption and item.float_kind == "Table":
                cells.append(nbformat.v4.new_markdown_cell(caption))
            cells.append(code)
            if caption and item.float_kind == "Figure":
                cells.append(nbformat.v4.new_markdown_cell(caption))
    for i, cell in enumerate(cells):
        cell["id"] = f"cell-{i:04d}"
    nb.cells = cells
    return nb


def _contents(items: list[Item]) -> str:
    """A nested list of links to the sections (levels 2 and 3), as nbconvert names them."""
    lines = ["**Contents**", ""]
    for item in items:
        if item.kind == "heading" and item.level in (2, 3):
            indent = "    " * (item.level - 2)
            lines.append(f"{indent}- [{item.text}](#{item.text.replace(' ', '-')})")
    return "\n".join(lines) if len(lines) > 2 else ""


def _render_fallback_html(items: list[Item], paths: StudyPaths, title: str) -> str:
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
        exclude_raw=True,
    )
    # the template escapes the page <title> itself
    body, _ = exporter.from_notebook_node(fallback_notebook(items, paths, title),
                                          resources={"metadata": {"name": str(title)}})
    return sanitize_report_body(body)


def html_to_docx(html: str) -> bytes:
    """The fallback report as a Word document, by the pandoc binary of ``pypandoc_binary``.

    Fixed timestamps (``SOURCE_DATE_EPOCH``, zip entry times), so identical reports give
    identical bytes.
    """
    try:
        import pypandoc
    except ImportError as exc:
        raise AnalysisError("a DOCX report without Quarto needs pandoc: pip install pypandoc_binary") from exc
    pandoc = pypandoc.get_pandoc_path()
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "report.html", Path(tmp) / "report.docx"
        # the page's "¶" heading anchors are for the browser only
        source.write_text(_ANCHOR_LINK.sub("", html), encoding="utf-8")
        subprocess.run([pandoc, str(source), "--from", "html", "--to", "docx", "--output", str(target)],
                       check=True, env={**os.environ, "SOURCE_DATE_EPOCH": "0"}, cwd=tmp)
        return stable_zip(target.read_bytes())


def verdict_paragraph(paths: StudyPaths) -> str:
    """The report's first paragraph: the ship gate's verdict with its numbers (Markdown).

    Read from ``tables/gate.csv`` (written by notebook 06); without it, from the saved
    model's ``model.json`` (``status``, ``status_reasons``); without either, a sentence
    saying that no verdict exists yet.  Study-supplied text (model names) is escaped.

    Examples
    --------
    >>> import tempfile
    >>> verdict_paragraph(StudyPaths("demo", Path(tempfile.mkdtemp())))[:38]
    '**No ship-gate verdict is available.**'
    """
    gate = paths.table("gate")
    if gate.is_file():
        try:
            table = pd.read_csv(gate, keep_default_na=False, na_values=[""])
            for column in ("model", "note"):
                if column in table.columns:
                    table[column] = table[column].map(
                        lambda v: escape_text(v) if isinstance(v, str) else v)
            return verdict_from_table(table).describe()
        except (AnalysisError, ValueError, OSError, pd.errors.ParserError) as exc:
            return (f"**The ship-gate verdict could not be read** ({escape_text(str(exc))}): "
                    "treat the model as not fit for clinical use.")
    meta_path = paths.model / "model.json"
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            status = meta["status"]
            reasons = [escape_text(str(r)) for r in meta.get("status_reasons") or []]
            model = escape_text(str(meta.get("model_name", "the model")))
        except (ValueError, KeyError, TypeError, OSError):
            return ("**The saved model has no readable ship-gate status**: treat it as not "
                    "fit for clinical use.")
        if status == NOT_FIT:
            return (f"**No model fit for clinical use.** {' '.join(reasons)} {model} is "
                    "saved for audit only.")
        return f"**Ship gate passed: {model} is fit for clinical use** (status `{escape_text(str(status))}`)."
    return ("**No ship-gate verdict is available.** Notebook 06 has not saved "
            "`tables/gate.csv` nor a model: no model is fit for clinical use yet.")


def _yaml_text(text: str) -> str:
    """Study-supplied text as a YAML double-quoted scalar holding escaped Markdown.

    Examples
    --------
    >>> _yaml_text('A "b" <script>')
    '"A &quot;b&quot; &lt;script&gt;"'
    """
    escaped = escape_text(" ".join(str(text).split()))
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --------------------------------------------------------------------------------------
# defence in depth: the notebooks escape study text, and the fallback page is sanitised
# --------------------------------------------------------------------------------------
_ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del",
    "details", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "img", "ins", "kbd", "li", "ol", "p", "pre", "s", "samp", "small", "span",
    "strong", "style", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead",
    "tr", "u", "ul", "var",
})
_COMMON_ATTRIBUTES = ("class", "id", "title", "tabindex", "data-mime-type", "style", "align")
_TAG_ATTRIBUTES = {
    "a": ("href", "name"),
    "img": ("src", "alt", "width", "height"),
    "td": ("colspan", "rowspan", "halign", "valign"),
    "th": ("colspan", "rowspan", "halign", "valign"),
    "table": ("border",),
    "ol": ("start",),
}
_SAFE_HREF = re.compile(r"^(https?:|mailto:|#|[^:/?#]*(?:[/?#]|$))", re.IGNORECASE)
_SAFE_SRC = re.compile(r"^data:image/(png|jpeg|gif|webp);base64,", re.IGNORECASE)
_MAIN = re.compile(r"(<main>)(.*)(</main>)", re.DOTALL)


def _allowed_attribute(tag: str, name: str, value: str) -> bool:
    if name.startswith("on"):
        return False
    if tag == "a" and name == "href":
        return bool(_SAFE_HREF.match(value.strip()))
    if tag == "img" and name == "src":
        return bool(_SAFE_SRC.match(value.strip()))
    return name in _COMMON_ATTRIBUTES or name in _TAG_ATTRIBUTES.get(tag, ())


def sanitize_html(fragment: str) -> str:
    """Allow-list sanitiser for report content: no scripts, event handlers or ``javascript:``.

    Tags outside a small formatting/table allow-list are shown as text (escaped), ``on*``
    attributes are dropped, links may only be ``http(s)``, ``mailto`` or relative, and
    images only embedded ``data:image/...;base64`` (the report's figures).

    Examples
    --------
    >>> sanitize_html('<p onclick="x()">a<script>alert(1)</script></p>')
    '<p>a&lt;script&gt;alert(1)&lt;/script&gt;</p>'
    >>> sanitize_html('<a href="javascript:alert(1)">x</a><img src="x" onerror="alert(2)">')
    '<a>x</a><img>'
    """
    import bleach
    from bleach.css_sanitizer import CSSSanitizer

    return bleach.clean(
        fragment, tags=_ALLOWED_TAGS, attributes=_allowed_attribute,
        protocols=["http", "https", "mailto", "data"], strip=False, strip_comments=True,
        css_sanitizer=CSSSanitizer(),
    )


def sanitize_report_body(page: str) -> str:
    """Sanitise the content (``<main>`` element) of an nbconvert page, keeping its header.

    The page's own head (styles, MathJax) comes from nbconvert's template; everything
    between ``<main>`` and ``</main>`` comes from notebooks and goes through
    :func:`sanitize_html`.

    Examples
    --------
    >>> sanitize_report_body("<head></head><main><p>ok<script>x</script></p></main>")
    '<head></head><main><p>ok&lt;script&gt;x&lt;/script&gt;</p></main>'
    """
    match = _MAIN.search(page)
    if match is None:  # an unknown template: sanitise everything rather than nothing
        return sanitize_html(page)
    return page[: match.start(2)] + sanitize_html(match.group(2)) + page[match.end(2):]
