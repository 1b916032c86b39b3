"""Render a study's executed notebooks into one report: Quarto when present, else nbconvert.

Both routes render the same combined notebook (narrative, tables and figures; code and
parameters hidden; warnings and progress output dropped), so the fallback report carries
the same content as the Quarto one.  Its first paragraph is the ship gate's verdict with its
numbers (:func:`verdict_paragraph`: ``reports/<study>/tables/gate.csv``, else the ``status``
of ``model.json``), so a study whose model is not fit for clinical use says so at the top.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import nbformat
import pandas as pd

from analysis.errors import AnalysisError
from analysis.formatting import escape_text
from analysis.study.io import write_text
from analysis.study.paths import StudyPaths
from analysis.validation.gate import NOT_FIT, verdict_from_table

QUARTO_MISSING = "Quarto was not found on PATH: building the fallback HTML report with nbconvert."
_HIDDEN_TAGS = {"parameters", "injected-parameters", "remove-cell"}
_SCRIPT_MIMETYPES = ("application/javascript", "text/javascript",
                     "application/vnd.jupyter.widget-view+json")


def executed_notebooks(paths: StudyPaths) -> list[Path]:
    """The study's executed notebooks (``NN-*.ipynb``), in order."""
    return sorted(
        p for p in paths.notebooks.glob("[0-9][0-9]-*.ipynb")
        if not p.name.endswith(".failed.ipynb")
    )


def combine_notebooks(notebooks: list[Path], title: str, subtitle: str = "") -> nbformat.NotebookNode:
    """One notebook holding the narrative and outputs of ``notebooks``, code hidden.

    The title and subtitle are escaped, and every HTML output goes through
    :func:`sanitize_html`, so neither Quarto nor nbconvert can be made to run a script.
    """
    combined = nbformat.v4.new_notebook()
    front = ["---", f"title: {_yaml_text(title)}"]
    if subtitle:
        front.append(f"subtitle: {_yaml_text(subtitle)}")
    front += [
        "format:", "  html:", "    embed-resources: true", "    toc: true",
        "execute:", "  echo: false", "  warning: false", "---",
    ]
    combined.cells.append(nbformat.v4.new_raw_cell("\n".join(front)))
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        if combined.metadata.get("kernelspec") is None and "kernelspec" in nb.metadata:
            combined.metadata["kernelspec"] = nb.metadata["kernelspec"]
            combined.metadata["language_info"] = nb.metadata.get("language_info", {})
        for cell in nb.cells:
            tags = set(cell.get("metadata", {}).get("tags", []))
            if tags & _HIDDEN_TAGS or cell.cell_type == "raw":
                continue
            cell = copy.deepcopy(cell)
            if cell.cell_type == "code":
                cell.outputs = [
                    o for o in cell.get("outputs", [])
                    if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
                ]
                for output in cell.outputs:  # both routes: HTML outputs go through the allow-list
                    data = output.get("data", {})
                    for mime in _SCRIPT_MIMETYPES:
                        data.pop(mime, None)
                    if "text/html" in data:
                        html = data["text/html"]
                        data["text/html"] = sanitize_html("".join(html) if isinstance(html, list) else html)
                cell.metadata.setdefault("tags", []).append("remove-input")
                cell.metadata.pop("papermill", None)
                cell.metadata.pop("execution", None)
            combined.cells.append(cell)
    for i, cell in enumerate(combined.cells):
        cell["id"] = f"cell-{i:04d}"
    return combined


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


def quarto_available() -> str | None:
    """Path of the ``quarto`` executable, or None."""
    return shutil.which("quarto")


def render_report(paths: StudyPaths, title: str, *, echo=print, force_fallback: bool = False) -> Path:
    """Render ``reports/<study>/report.html`` from the executed notebooks (atomically).

    Examples
    --------
    >>> # render_report(study_paths("ibd-biologics"), "Response to biologics in IBD")
    """
    notebooks = executed_notebooks(paths)
    if not notebooks:
        raise FileNotFoundError(f"no executed notebooks in {paths.notebooks}: run `make study STUDY={paths.study}`")
    combined = combine_notebooks(notebooks, title, subtitle=f"Study: {paths.study}")
    # the first paragraph of both routes: the ship gate's verdict
    verdict = nbformat.v4.new_markdown_cell(verdict_paragraph(paths))
    verdict["id"] = "verdict"
    combined.cells.insert(1, verdict)
    quarto = None if force_fallback else quarto_available()
    if quarto:
        html = _render_with_quarto(quarto, combined, paths)
    else:
        echo(QUARTO_MISSING)
        html = _render_with_nbconvert(combined, title)
    return write_text(paths.report_html, html)


def _render_with_quarto(quarto: str, combined, paths: StudyPaths) -> str:
    with tempfile.TemporaryDirectory(dir=paths.reports, prefix=".quarto-") as tmp:
        source = Path(tmp) / "report.ipynb"
        nbformat.write(combined, source)
        subprocess.run(
            [quarto, "render", str(source), "--to", "html", "--no-execute"],
            check=True, cwd=tmp,
        )
        return (Path(tmp) / "report.html").read_text(encoding="utf-8")


def _render_with_nbconvert(combined, title: str) -> str:
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
        exclude_raw=True,
    )
    combined = copy.deepcopy(combined)
    # Quarto takes the title from the front matter; the fallback shows it as a heading
    combined.cells.insert(1, nbformat.v4.new_markdown_cell(
        f"# {escape_text(title)}\n\n"
        "*Rendered by nbconvert: Quarto was not found when this report was built.*"))
    combined.cells[1]["id"] = "title"
    # the template escapes the page <title> itself
    body, _ = exporter.from_notebook_node(combined, resources={"metadata": {"name": str(title)}})
    return sanitize_report_body(body)


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
