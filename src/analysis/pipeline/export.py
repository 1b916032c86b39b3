"""The one place that writes figures and tables.

Every figure goes out as PDF, SVG and PNG (300 dpi) with fixed metadata, so identical runs
give identical bytes; every table as a tidy CSV for machines plus formatted HTML and DOCX
copies for manuscripts. All writes are atomic (see :mod:`analysis.study.io`).
"""

from __future__ import annotations

import contextlib
import html
import io
import json
import os
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path

import matplotlib
import pandas as pd

from analysis.formatting import MIN_CELL_COUNT_ENV, suppress_small_counts
from analysis.study.io import write_bytes, write_text

FIGURE_FORMATS = ("pdf", "svg", "png")
PNG_DPI = 300
SCREEN_DPI = 110  # figures shown in notebooks and reports (the exported PNG has 300 dpi)
CSV_FLOAT_FORMAT = "%.10g"
_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)

matplotlib.rcParams["svg.hashsalt"] = "analysis"
matplotlib.rcParams["pdf.compression"] = 6

# first column left-aligned, keeping the indentation of Table 1 levels
TABLE_STYLE = (
    "<style>table.analysis-table td:first-child, table.analysis-table th:first-child "
    "{text-align: left; white-space: pre;}</style>\n"
)

# OWASP CSV injection: a spreadsheet treats a cell starting with one of these as a formula
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# ... but a number written as text ("-1.5", "-0.12 (-0.30 to 0.10)", "+3%") is not one, and
# the project's own formatted estimates must stay byte-identical
_NUMBER_TEXT = re.compile(r"[+-]\.?\d[\d.,%\s()\[\]/:;eE+\-\u2212\u2013]*")

_METADATA = {
    "pdf": {"CreationDate": None, "ModDate": None, "Producer": "analysis", "Creator": "analysis"},
    "svg": {"Date": None, "Creator": "analysis"},
    "png": {"Software": "analysis"},
}


def save_figure(fig, name: str, folder: str | Path, formats: Iterable[str] = FIGURE_FORMATS, *,
                caption: str | None = None, label: str | None = None) -> list[Path]:
    """Write ``fig`` as ``<folder>/<name>.{pdf,svg,png}`` plus a sidecar, and return the paths.

    The sidecar ``<name>.json`` (:data:`SIDECAR_SUFFIX`) records the Quarto label and caption
    of the figure and its panel number, so the report stage can copy the files into
    manuscript order (``fig-<NN>-<slug>.*``, :func:`export_numbered_figures`).  ``label`` and
    ``caption`` default to the ``#| label:`` and ``#| fig-cap:`` lines of the notebook cell
    that is running (Papermill keeps each cell in IPython's history); outside a notebook they
    stay empty.  The sidecar is not among the returned paths.

    Examples
    --------
    >>> import matplotlib.pyplot as plt, tempfile
    >>> fig, ax = plt.subplots(); _ = ax.plot([0, 1], [0, 1])
    >>> folder = tempfile.mkdtemp()
    >>> [p.suffix for p in save_figure(fig, "line", folder, caption="A line", label="fig-line")]
    ['.pdf', '.svg', '.png']
    >>> read_figure_sidecar(Path(folder) / "line.json")["caption"]
    'A line'
    """
    folder = Path(folder)
    written = []
    with _laid_out_once(fig) as bbox:
        for fmt in formats:
            buffer = io.BytesIO()
            fig.savefig(buffer, format=fmt, dpi=PNG_DPI, bbox_inches=bbox, metadata=_METADATA[fmt])
            if fmt == "png":  # what show() displays, scaled down, instead of a fourth rendering
                fig._analysis_saved_png = buffer.getvalue()
            written.append(write_bytes(folder / f"{name}.{fmt}", buffer.getvalue()))
    cell, run = _running_cell()
    label = label or cell.get("label")
    caption = caption or cell.get("fig-cap")
    # panels count within one execution of a cell, so re-running it writes the same sidecars
    previous_run, previous = _PANELS.get(label, (None, 0))
    panel = previous + 1 if previous_run == run else 1
    _PANELS[label] = (run, panel)
    sidecar = {"name": name, "label": label, "caption": caption, "panel": panel}
    write_text(folder / f"{name}{SIDECAR_SUFFIX}", json.dumps(sidecar, indent=1, sort_keys=True) + "\n")
    return written


@contextlib.contextmanager
def _laid_out_once(fig):
    """Run the figure's layout engine and find its tight bounding box once for every format.

    ``savefig(bbox_inches="tight")`` lays the figure out and measures every text in a dry
    draw before each real one, so a figure written in three formats and shown once was
    drawn eight times.  Here the layout (constrained or none) runs once, the tight box
    (padded by ``savefig.pad_inches``, as ``"tight"`` pads it) is computed once, and the
    layout engine is paused while the formats are written: four draws fewer, the same
    layout and the same crop in every format.
    """
    fig.draw_without_rendering()
    bbox = fig.get_tightbbox().padded(matplotlib.rcParams["savefig.pad_inches"])
    engine = fig.get_layout_engine()
    fig.set_layout_engine(None)  # not "none": a placeholder engine still asks for a dry draw
    try:
        yield bbox
    finally:
        fig.set_layout_engine(engine)


def _screen_png(png: bytes) -> bytes:
    """A 300-dpi PNG (:data:`PNG_DPI`) scaled to :data:`SCREEN_DPI` (Lanczos), as PNG."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        factor = SCREEN_DPI / PNG_DPI
        size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
        small = image.resize(size, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    small.save(out, format="png", dpi=(SCREEN_DPI, SCREEN_DPI))
    return out.getvalue()


SIDECAR_SUFFIX = ".json"
_PANELS: dict[str | None, tuple] = {}  # label -> (cell execution, figures saved in it so far)
_CELL_OPTION = re.compile(r"^#\|\s*([\w-]+)\s*:\s*(.*?)\s*$")


def cell_options(source: str) -> dict[str, str]:
    r"""The ``#| key: value`` lines at the top of a cell's source (Quarto cell options).

    Examples
    --------
    >>> cell_options("#| label: fig-roc\n#| fig-cap: ROC curves\nplot()\n#| later: ignored")
    {'label': 'fig-roc', 'fig-cap': 'ROC curves'}
    """
    options = {}
    for line in source.splitlines():
        match = _CELL_OPTION.match(line)
        if match is None:
            break
        options[match.group(1)] = match.group(2)
    return options


def _running_cell() -> tuple[dict[str, str], int | None]:
    """Cell options of the notebook cell being executed and its execution number.

    Papermill runs each cell with IPython's history on, so the running cell's source is the
    last entry of ``In``; outside IPython the options are empty and the number None.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with ipykernel
        return {}, None
    shell = get_ipython()
    history = getattr(shell, "user_ns", {}).get("In") if shell is not None else None
    if not history:
        return {}, None
    return cell_options(history[-1]), len(history)


def read_figure_sidecar(path: str | Path) -> dict:
    """The sidecar of a saved figure (see :func:`save_figure`).

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "f.json"; _ = p.write_text('{"name": "f", "panel": 1}')
    >>> read_figure_sidecar(p)["name"]
    'f'
    """
    return json.loads(Path(path).read_text(encoding="utf-8"))


def neutralise_formula(value):
    """A text cell made safe to open in a spreadsheet (OWASP CSV injection).

    Strings starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return get a
    leading single quote, so Excel or LibreOffice show them as text instead of running
    them; numbers written as text (``"-1.5"``, ``"-0.12 (-0.30 to 0.10)"``), a lone ``"-"``
    and every non-string value are returned unchanged.

    Examples
    --------
    >>> print(neutralise_formula('=HYPERLINK("http://x.example","click")'))
    '=HYPERLINK("http://x.example","click")
    >>> neutralise_formula("-0.12 (-0.30 to 0.10)"), neutralise_formula(-1.5)
    ('-0.12 (-0.30 to 0.10)', -1.5)
    >>> neutralise_formula("-2+3+cmd|' /C calc'!A0")
    "'-2+3+cmd|' /C calc'!A0"
    """
    if not isinstance(value, str) or not value.startswith(FORMULA_TRIGGERS) or value == "-":
        return value
    if _NUMBER_TEXT.fullmatch(value.replace(" to ", " ")):
        return value
    return "'" + value


def neutralise_frame(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with :func:`neutralise_formula` applied to its column names and text cells.

    Returns ``df`` itself when nothing needs changing (so numeric output is untouched).

    Examples
    --------
    >>> neutralise_frame(pd.DataFrame({"level": ["@SUM(A1)", "ok"], "n": [1, -2]})).to_dict("list")
    {'level': ["'@SUM(A1)", 'ok'], 'n': [1, -2]}
    """
    columns = [neutralise_formula(c) for c in df.columns]
    changed = {}
    for position in _text_positions(df):
        values = df.iloc[:, position].astype(object).tolist()
        safe = [neutralise_formula(v) for v in values]
        if any(a is not b for a, b in zip(values, safe, strict=True)):
            changed[position] = safe
    if not changed and columns == list(df.columns):
        return df
    out = df.copy()
    for position, values in changed.items():
        out.isetitem(position, pd.Series(values, index=df.index, dtype=object))
    out.columns = columns
    return out


def _text_positions(df: pd.DataFrame) -> list[int]:
    return [
        i for i, dtype in enumerate(df.dtypes)
        if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
    ]


def table_to_csv(df: pd.DataFrame) -> str:
    """A tidy table as CSV text with a fixed float format (stable across runs).

    Text cells that a spreadsheet would run as a formula are neutralised
    (:func:`neutralise_formula`).

    Examples
    --------
    >>> print(table_to_csv(pd.DataFrame({"level": ["=1+1"], "or": [-0.5]})), end="")
    level,or
    '=1+1,-0.5
    """
    return neutralise_frame(df).to_csv(index=False, float_format=CSV_FLOAT_FORMAT,
                                       lineterminator="\n")


def table_to_html(df: pd.DataFrame, caption: str | None = None) -> str:
    """A formatted table as a small standalone HTML fragment (cells and caption escaped).

    Examples
    --------
    >>> "&lt;script&gt;" in table_to_html(pd.DataFrame({"a": [1]}), caption="<script>")
    True
    """
    body = neutralise_frame(df).to_html(index=False, na_rep="", border=0,
                                        classes="analysis-table", escape=True)
    cap = (f"<p class='caption'><strong>{html.escape(str(caption), quote=False)}</strong></p>\n"
           if caption else "")
    return f"{TABLE_STYLE}{cap}{body}\n"


def table_to_docx(df: pd.DataFrame, caption: str | None = None) -> bytes:
    """A formatted table as a Word document (bytes), with fixed timestamps."""
    import datetime as dt

    from docx import Document
    from docx.shared import Pt

    df = neutralise_frame(df)
    doc = Document()
    props = doc.core_properties
    props.author = "analysis"
    props.created = props.modified = dt.datetime(2000, 1, 1)
    props.last_modified_by = "analysis"
    props.revision = 1
    if caption:
        doc.add_paragraph().add_run(caption).bold = True
    table = doc.add_table(rows=1, cols=len(df.columns))
    table.style = "Table Grid"
    for cell, name in zip(table.rows[0].cells, df.columns, strict=True):
        cell.text = str(name)
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for values in df.itertuples(index=False):
        cells = table.add_row().cells
        for cell, value in zip(cells, values, strict=True):
            cell.text = "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
    for row in table.rows:
        for cell in row.cells:
            for paragraph in cell.paragraphs:
                for run in paragraph.runs:
                    run.font.size = Pt(9)
    raw = io.BytesIO()
    doc.save(raw)
    return _normalise_zip(raw.getvalue())


def stable_zip(data: bytes) -> bytes:
    """A zip container (DOCX) rewritten with fixed entry times: same content, same bytes.

    Examples
    --------
    >>> raw = io.BytesIO()
    >>> with zipfile.ZipFile(raw, "w") as z: z.writestr("a.txt", "x")
    >>> stable_zip(raw.getvalue()) == stable_zip(stable_zip(raw.getvalue()))
    True
    """
    return _normalise_zip(data)


def _normalise_zip(data: bytes) -> bytes:
    """Rewrite a zip (DOCX) with fixed entry times so identical content gives identical bytes."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=_FIXED_ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            target.writestr(fixed, source.read(info.filename))
    return out.getvalue()


def save_table(tidy: pd.DataFrame, name: str, folder: str | Path, *,
               formatted: pd.DataFrame | None = None, caption: str | None = None) -> list[Path]:
    """Write ``<name>.csv`` (tidy) and ``<name>.html`` / ``<name>.docx`` (formatted).

    ``formatted`` defaults to the tidy table itself.  When the study sets
    ``privacy.min_cell_count`` (carried by the notebook run, :func:`min_cell_count`), the
    formatted copies show small counts as ``"<n"`` (:func:`analysis.formatting.suppress_small_counts`);
    the tidy CSV keeps the exact counts.

    Examples
    --------
    >>> import tempfile
    >>> paths = save_table(pd.DataFrame({"a": [1.5]}), "t", tempfile.mkdtemp())
    >>> [p.suffix for p in paths]
    ['.csv', '.html', '.docx']
    """
    folder = Path(folder)
    shown = suppress_small_counts(tidy if formatted is None else formatted, min_cell_count())
    return [
        write_text(folder / f"{name}.csv", table_to_csv(tidy)),
        write_text(folder / f"{name}.html", table_to_html(shown, caption)),
        write_bytes(folder / f"{name}.docx", table_to_docx(shown, caption)),
    ]


def min_cell_count() -> int | None:
    """The study's ``privacy.min_cell_count`` in a notebook run (None outside one or unset).

    Examples
    --------
    >>> import os
    >>> os.environ.pop(MIN_CELL_COUNT_ENV, None) and None
    >>> min_cell_count() is None
    True
    """
    value = os.environ.get(MIN_CELL_COUNT_ENV, "")
    return int(value) if value.isdigit() and int(value) >= 2 else None


def show(obj, caption: str | None = None):
    """Display a table (without its row index) or a figure in a notebook.

    Figures are closed after display so that each appears exactly once in the report.

    Examples
    --------
    >>> show(pd.DataFrame({"a": [1]}))  # doctest: +SKIP
    """
    from IPython.display import HTML, Image, display
    from matplotlib.figure import Figure

    if isinstance(obj, Figure):
        # rendered to PNG here, so it shows whatever the kernel's matplotlib backend is; a
        # figure save_figure wrote is shown as its saved PNG, scaled down (no new drawing)
        saved = getattr(obj, "_analysis_saved_png", None)
        if saved is not None:
            data = _screen_png(saved)
        else:
            buffer = io.BytesIO()
            obj.savefig(buffer, format="png", dpi=SCREEN_DPI, bbox_inches="tight",
                        metadata=_METADATA["png"])
            data = buffer.getvalue()
        display(Image(data=data, format="png"))
        import matplotlib.pyplot as plt

        plt.close(obj)
    elif isinstance(obj, pd.DataFrame):
        display(HTML(table_to_html(suppress_small_counts(obj, min_cell_count()), caption)))
    else:
        display(obj)


# --------------------------------------------------------------------------------------
# figures in manuscript order: fig-<NN>-<slug>.{pdf,svg,png[,tiff]} and figures/index.csv
# --------------------------------------------------------------------------------------
FIGURE_INDEX = "index.csv"
FIGURE_INDEX_COLUMNS = ("file", "number", "caption", "notebook", "label")
TIFF_ENV = "FIG_TIFF"  # FIG_TIFF=1: also write each numbered figure as TIFF (LZW, 300 dpi)
_NUMBERED = re.compile(r"^fig-\d{2,}[a-z]?-")


def figure_file_stem(number: int, panel: str, source: str | Path) -> str:
    """The manuscript name of a figure: ``fig-<NN><panel>-<slug>``.

    Examples
    --------
    >>> figure_file_stem(3, "b", "figures/response_by_visit_remission")
    'fig-03b-response-by-visit-remission'
    """
    slug = re.sub(r"[^a-z0-9]+", "-", Path(source).name.lower()).strip("-") or "figure"
    return f"fig-{number:02d}{panel}-{slug}"


def export_numbered_figures(figures: Iterable[dict], folder: str | Path, *,
                            tiff: bool | None = None) -> list[Path]:
    """Copy figures into manuscript order and write ``<folder>/index.csv``.

    Each entry of ``figures`` is a dict with ``source`` (the saved figure without suffix,
    e.g. ``figures/roc_curves``), ``number`` (the manuscript's figure number), ``panel``
    (``""`` or ``"a"``, ``"b"``, ... for a figure of several panels), ``caption``,
    ``notebook`` and ``label``.  Every format the source was saved in is copied as
    ``fig-<NN><panel>-<slug>.<ext>`` (TIFF converted from the 300-dpi PNG when ``tiff`` or
    ``$FIG_TIFF`` is ``1``); numbered files from an earlier export that are no longer
    figures are removed.  ``index.csv`` has the columns ``file`` (the stem; one file per
    format), ``number`` (``3`` or ``3a``), ``caption``, ``notebook``, ``label``.  Copies and
    index are byte-identical when nothing changed.

    Examples
    --------
    >>> import matplotlib.pyplot as plt, tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> fig, ax = plt.subplots(); _ = ax.plot([0, 1])
    >>> _ = save_figure(fig, "roc_curves", folder, label="fig-roc", caption="ROC")
    >>> written = export_numbered_figures([{"source": folder / "roc_curves", "number": 1, "panel": "",
    ...     "caption": "ROC", "notebook": "05-compare-models.ipynb", "label": "fig-roc"}], folder)
    >>> [p.name for p in written]
    ['fig-01-roc-curves.pdf', 'fig-01-roc-curves.svg', 'fig-01-roc-curves.png', 'index.csv']
    """
    import os

    folder = Path(folder)
    if tiff is None:
        tiff = os.environ.get(TIFF_ENV, "") == "1"
    written, rows = [], []
    for entry in figures:
        source = Path(entry["source"])
        stem = figure_file_stem(int(entry["number"]), entry.get("panel", ""), source)
        for fmt in FIGURE_FORMATS:
            original = source.with_name(f"{source.name}.{fmt}")
            if original.is_file():
                written.append(write_bytes(folder / f"{stem}.{fmt}", original.read_bytes()))
        png = source.with_name(f"{source.name}.png")
        if tiff and png.is_file():
            written.append(write_bytes(folder / f"{stem}.tiff", png_to_tiff(png.read_bytes())))
        rows.append({"file": stem, "number": f"{int(entry['number'])}{entry.get('panel', '')}",
                     "caption": entry.get("caption") or "", "notebook": entry.get("notebook") or "",
                     "label": entry.get("label") or ""})
    keep = {p.name for p in written}
    for stale in folder.glob("fig-*"):
        if _NUMBERED.match(stale.name) and stale.name not in keep and stale.is_file():
            stale.unlink()
    index = pd.DataFrame(rows, columns=list(FIGURE_INDEX_COLUMNS))
    written.append(write_text(folder / FIGURE_INDEX, table_to_csv(index)))
    return written


def png_to_tiff(png: bytes, dpi: int = PNG_DPI) -> bytes:
    """A PNG as an LZW-compressed TIFF with its resolution set (deterministic bytes).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots(); buffer = io.BytesIO(); fig.savefig(buffer, format="png")
    >>> png_to_tiff(buffer.getvalue())[:2] in (b"II", b"MM")
    True
    """
    from PIL import Image

    out = io.BytesIO()
    with Image.open(io.BytesIO(png)) as image:
        image.save(out, format="TIFF", compression="tiff_lzw", dpi=(dpi, dpi))
    return out.getvalue()
