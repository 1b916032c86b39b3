"""The Quarto manuscript source: the template, its instantiation per study, its structure.

The template (``reports/templates/manuscript.qmd``) is Quarto Markdown plus three kinds of
line that the report stage resolves before anything is rendered:

- ``<!-- insert: NAME -->``: replaced by generated text (Summary, Methods, participant flow,
  TRIPOD+AI checklist, the ship-gate verdict);
- ``<!-- if: CONDITION -->`` ... ``<!-- endif -->`` (``if: not CONDITION`` negates): a block
  kept or dropped for the study, e.g. ``endpoints`` puts response over visits first;
- ``{{< include FILE >}}``: inlined (relative to the including file).

Embeds (``{{< embed notebooks/NN-name.ipynb#label >}}``) stay Quarto's: the instantiation
drops those whose labelled cell is missing or has no output in the study's executed
notebook, then headings left without content.  :func:`parse_manuscript` reads an
instantiated manuscript back as an ordered list of :class:`Item` (sections, text, embeds,
generated tables and figures) with Quarto's numbering, which the fallback renderer, the
numbered figure exports and the tests share.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import nbformat

from analysis.errors import AnalysisError
from analysis.pipeline.export import cell_options

EMBED = re.compile(r"^\{\{<\s*embed\s+(?P<notebook>[^#\s]+)#(?P<label>[\w-]+)\s*>\}\}\s*$")
INCLUDE = re.compile(r"^\{\{<\s*include\s+(?P<path>\S+)\s*>\}\}\s*$")
_IF = re.compile(r"^<!--\s*if:\s*(?P<negate>not\s+)?(?P<name>[\w-]+)\s*-->\s*$")
_ENDIF = re.compile(r"^<!--\s*endif\s*-->\s*$")
_INSERT = re.compile(r"^<!--\s*insert:\s*(?P<name>[\w-]+)\s*-->\s*$")
_HEADING = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<title>.*?)\s*(?:\{#(?P<id>[\w-]+)\})?\s*$")
_IMAGE = re.compile(r"^!\[(?P<caption>[^\]]*)\]\((?P<path>[^)\s]+)\)\{#(?P<label>fig-[\w-]+)\}\s*$")
_TABLE_CAPTION = re.compile(r"^:\s*(?P<caption>.*?)\s*\{#(?P<label>tbl-[\w-]+)\}\s*$")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_IMAGE_MIMES = ("image/png", "image/svg+xml", "image/jpeg")
_TEXT_MIMES = ("text/html", "text/markdown", "text/plain")


@dataclass(frozen=True)
class Item:
    """One block of a manuscript, in reading order.

    ``kind`` is ``heading`` (``level``, ``text``, ``id``), ``text`` (Markdown), ``embed``
    (``notebook``, ``label``), ``table`` (a generated pipe table: ``text``, ``label``,
    ``caption``) or ``image`` (``path``, ``label``, ``caption``).  ``number`` is Quarto's
    cross-reference number of a ``fig-``/``tbl-`` label, else None.
    """

    kind: str
    text: str = ""
    level: int = 0
    id: str | None = None
    notebook: str | None = None
    label: str | None = None
    caption: str | None = None
    path: str | None = None
    number: int | None = None

    @property
    def float_kind(self) -> str | None:
        """``"Figure"``, ``"Table"`` or None (from the label's prefix)."""
        if self.label and self.label.startswith("fig-"):
            return "Figure"
        if self.label and self.label.startswith("tbl-"):
            return "Table"
        return None


def labelled_cells(notebook: str | Path) -> dict[str, nbformat.NotebookNode]:
    """The code cells of an executed notebook that carry a ``#| label:``, by label.

    Examples
    --------
    >>> import tempfile
    >>> nb = nbformat.v4.new_notebook()
    >>> nb.cells = [nbformat.v4.new_code_cell("#| label: fig-a\\nplot()")]
    >>> path = Path(tempfile.mkdtemp()) / "01-x.ipynb"; nbformat.write(nb, path)
    >>> list(labelled_cells(path))
    ['fig-a']
    """
    nb = nbformat.read(Path(notebook), as_version=4)
    cells = {}
    for cell in nb.cells:
        if cell.cell_type == "code":
            label = cell_options(cell.source).get("label")
            if label:
                cells[label] = cell
    return cells


def has_output(cell, label: str) -> bool:
    """Whether a labelled cell has something to embed: an image for ``fig-``, an HTML table
    for ``tbl-``, any visible output otherwise (stderr never counts).

    Examples
    --------
    >>> cell = nbformat.v4.new_code_cell("x")
    >>> cell.outputs = [nbformat.v4.new_output("display_data", data={"text/markdown": "No events."})]
    >>> has_output(cell, "tbl-events"), has_output(cell, "note")
    (False, True)
    """
    outputs = [o for o in cell.get("outputs", [])
               if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    if label.startswith("fig-"):
        wanted = _IMAGE_MIMES
    elif label.startswith("tbl-"):
        wanted = ("text/html",)
    else:
        return any(o.get("output_type") == "stream" or set(o.get("data", {})) & set(_TEXT_MIMES + _IMAGE_MIMES)
                   for o in outputs)
    return any(set(o.get("data", {})) & set(wanted) for o in outputs)


def expand_includes(path: str | Path, _seen: tuple = ()) -> list[str]:
    """The lines of a Quarto file with every ``{{< include FILE >}}`` inlined.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()); _ = (d / "_part.qmd").write_text("inner\\n")
    >>> _ = (d / "main.qmd").write_text("a\\n{{< include _part.qmd >}}\\nb\\n")
    >>> expand_includes(d / "main.qmd")
    ['a', 'inner', 'b']
    """
    path = Path(path)
    if path in _seen:
        raise AnalysisError(f"{path.name} includes itself (through {' -> '.join(p.name for p in _seen)})")
    if not path.is_file():
        raise AnalysisError(f"the manuscript template includes {path}, which does not exist")
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = INCLUDE.match(line.strip())
        if match:
            lines += expand_includes(path.parent / match.group("path"), (*_seen, path))
        else:
            lines.append(line)
    return lines


def resolve_conditions(lines: list[str], conditions: Mapping[str, bool]) -> list[str]:
    """Keep or drop the ``<!-- if: ... -->`` blocks (nesting allowed); unknown names are errors.

    Examples
    --------
    >>> resolve_conditions(["a", "<!-- if: not visits -->", "b", "<!-- endif -->"], {"visits": True})
    ['a']
    """
    kept, stack = [], []
    for number, line in enumerate(lines, 1):
        opening, closing = _IF.match(line.strip()), _ENDIF.match(line.strip())
        if opening:
            name = opening.group("name")
            if name not in conditions:
                raise AnalysisError(f"template line {number}: unknown condition {name!r} "
                                    f"(known: {', '.join(sorted(conditions))})")
            stack.append(bool(conditions[name]) != bool(opening.group("negate")))
        elif closing:
            if not stack:
                raise AnalysisError(f"template line {number}: endif without if")
            stack.pop()
        elif all(stack):
            kept.append(line)
    if stack:
        raise AnalysisError("the manuscript template has an if without endif")
    return kept


def instantiate(template: str | Path, *, title: str, subtitle: str, conditions: Mapping[str, bool],
                inserts: Mapping[str, str], notebooks: str | Path) -> str:
    """The manuscript of one study (Quarto Markdown) from the template.

    ``notebooks`` is the study's folder of executed notebooks; embeds are written relative
    to the manuscript (``notebooks/NN-name.ipynb#label``), which lives next to that folder.
    ``title`` and ``subtitle`` must already be YAML-quoted scalars.
    """
    notebooks = Path(notebooks)
    lines = resolve_conditions(expand_includes(template), conditions)
    text = "\n".join(lines)
    text = _COMMENT.sub(lambda m: m.group(0) if _INSERT.match(m.group(0)) else "", text)
    text = text.replace('"%%title%%"', title).replace('"%%subtitle%%"', subtitle)
    cache: dict[str, dict] = {}
    out = []
    for line in text.splitlines():
        insert = _INSERT.match(line.strip())
        embed = EMBED.match(line.strip())
        if insert:
            name = insert.group("name")
            if name not in inserts:
                raise AnalysisError(f"the manuscript template asks for generated text {name!r}, "
                                    f"which the report stage does not provide")
            out.append(inserts[name].strip("\n"))
        elif embed:
            source = notebooks.parent / embed.group("notebook")
            if source.name not in cache:
                cache[source.name] = labelled_cells(source) if source.is_file() else {}
            cell = cache[source.name].get(embed.group("label"))
            if cell is not None and has_output(cell, embed.group("label")):
                out.append(line.strip())
        else:
            out.append(line)
    return "\n".join(_drop_empty_sections(out)).strip("\n") + "\n"


def _drop_empty_sections(lines: list[str]) -> list[str]:
    """Headings with no content before the next heading of the same or a higher level go."""
    body_start = _front_matter_end(lines)
    keep = [True] * len(lines)
    # from the bottom up, so a section whose subsections all went is dropped too
    next_content_level = 99  # level of the nearest kept heading below, 0 = content seen
    for i in range(len(lines) - 1, body_start - 1, -1):
        match = _HEADING.match(lines[i]) if not lines[i].startswith("#|") else None
        if match:
            level = len(match.group("hashes"))
            if next_content_level == 0 or level < next_content_level < 99:
                next_content_level = level
            else:
                keep[i] = False
        elif lines[i].strip():
            next_content_level = 0
    out = [line for line, k in zip(lines, keep, strict=True) if k]
    # collapse runs of blank lines left behind
    return [line for i, line in enumerate(out) if line.strip() or (i and out[i - 1].strip())]


def _front_matter_end(lines: list[str]) -> int:
    if lines and lines[0].strip() == "---":
        for i in range(1, len(lines)):
            if lines[i].strip() == "---":
                return i + 1
    return 0


def front_matter(text: str) -> dict:
    """The YAML front matter of a Quarto document (empty dict without one)."""
    import yaml

    lines = text.splitlines()
    end = _front_matter_end(lines)
    return (yaml.safe_load("\n".join(lines[1:end - 1])) or {}) if end else {}


def parse_manuscript(text: str, notebooks: str | Path | None = None) -> list[Item]:
    """An instantiated manuscript as ordered items with Quarto's figure and table numbers.

    With ``notebooks`` (the folder the embeds point into), each embed's caption is read from
    its cell's ``#| fig-cap:`` / ``#| tbl-cap:`` line.

    Examples
    --------
    >>> items = parse_manuscript("## Results {#sec-r}\\n\\n| a |\\n|---|\\n| 1 |\\n\\n: Flow {#tbl-flow}\\n")
    >>> [(i.kind, i.label, i.number) for i in items]
    [('heading', None, None), ('table', 'tbl-flow', 1)]
    """
    lines = text.splitlines()
    lines = lines[_front_matter_end(lines):]
    items: list[Item] = []
    paragraph: list[str] = []

    def flush():
        if any(line.strip() for line in paragraph):
            block = "\n".join(paragraph).strip("\n")
            caption = _TABLE_CAPTION.match(block.splitlines()[-1])
            table = block.splitlines()[:-1] if caption else []
            if caption and not table and items and items[-1].kind == "text" and items[-1].text.startswith("|"):
                table = items.pop().text.splitlines()  # the caption paragraph after its table
            if caption and table and table[0].lstrip().startswith("|"):
                items.append(Item("table", text="\n".join(table).strip("\n"), label=caption.group("label"),
                                  caption=caption.group("caption")))
            else:
                items.append(Item("text", text=block))
        paragraph.clear()

    for line in lines:
        heading = _HEADING.match(line)
        embed, image = EMBED.match(line.strip()), _IMAGE.match(line.strip())
        if heading:
            flush()
            items.append(Item("heading", text=heading.group("title"), level=len(heading.group("hashes")),
                              id=heading.group("id")))
        elif embed:
            flush()
            items.append(Item("embed", notebook=embed.group("notebook"), label=embed.group("label")))
        elif image:
            flush()
            items.append(Item("image", path=image.group("path"), label=image.group("label"),
                              caption=image.group("caption")))
        elif not line.strip():
            flush()
        else:
            paragraph.append(line)
    flush()
    if notebooks is not None:
        items = _with_captions(items, Path(notebooks))
    return _numbered(items)


def _with_captions(items: list[Item], notebooks: Path) -> list[Item]:
    cache: dict[str, dict] = {}
    out = []
    for item in items:
        if item.kind == "embed":
            source = notebooks.parent / item.notebook
            if source.name not in cache:
                cache[source.name] = labelled_cells(source) if source.is_file() else {}
            cell = cache[source.name].get(item.label)
            if cell is None:
                raise AnalysisError(f"the manuscript embeds {item.notebook}#{item.label}, "
                                    "which has no such labelled cell")
            options = cell_options(cell.source)
            item = replace(item, caption=options.get("fig-cap") or options.get("tbl-cap"))
        out.append(item)
    return out


def _numbered(items: list[Item]) -> list[Item]:
    counters = {"Figure": 0, "Table": 0}
    out = []
    for item in items:
        kind = item.float_kind if item.kind in ("embed", "table", "image") else None
        if kind:
            counters[kind] += 1
            item = replace(item, number=counters[kind])
        out.append(item)
    return out


_CROSSREF = re.compile(r"(?<![\w@.])@((?:fig|tbl|sec)-[\w-]*\w)")


def resolve_crossrefs(text: str, items: list[Item], *, keep_known: bool = False) -> str:
    """Quarto cross-references (``@fig-roc``, ``@tbl-flow``, ``@sec-methods``) as plain text.

    The fallback renderer's stand-in for Quarto's crossref filter: a numbered label becomes
    ``Figure 3`` / ``Table 2``, a section id its heading; a label the manuscript lacks (its
    output was dropped for this study) becomes ``(not shown)``.  With ``keep_known`` only
    the missing ones are replaced (the manuscript handed to Quarto: no ``?@tbl-x``).

    Examples
    --------
    >>> items = [Item("heading", text="Methods", level=2, id="sec-methods"),
    ...          Item("embed", label="fig-roc", number=3)]
    >>> resolve_crossrefs("See @fig-roc and @sec-methods (@tbl-gone).", items)
    'See Figure 3 and Methods (not shown).'
    >>> resolve_crossrefs("See @fig-roc (@tbl-gone).", items, keep_known=True)
    'See @fig-roc (not shown).'
    """
    names = {i.label: f"{i.float_kind} {i.number}" for i in items if i.label and i.number is not None}
    names.update({i.id: i.text for i in items if i.kind == "heading" and i.id})

    def name(match: re.Match) -> str:
        if keep_known and match.group(1) in names:
            return match.group(0)
        return names.get(match.group(1), "(not shown)")

    resolved = _CROSSREF.sub(name, text)
    return resolved.replace("((not shown))", "(not shown)")


def markdown_table(frame, caption: str, label: str) -> str:
    """A DataFrame as a Quarto pipe table with a numbered caption (cells escaped).

    Examples
    --------
    >>> import pandas as pd
    >>> print(markdown_table(pd.DataFrame({"step": ["read"], "n": [40]}), "Flow", "tbl-flow"))
    | step | n |
    |---|---|
    | read | 40 |
    <BLANKLINE>
    : Flow {#tbl-flow}
    """
    from analysis.formatting import escape_text

    def cell(value) -> str:
        if value is None or (isinstance(value, float) and value != value):
            return ""
        return escape_text(" ".join(str(value).split())).replace("|", "\\|")

    header = "| " + " | ".join(cell(c) for c in frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows, "", f": {escape_text(caption)} {{#{label}}}"])
