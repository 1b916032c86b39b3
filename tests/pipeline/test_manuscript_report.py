"""The Quarto manuscript without Quarto: the project's sources, the per-study instantiation,
the fallback report (same sections, order, captions and numbers), the numbered figure
exports and the privacy scan of every rendered file."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import stat
import zipfile

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402
from conftest import REPO, make_study  # noqa: E402

from analysis.errors import AnalysisError  # noqa: E402
from analysis.pipeline.export import FIGURE_INDEX_COLUMNS, save_figure  # noqa: E402
from analysis.pipeline.manuscript_source import (  # noqa: E402
    EMBED,
    INCLUDE,
    expand_includes,
    has_output,
    instantiate,
    labelled_cells,
    markdown_table,
    parse_manuscript,
)
from analysis.pipeline.privacy import id_pattern, rendered_files, scan_for_ids, scan_study  # noqa: E402
from analysis.pipeline.report import (  # noqa: E402
    QUARTO_MISSING,
    TEMPLATE,
    manuscript_conditions,
    render_report,
)
from analysis.study.config import load_study  # noqa: E402

STUDIES = ["cd-msc", "cd-upadacitinib-ius", "ibd-biologics", "ra-refractory", "sle-belimumab"]
INSERTS = {
    "verdict": "**The verdict comes first.**",
    "summary": "Five sentences of summary.",
    "methods": "The methods of the run.\n\n### Statistical analysis\n\nB = 200 (@tbl-table1, @fig-forest; @tbl-vif).",
    "participant-flow": markdown_table(pd.DataFrame({"step": ["read", "analysed"], "n": [12, 10]}),
                                       "Participant flow", "tbl-flow"),
    "tripod": markdown_table(pd.DataFrame({"item": ["1"], "section": ["Title"], "status": ["authors"]}),
                             "TRIPOD+AI checklist", "tbl-tripod"),
}
SPEC = {
    "title": "Tiny <b>study</b>",
    "id": "pid",
    "outcome": "response",
    "predictors": ["age"],
    "variables": {"pid": {"type": "id"}, "age": {"type": "numeric"}, "response": {"type": "binary"}},
}


# --------------------------------------------------------------------------- the sources
def test_quarto_project_parses_and_names_the_three_formats():
    project = yaml.safe_load((REPO / "reports" / "_quarto.yml").read_text())
    assert project["project"]["type"] == "default"
    assert set(project["format"]) == {"html", "docx", "typst"}
    assert project["format"]["html"]["embed-resources"] is True
    assert project["execute"]["enabled"] is False  # Quarto never re-runs a notebook


def test_template_includes_exist_and_every_embed_names_a_labelled_source_cell():
    template = REPO / TEMPLATE
    raw = template.read_text()
    for match in re.finditer(r"\{\{<\s*include\s+(\S+)\s*>\}\}", raw):
        assert (template.parent / match.group(1)).is_file(), match.group(1)
    lines = expand_includes(template)
    assert not any(INCLUDE.match(line.strip()) for line in lines)
    embeds = [EMBED.match(line.strip()) for line in lines]
    embeds = [m for m in embeds if m]
    assert len(embeds) > 40
    sources = {}
    for m in embeds:
        notebook = REPO / "notebooks" / m.group("notebook").split("/", 1)[1]
        assert notebook.is_file(), m.group(0)
        sources.setdefault(notebook, labelled_cells(notebook))
        assert m.group("label") in sources[notebook], m.group(0)
    # the front matter of the template parses once the title placeholders are filled
    text = instantiate(template, title='"T"', subtitle='"S"', conditions={"endpoints": True, "calculator": False},
                       inserts=INSERTS, notebooks=REPO / "reports" / "none" / "notebooks")
    assert yaml.safe_load(text.split("---")[1]) == {"title": "T", "subtitle": "S"}


def test_unknown_condition_or_insert_is_a_clear_error(tmp_path):
    (tmp_path / "t.qmd").write_text("<!-- if: sunny -->\nx\n<!-- endif -->\n")
    with pytest.raises(AnalysisError, match="unknown condition 'sunny'"):
        instantiate(tmp_path / "t.qmd", title="", subtitle="", conditions={}, inserts={}, notebooks=tmp_path)
    (tmp_path / "u.qmd").write_text("<!-- insert: haiku -->\n")
    with pytest.raises(AnalysisError, match="generated text 'haiku'"):
        instantiate(tmp_path / "u.qmd", title="", subtitle="", conditions={}, inserts={}, notebooks=tmp_path)


def _instantiated(study: str, endpoints: bool | None = None) -> str:
    cfg = load_study(study, root=REPO)
    conditions = manuscript_conditions(cfg)
    if endpoints is not None:
        conditions["endpoints"] = endpoints
    return instantiate(REPO / TEMPLATE, title='"T"', subtitle='"S"', conditions=conditions,
                       inserts=INSERTS, notebooks=REPO / "reports" / study / "notebooks")


@pytest.mark.parametrize("study", STUDIES)
def test_every_embed_of_each_study_resolves_to_a_labelled_cell_with_output(study):
    notebooks = REPO / "reports" / study / "notebooks"
    if not (notebooks / "06-validate-model.ipynb").is_file():
        pytest.skip(f"no executed notebooks of {study} under reports/ (run `make study STUDY={study}`)")
    texts = [_instantiated(study)]
    written = REPO / "reports" / study / "manuscript.qmd"
    if written.is_file():  # the manuscript the last `analysis report` wrote
        texts.append(written.read_text())
    for text in texts:
        embeds = [EMBED.match(line.strip()) for line in text.splitlines()]
        embeds = [m for m in embeds if m]
        assert len(embeds) >= 15
        for m in embeds:
            cells = labelled_cells(notebooks.parent / m.group("notebook"))
            assert m.group("label") in cells, m.group(0)
            assert has_output(cells[m.group("label")], m.group("label")), m.group(0)
        items = parse_manuscript(text, notebooks)
        sections = [i.text for i in items if i.kind == "heading" and i.level == 2]
        assert sections == ["Summary", "Methods", "Results", "Appendix: TRIPOD+AI checklist"]
        assert not [i for i in items if i.kind == "embed" and i.float_kind and not i.caption]
        # no heading is left without content
        for a, b in zip(items, items[1:], strict=False):
            if a.kind == "heading" and b.kind == "heading":
                assert b.level > a.level, (a.text, b.text)


@pytest.mark.parametrize("study", ["cd-msc", "sle-belimumab"])
def test_visit_studies_show_response_over_visits_before_the_models(study):
    if not (REPO / "reports" / study / "notebooks" / "07-follow-visits.ipynb").is_file():
        pytest.skip(f"no executed notebooks of {study} under reports/")
    assert manuscript_conditions(load_study(study, root=REPO))["endpoints"]
    headings = [i.text for i in parse_manuscript(_instantiated(study)) if i.kind == "heading"]
    visits = headings.index("Response and remission over visits")
    assert headings.index("Baseline characteristics") < visits < headings.index("Model comparison")
    later = [i.text for i in parse_manuscript(_instantiated(study, endpoints=False)) if i.kind == "heading"]
    assert later.index("Response and remission over visits") > later.index("Model comparison")


# --------------------------------------------------------------------------- the fallback
def _png_b64() -> str:
    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _cell(source, *outputs):
    cell = nbformat.v4.new_code_cell(source)
    cell.outputs = [nbformat.v4.new_output("display_data", data=data) for data in outputs]
    return cell


def _notebook(path, cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# A lab notebook heading\nThis notebook reads ..."), *cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


@pytest.fixture
def tiny(tmp_path):
    """A project with one study and a few executed notebooks with labelled cells."""
    make_study(tmp_path, "tiny", SPEC)
    study = load_study("tiny", root=tmp_path)
    nbs, png = study.paths.notebooks, _png_b64()
    table = "<table><tr><th>Age</th></tr><tr><td>52</td></tr></table><script>alert(1)</script>"
    _notebook(nbs / "02-describe-cohort.ipynb", [
        _cell("#| label: tbl-table1\n#| tbl-cap: Baseline <characteristics>\nshow(t)",
              {"text/html": table, "text/plain": "t"}),
        _cell("#| label: tbl-outcome-rates\n#| tbl-cap: Rates\nx", {"text/markdown": "_No rates._"}),
        _cell("#| label: fig-missingness\n#| fig-cap: Missing data\nshow(fig)", {"image/png": png}),
    ])
    _notebook(nbs / "04-fit-regression.ipynb", [
        _cell("#| label: fig-forest\n#| fig-cap: Odds ratios\nfor o in outcomes: save_figure(fig, f'forest_{o}', F)",
              {"image/png": png}, {"image/png": png}),
    ])
    _notebook(nbs / "07-follow-visits.ipynb", [
        _cell("#| label: tbl-response-by-visit\n#| tbl-cap: Response by visit\nx",
              {"text/html": "<table><tr><td>40%</td></tr></table>"}),
    ])
    for name, label in [("missingness_patterns", "fig-missingness"), ("forest_zeta", "fig-forest"),
                        ("forest_alpha", "fig-forest")]:
        fig, ax = plt.subplots(figsize=(2, 2))
        ax.plot([0, 1], [1, 0])
        save_figure(fig, name, study.paths.figures, label=label)
        plt.close(fig)
    return study


def _structure(html: str) -> list[str]:
    main = html[html.index("<main>"):]
    found = re.findall(r"<h([1-3])[^>]*>(.*?)</h\1>|<strong>((?:Figure|Table) \d+)\.</strong>", main, re.DOTALL)
    return [re.sub(r"<[^>]+>|¶", "", title).strip() if level else caption for level, title, caption in found]


def test_fallback_report_holds_the_template_structure_in_order(tiny, monkeypatch):
    monkeypatch.setenv("PATH", str(tiny.paths.root / "empty-bin"))
    said = []
    out = render_report(tiny, echo=said.append, inserts=INSERTS)
    assert said == [QUARTO_MISSING] and out == tiny.paths.report_html
    html = out.read_text()
    items = parse_manuscript((tiny.paths.reports / "manuscript.qmd").read_text(), tiny.paths.notebooks)
    expected = ["Tiny <b>study</b>"]
    for item in items:
        if item.kind == "heading":
            expected.append(item.text)
        elif item.number is not None:
            expected.append(f"{item.float_kind} {item.number}")
    assert _structure(html)[0] == "Tiny &lt;b&gt;study&lt;/b&gt;"
    assert _structure(html)[1:] == expected[1:]
    assert expected[1:4] == ["Summary", "Methods", "Statistical analysis"]
    assert "Table 1" in expected and "Figure 2" in expected and "Table 4" in expected
    # the verdict before the Summary; captions as in the notebooks; no lab-notebook narrative
    main = html[html.index("<main>"):]
    assert main.index("The verdict comes first") < main.index("Five sentences")
    assert "<strong>Table 2.</strong> Baseline &lt;characteristics&gt;" in main
    assert "<strong>Figure 1.</strong> Odds ratios" in main
    assert "This notebook reads" not in html and "_No rates._" not in html
    assert "B = 200 (Table 2, Figure 1; (not shown))." in main  # Quarto's cross-references
    source = (tiny.paths.reports / "manuscript.qmd").read_text()
    assert "(@tbl-table1, @fig-forest; (not shown))" in source  # what Quarto would resolve
    assert "<script>alert" not in main and "&lt;script&gt;alert(1)" in main
    assert re.search(r'<img[^>]+src="data:image/png;base64,', main)
    # a table of contents whose links reach every section
    links = re.findall(r'<li><a href="#([^"]+)">', main)
    assert len(links) == len([i for i in items if i.kind == "heading"]) and links[0] == "Summary"
    assert all(f'id="{link}"' in main for link in links)
    # the section without any output is gone, and so are its headings
    assert "Model comparison" not in expected and "The outcome" not in expected


def test_numbered_figures_and_index_follow_the_manuscript(tiny, monkeypatch):
    monkeypatch.setenv("PATH", str(tiny.paths.root / "empty-bin"))
    render_report(tiny, echo=lambda _: None, inserts=INSERTS)
    figures = tiny.paths.figures
    index = pd.read_csv(figures / "index.csv", dtype=str)
    assert tuple(index.columns) == FIGURE_INDEX_COLUMNS
    # the forest plot's panels in the order they were saved, not alphabetically
    assert index["file"].tolist() == ["fig-01a-forest-zeta", "fig-01b-forest-alpha", "fig-02-missingness-patterns"]
    assert index["number"].tolist() == ["1a", "1b", "2"]
    assert index["caption"].tolist() == ["Odds ratios", "Odds ratios", "Missing data"]
    assert index["notebook"].tolist() == ["04-fit-regression.ipynb", "04-fit-regression.ipynb",
                                          "02-describe-cohort.ipynb"]
    for stem in index["file"]:
        assert {p.suffix for p in figures.glob(f"{stem}.*")} == {".pdf", ".svg", ".png"}
    assert (figures / "fig-01a-forest-zeta.png").read_bytes() == (figures / "forest_zeta.png").read_bytes()
    # TIFF on request; a figure that left the manuscript loses its numbered copies
    monkeypatch.setenv("FIG_TIFF", "1")
    (tiny.paths.figures / "fig-09-old.png").write_bytes(b"stale")
    render_report(tiny, echo=lambda _: None, inserts=INSERTS)
    assert (figures / "fig-02-missingness-patterns.tiff").read_bytes()[:2] in (b"II", b"MM")
    assert not (figures / "fig-09-old.png").exists()


def test_calculator_screenshot_is_a_numbered_figure_when_present(tiny, monkeypatch):
    monkeypatch.setenv("PATH", str(tiny.paths.root / "empty-bin"))
    html = render_report(tiny, echo=lambda _: None, inserts=INSERTS).read_text()
    assert "The prediction tool" not in html          # no picture of this study's calculator
    tiny.paths.figures.mkdir(parents=True, exist_ok=True)
    (tiny.paths.figures / "prediction-tool.png").write_bytes(base64.b64decode(_png_b64()))
    html = render_report(tiny, echo=lambda _: None, inserts=INSERTS).read_text()
    assert "The prediction tool" in html
    index = pd.read_csv(tiny.paths.figures / "index.csv", dtype=str)
    assert index["file"].tolist()[2] == "fig-02-prediction-tool"  # after the forest plot


def _digests(study) -> dict[str, str]:
    reports = study.paths.reports
    files = [reports / "report.html", reports / "report.docx", reports / "manuscript.qmd",
             *sorted(study.paths.figures.glob("fig-*")), study.paths.figures / "index.csv"]
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def test_report_docx_and_exports_are_byte_identical_on_a_rerun(tiny, monkeypatch):
    monkeypatch.setenv("PATH", str(tiny.paths.root / "empty-bin"))
    render_report(tiny, fmt="docx", echo=lambda _: None, inserts=INSERTS)
    first = _digests(tiny)
    render_report(tiny, fmt="docx", echo=lambda _: None, inserts=INSERTS)
    assert _digests(tiny) == first
    with zipfile.ZipFile(tiny.paths.reports / "report.docx") as docx:
        text = docx.read("word/document.xml").decode()
    assert "Five sentences of summary" in text and "Odds ratios" in text


def test_pdf_without_quarto_is_a_clear_error(tiny, monkeypatch):
    monkeypatch.setenv("PATH", str(tiny.paths.root / "empty-bin"))
    with pytest.raises(AnalysisError, match="PDF report needs Quarto"):
        render_report(tiny, fmt="pdf", echo=lambda _: None, inserts=INSERTS)


def test_quarto_renders_the_manuscript_with_sanitised_notebooks(tiny, monkeypatch):
    bin_dir = tiny.paths.root / "bin"
    bin_dir.mkdir()
    log = tiny.paths.root / "quarto-args.txt"
    fake = bin_dir / "quarto"
    # the fake Quarto records its arguments and what it was given, and writes the output
    fake.write_text(
        "#!/bin/sh\n"
        f"echo \"$@\" > {log}\n"
        f"ls notebooks >> {log}; test -f _quarto.yml && echo project >> {log}\n"
        f"grep -c '<script>' notebooks/02-describe-cohort.ipynb >> {log}\n"
        "echo 'rendered docx' > manuscript.docx\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    said = []
    out = render_report(tiny, fmt="docx", echo=said.append, inserts=INSERTS)
    assert said == [] and out.name == "report.docx" and out.read_text() == "rendered docx\n"
    lines = log.read_text().split("\n")
    assert lines[0].split() == ["render", "manuscript.qmd", "--to", "docx", "--no-execute"]
    assert lines[1:5] == ["02-describe-cohort.ipynb", "04-fit-regression.ipynb", "07-follow-visits.ipynb",
                          "project"]
    assert lines[5] == "0"  # no script reached Quarto
    assert not list(tiny.paths.reports.glob(".quarto-*"))  # the scratch project is gone


# --------------------------------------------------------------------------- privacy
def test_id_scan_matches_whole_tokens_and_skips_short_numbers(tmp_path):
    (tmp_path / "t.csv").write_text("n,label\n17,MSC-00012\n40,see MSC-0001.\n")
    (tmp_path / "figure.svg").write_text("<svg><text>RA-0200</text></svg>")
    assert [(p.file.name, p.value) for p in scan_for_ids(
        [tmp_path / "t.csv", tmp_path / "figure.svg"], ["MSC-0001", "17", "RA-0200"])] == [
        ("t.csv", "MSC-0001"), ("figure.svg", "RA-0200")]
    assert id_pattern(["17", "40"]) == (None, 2)


def test_id_scan_reads_word_documents(tmp_path):
    from analysis.pipeline.export import save_table

    save_table(pd.DataFrame({"patient": ["IBD-0004"]}), "leaky", tmp_path)
    leaks = scan_for_ids(sorted(tmp_path.iterdir()), ["IBD-0004"])
    assert sorted(p.file.suffix for p in leaks) == [".csv", ".docx", ".html"]


@pytest.mark.parametrize("study", STUDIES)
def test_no_rendered_file_of_a_study_holds_a_patient_id(study):
    cfg = load_study(study, root=REPO)
    if not cfg.paths.report_html.is_file():
        pytest.skip(f"{study} has no rendered report under reports/ (run `make study STUDY={study}`)")
    if not cfg.paths.processed_cohort.is_file() and not cfg.data_path.is_file():
        pytest.skip(f"{study} has no cohort to read ids from (run `make data`)")
    files = rendered_files(cfg.paths.reports)
    assert cfg.paths.report_html in files
    assert any(p.suffix == ".docx" for p in files) and any(p.parent.name == "tables" for p in files)
    assert scan_study(cfg) == []


# --------------------------------------------------------------------------- the sidecars
class _Shell:
    def __init__(self):
        self.user_ns = {"In": [""]}

    def run(self, source):
        self.user_ns["In"].append(source)


def test_save_figure_takes_label_and_caption_from_the_running_cell(tmp_path, monkeypatch):
    import IPython

    from analysis.pipeline.export import read_figure_sidecar

    shell = _Shell()
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)

    def cell_saving(names):
        shell.run("#| label: fig-visits\n#| fig-cap: Response over visits\nfor o in outcomes: ...")
        for name in names:
            fig, ax = plt.subplots(figsize=(1, 1))
            save_figure(fig, name, tmp_path)
            plt.close(fig)
        return [read_figure_sidecar(tmp_path / f"{name}.json") for name in names]

    first = cell_saving(["visits_remission", "visits_response"])
    assert [(s["label"], s["caption"], s["panel"]) for s in first] == [
        ("fig-visits", "Response over visits", 1), ("fig-visits", "Response over visits", 2)]
    before = (tmp_path / "visits_response.json").read_bytes()
    assert cell_saving(["visits_remission", "visits_response"]) == first  # the cell run again
    assert (tmp_path / "visits_response.json").read_bytes() == before
    # an explicit caption (one per panel) wins over the cell's
    shell.run("#| label: fig-one\nx")
    fig, _ = plt.subplots(figsize=(1, 1))
    save_figure(fig, "one", tmp_path, caption="Panel caption")
    plt.close(fig)
    assert read_figure_sidecar(tmp_path / "one.json")["caption"] == "Panel caption"
