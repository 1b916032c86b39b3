"""Screenshot of the web calculator in headless Debian chromium (never a downloaded browser).

The report stage's picture of a study's calculator (``reports/<study>/figures/
prediction-tool.png``, taken by ``make`` before the report when chromium is installed and the
model passed the ship gate), ``make screenshot STUDY=...`` (the README's
``docs/prediction-tool.png``) and the browser test use it::

    python -m analysis.app.screenshot --study ibd-biologics --out docs/prediction-tool.png

Playwright (a ``dev`` dependency) drives Debian's ``chromium`` from PATH.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import threading
import time
from pathlib import Path

WIDTH, HEIGHT = 1100, 1400


def chromium() -> str:
    """Debian's chromium from PATH (``apt-get install -y chromium``)."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise SystemExit("chromium is not on PATH (apt-get install -y chromium)")
    return path


def why_not(study: str, root: Path | None = None) -> str | None:
    """Why no screenshot can be taken for ``study`` (None: it can)."""
    import importlib.util
    import json

    from analysis.study.paths import study_paths

    if shutil.which("chromium") is None and shutil.which("chromium-browser") is None:
        return "chromium is not on PATH (apt-get install -y chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install -e '.[dev]')"
    model_json = study_paths(study, root).model / "model.json"
    if not model_json.is_file():
        return f"no saved model ({model_json})"
    try:
        status = json.loads(model_json.read_text(encoding="utf-8")).get("status")
    except (OSError, ValueError):
        return f"unreadable {model_json}"
    if status == "not-for-clinical-use":
        return "the model did not pass the ship gate: no calculator is shown for it"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def capture(url: str, out: Path, *, browser=None, calculate: bool = True) -> Path:
    """Open the calculator at ``url``, press *Calculate* with the form's defaults (the
    cohort's reference patient) and save a full-page PNG to ``out``.

    ``browser``: a Playwright browser already launched (the tests'); default: launch
    Debian's chromium for this one picture.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if browser is None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            launched = p.chromium.launch(executable_path=chromium(), headless=True,
                                         args=["--no-sandbox"])
            try:
                return capture(url, out, browser=launched, calculate=calculate)
            finally:
                launched.close()
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(url)
        page.wait_for_selector("#calculate")
        page.wait_for_function("() => window.Shiny && window.Shiny.shinyapp "
                               "&& window.Shiny.shinyapp.isConnected()")
        if calculate:
            page.click("#calculate")
            # a probability, or the page's reason for showing none (the red banner of a gated
            # model is there from the start: it is not an answer)
            page.wait_for_selector("#probability, #form-invalid, #result-error")
            if page.locator("#form-invalid, #result-error").count():
                raise RuntimeError("the calculator shows no probability for the form's default "
                                   "patient: " + page.inner_text("#result").strip()[:300])
        # settled instead of a fixed pause: no output still greyed as recalculating, the
        # fonts loaded, and two frames painted
        page.wait_for_function("() => !document.querySelector('.recalculating') "
                               "&& document.fonts.status === 'loaded'")
        page.evaluate("() => new Promise(done => requestAnimationFrame("
                      "() => requestAnimationFrame(done)))")
        page.screenshot(path=str(out), full_page=True)
    finally:
        context.close()
    return out


def screenshot_study(study: str, out: Path, root: Path | None = None,
                     allow_unvalidated: bool = False) -> Path:
    """Serve ``study``'s calculator on a free local port and capture it.

    Chromium starts while the calculator loads its model and refits (seconds of CPU, in
    a thread of this process): the browser's start-up runs in its own processes meanwhile.
    """
    from playwright.sync_api import sync_playwright

    from analysis.app.calculator import create_app

    built: dict = {}

    def build() -> None:
        try:
            built["app"] = create_app(study, root=root, allow_unvalidated=allow_unvalidated)
        except BaseException as exc:  # re-raised in the calling thread
            built["error"] = exc

    loader = threading.Thread(target=build, daemon=True)
    loader.start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium(), headless=True,
                                        args=["--no-sandbox"])
            try:
                loader.join()
                if "error" in built:
                    raise built["error"]
                return _serve_and_capture(built["app"], out, browser)
            finally:
                browser.close()
    finally:
        loader.join()


def _serve_and_capture(app, out: Path, browser) -> Path:
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, access_log=False,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise SystemExit("the calculator did not start")
        time.sleep(0.05)
    try:
        return capture(f"http://127.0.0.1:{port}/", out, browser=browser)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", required=True)
    parser.add_argument("--out", type=Path, default=Path("docs/prediction-tool.png"))
    parser.add_argument("--allow-unvalidated", action="store_true")
    parser.add_argument("--if-possible", action="store_true",
                        help="say why and exit 0 when no screenshot can be taken (no chromium, "
                             "no playwright, no model, or a model that failed the ship gate); "
                             "an older screenshot of the study is then removed")
    args = parser.parse_args(argv)
    if args.if_possible:
        reason = why_not(args.study)
        if reason is None:
            try:
                path = screenshot_study(args.study, args.out,
                                        allow_unvalidated=args.allow_unvalidated)
            except Exception as exc:  # a picture must never stop the report
                reason = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
            else:
                print(f"wrote {path}")
                return
        Path(args.out).unlink(missing_ok=True)
        print(f"no calculator screenshot for {args.study}: {reason}")
        return
    path = screenshot_study(args.study, args.out, allow_unvalidated=args.allow_unvalidated)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
