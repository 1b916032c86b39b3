"""The calculator in a real browser: Debian's chromium driven by Playwright.

A tiny project is built in a temporary folder (a study with a derived BMI and two
treatment options whose model is saved with bootstrap refits, and a copy whose model failed
the ship gate and has no refits), each app is served by
uvicorn on a free port of 127.0.0.1 in a background thread, and what the page shows is
compared with :func:`analysis.models.predict.predict_patients` for the same patient.

Playwright never downloads a browser here: the test uses ``chromium`` from PATH (Debian:
``apt-get install chromium``). Without it the tests skip, or fail when ``CI`` is set.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
import urllib.request

import numpy as np
import pandas as pd
import pytest
from conftest import make_study
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from analysis.models.artifact import save_model
from analysis.models.predict import predict_patients
from analysis.study.config import load_study

pytestmark = pytest.mark.browser

PREDICTORS = ["age", "bmi", "smoking", "treatment", "prior_biologic"]
SPEC = {
    "title": "Tiny calculator study",
    "description": "Adults starting a biologic; response at week 12.",
    "id": "pid",
    "outcome": "response",
    "predictors": PREDICTORS,
    "treatment": {"column": "treatment", "options": ["anti-TNF", "anti-IL-17"]},
    "derive": {"bmi": "weight_kg / (height_cm / 100) ** 2"},
    "variables": {
        "pid": {"type": "id"},
        "age": {"type": "numeric", "min": 18, "max": 100, "unit": "years", "label": "Age"},
        "height_cm": {"type": "numeric", "min": 120, "max": 220, "unit": "cm",
                      "label": "Height"},
        "weight_kg": {"type": "numeric", "min": 30, "max": 250, "unit": "kg",
                      "label": "Weight"},
        "bmi": {"type": "numeric", "min": 10, "max": 80, "unit": "kg/m2", "label": "BMI"},
        "smoking": {"type": "categorical", "levels": ["never", "former", "current"],
                    "label": "Smoking"},
        "treatment": {"type": "categorical", "levels": ["anti-TNF", "anti-IL-17"],
                      "label": "Treatment", "required": True},
        "prior_biologic": {"type": "binary", "label": "Prior biologic"},
        "response": {"type": "binary", "label": "Response at week 12"},
    },
}
PATIENT = {"age": "57.5", "weight_kg": "81", "height_cm": "172", "smoking": "former",
           "treatment": "anti-IL-17", "prior_biologic": "1"}
REASON = "Calibration slope 0.41 is below 0.7."
CAUTION = ("The cohort (300 patients, 120 events) is smaller than Riley et al.'s minimum "
           "sample size for this model.")


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        message = ("Debian's chromium is not on PATH (apt-get install -y chromium); the "
                   "browser tests never let Playwright download a browser")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def training_frame(n: int = 300, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = np.round(rng.uniform(20, 80, n), 1)
    bmi = np.round(rng.uniform(18, 38, n), 1)
    smoking = rng.choice(["never", "former", "current"], n).astype(object)
    treatment = rng.choice(["anti-TNF", "anti-IL-17"], n).astype(object)
    prior = rng.integers(0, 2, n).astype(float)
    lp = (-0.5 + 0.03 * (age - 50) - 0.05 * (bmi - 27) - 0.7 * prior
          + 0.6 * (treatment == "anti-TNF") - 0.3 * (smoking == "current"))
    response = (rng.random(n) < 1 / (1 + np.exp(-lp))).astype(float)
    return pd.DataFrame({"pid": [f"T{i:03d}" for i in range(n)], "age": age, "bmi": bmi,
                         "smoking": smoking, "treatment": treatment, "prior_biologic": prior,
                         "response": response})


def fit(frame: pd.DataFrame) -> Pipeline:
    prep = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
         ["age", "bmi", "prior_biologic"]),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(handle_unknown="ignore")), ["smoking", "treatment"]),
    ])
    model = Pipeline([("prep", prep), ("clf", LogisticRegression(max_iter=1000))])
    return model.fit(frame[PREDICTORS], frame["response"].astype(int))


def bootstrap_refits(frame: pd.DataFrame, n: int = 25, seed: int = 5) -> list[Pipeline]:
    rng = np.random.default_rng(seed)
    return [fit(frame.iloc[rng.integers(0, len(frame), len(frame))]) for _ in range(n)]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("calculator")
    frame = training_frame()
    pipeline = fit(frame)
    for name, status, reasons, refits, cautions in [
            ("tiny", "fit-for-clinical-use", (), bootstrap_refits(frame), ()),
            ("tiny-gated", "not-for-clinical-use", (REASON,), None, ()),
            ("tiny-caution", "fit-for-clinical-use", (), None, (CAUTION,))]:
        make_study(root, name, SPEC)
        save_model(pipeline, load_study(name, root=root), model_name="logistic (test)",
                   metrics=None, training_frame=frame, status=status, status_reasons=reasons,
                   refits=refits, status_cautions=cautions)
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """An ASGI app served by uvicorn on 127.0.0.1 in a daemon thread."""

    def __init__(self, app):
        import uvicorn

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    access_log=False, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def servers(project):
    from analysis.app.calculator import create_app

    apps = {"fit": create_app("tiny", root=project),
            "gated": create_app("tiny-gated", root=project),
            "allowed": create_app("tiny-gated", root=project, allow_unvalidated=True),
            "caution": create_app("tiny-caution", root=project)}
    served = {key: Served(app) for key, app in apps.items()}
    for s in served.values():
        s.__enter__()
    yield {key: s.url for key, s in served.items()}
    for s in served.values():
        s.__exit__(None, None, None)


@pytest.fixture(scope="module")
def browser():
    path = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        message = "playwright is not installed (.venv/bin/pip install playwright)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def open_calculator(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("#calculate")
    page.wait_for_function("() => window.Shiny && window.Shiny.shinyapp "
                           "&& window.Shiny.shinyapp.isConnected()")


def enter(page, values: dict[str, str]) -> None:
    for name, value in values.items():
        selector = f"#in_{name}"
        if page.eval_on_selector(selector, "el => el.tagName") == "SELECT":
            page.select_option(selector, value)
        else:
            page.fill(selector, value)
            page.press(selector, "Tab")  # a number input reports its value on change
    page.wait_for_timeout(300)


def expected(project, name: str = "tiny", **kwargs) -> pd.Series:
    patient = {"pid": ["P1"], **{k: [v] for k, v in PATIENT.items()}}  # raw text, as in a CSV
    return predict_patients(name, pd.DataFrame(patient), root=project, **kwargs).iloc[0]


def test_displayed_probability_equals_predict_patients(servers, project, page):
    open_calculator(page, servers["fit"])
    assert page.inner_text("#study-title") == "Tiny calculator study"
    assert page.inner_text("#model-name") == "logistic (test)"
    assert page.locator("#status-banner").count() == 0
    enter(page, PATIENT)
    page.click("#calculate")
    shown = page.wait_for_selector("#probability")
    want = expected(project)
    got = float(shown.get_attribute("data-probability"))
    assert round(got, 3) == round(float(want["probability"]), 3)
    assert shown.inner_text() == f"{100 * want['probability']:.1f}%"
    # the 95% interval from the saved bootstrap refits, as analysis predict gives it
    assert want["ci_lower"] < want["ci_upper"]
    assert page.inner_text("#probability-interval") == (
        f"(95% CI {100 * want['ci_lower']:.1f}–{100 * want['ci_upper']:.1f}%)")
    # where the patient sits among the development cohort's predicted risks
    from analysis.app.form import risk_position
    from analysis.models.artifact import load_model

    _, meta = load_model(project / "reports" / "tiny" / "model")
    position = risk_position(float(want["probability"]), meta["training"]["risk_percentiles"])
    assert position and page.inner_text("#risk-position") == position


def test_treatment_options_are_listed_with_the_caveat(servers, project, page):
    open_calculator(page, servers["fit"])
    enter(page, PATIENT)
    page.click("#calculate")
    page.wait_for_selector("#options")
    want = expected(project)
    rows = page.locator("tr.option-row")
    assert rows.count() == 2
    for i, (option, column) in enumerate([("anti-TNF", "probability_anti_TNF"),
                                          ("anti-IL-17", "probability_anti_IL_17")]):
        row = rows.nth(i)
        assert row.get_attribute("data-option") == option
        cell = row.locator("td[data-probability]")
        assert round(float(cell.get_attribute("data-probability")), 3) == round(
            float(want[column]), 3)
    assert "observational comparison, not trial evidence" in page.inner_text("#caveat").lower()


def test_out_of_range_value_shows_the_message_and_no_probability(servers, page):
    open_calculator(page, servers["fit"])
    enter(page, PATIENT)
    page.click("#calculate")
    page.wait_for_selector("#probability")
    enter(page, {"age": "150"})
    page.click("#calculate")
    message = page.wait_for_selector("#message-in_age")
    assert "between 18 and 100 years" in message.inner_text()
    page.wait_for_selector("#form-invalid")
    assert page.locator("#probability").count() == 0


def test_required_choice_left_empty_is_named(servers, page):
    open_calculator(page, servers["fit"])
    enter(page, {**PATIENT, "treatment": ""})
    page.click("#calculate")
    assert "Treatment is required" in page.wait_for_selector("#message-in_treatment").inner_text()
    assert page.locator("#probability").count() == 0


def test_gated_model_shows_the_banner_and_no_probability(servers, page):
    open_calculator(page, servers["gated"])
    banner = page.inner_text("#status-banner")
    assert banner == f"Not for clinical use: {REASON}"
    enter(page, PATIENT)
    page.click("#calculate")
    assert "not for clinical use" in page.wait_for_selector("#result-error").inner_text()
    assert page.locator("#probability").count() == 0


def test_a_cautioned_model_shows_the_amber_banner_beside_its_probability(servers, page):
    open_calculator(page, servers["caution"])
    assert page.inner_text("#caution-banner") == f"Caution: {CAUTION}"
    assert page.locator("#status-banner").count() == 0
    enter(page, PATIENT)
    page.click("#calculate")
    page.wait_for_selector("#probability")
    open_calculator(page, servers["fit"])
    assert page.locator("#caution-banner").count() == 0


def test_allow_unvalidated_keeps_the_banner_and_shows_the_probability(servers, project, page):
    open_calculator(page, servers["allowed"])
    assert page.inner_text("#status-banner") == f"Not for clinical use: {REASON}"
    enter(page, PATIENT)
    page.click("#calculate")
    shown = page.wait_for_selector("#probability")
    want = expected(project, "tiny-gated", allow_unvalidated=True)
    assert round(float(shown.get_attribute("data-probability")), 3) == round(
        float(want["probability"]), 3)
    assert f"not for clinical use: {REASON}" in page.inner_text("#warnings")
    # saved without refits: no interval, and the page says why
    assert page.inner_text("#probability-interval") == "(95% CI not available)"
    assert "no 95% interval" in page.inner_text("#warnings")


def test_the_factors_that_moved_the_risk_most(servers, project, page):
    from analysis.app.calculator import FACTORS_HEADING
    from analysis.explain.factors import explain_patients

    open_calculator(page, servers["fit"])
    enter(page, PATIENT)
    page.click("#calculate")
    box = page.wait_for_selector("#risk-factors")
    assert FACTORS_HEADING in box.inner_text()
    patient = {"pid": ["P1"], **{k: [v] for k, v in PATIENT.items()}}
    _, factors = explain_patients("tiny", pd.DataFrame(patient), root=project, top=None)
    moved = factors[(100 * factors["contribution"]).abs() >= 0.05]  # not "+0.0 points"
    rows = page.locator("tr.factor-row")
    assert rows.count() == min(5, len(moved))
    for i in range(rows.count()):
        row, want = rows.nth(i), moved.iloc[i]
        assert row.get_attribute("data-predictor") == want["predictor"]
        assert row.locator("td.change").inner_text() == f"{100 * want['contribution']:+.1f} points"
    # ranked by absolute size
    shown = [abs(float(rows.nth(i).get_attribute("data-contribution")))
             for i in range(rows.count())]
    assert shown == sorted(shown, reverse=True)


def test_footer_and_model_card(servers, page):
    open_calculator(page, servers["fit"])
    assert page.inner_text("#not-stored") == "Nothing you enter is stored or logged."
    href = page.get_attribute("#model-card-link", "href")
    with urllib.request.urlopen(servers["fit"] + href, timeout=10) as response:
        card = response.read().decode("utf-8")
    assert "<h1>" in card and "logistic (test)" in card


def test_screenshot_of_the_calculator_is_a_page_sized_png(servers, browser, tmp_path):
    """The tool that refreshes docs/prediction-tool.png (`make screenshot`) works."""
    from analysis.app.screenshot import capture

    out = capture(servers["fit"], tmp_path / "calculator.png", browser=browser)
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width >= 1000 and height >= 600


def test_screenshot_of_a_gated_model_waits_for_the_probability_or_says_why_not(servers, browser,
                                                                                tmp_path):
    """The red banner is on the page from the start: the picture waits for the result."""
    from analysis.app.screenshot import capture

    def height(path):
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        return int.from_bytes(data[20:24], "big")

    out = capture(servers["allowed"], tmp_path / "allowed.png", browser=browser)
    form_only = capture(servers["allowed"], tmp_path / "form.png", browser=browser,
                        calculate=False)
    assert height(out) > height(form_only) + 100  # the result is in the picture
    page = browser.new_page()
    try:  # what the picture shows: the banner and, after Calculate, a probability
        page.goto(servers["allowed"])
        page.wait_for_function("() => window.Shiny && window.Shiny.shinyapp "
                               "&& window.Shiny.shinyapp.isConnected()")
        page.click("#calculate")
        page.wait_for_selector("#probability")
        assert page.locator("#status-banner").count() == 1
    finally:
        page.close()
    with pytest.raises(RuntimeError, match="shows no probability.*No probability is shown"):
        capture(servers["gated"], tmp_path / "gated.png", browser=browser)
