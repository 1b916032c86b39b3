"""Command line: ``python -m analysis <command>`` (also installed as ``analysis``).

Commands
--------
check   validate a study's raw table against its codebook (exit 2 on any violation)
data    write the deterministic demo cohort(s)
run     execute one notebook for one study through Papermill (atomic)
report  render reports/<study>/report.html|docx|pdf (Quarto, or the fallback)
predict score new patients with a study's saved model
app     serve the web calculator of a study's saved model (Shiny, 127.0.0.1:8000)
studies list the studies found under data/*/study.yaml

Exit status: 0 success; 1 a notebook failed or timed out; 2 a clear error about the input
(any :class:`~analysis.errors.AnalysisError`, printed as one line); 3 out of memory;
130 interrupted (Ctrl-C); 143 terminated (SIGTERM). Interrupted runs leave nothing
half-written.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from analysis.errors import AnalysisError, DataValidationError, shorten

MAX_MESSAGE = 2000  # longest error line printed (a hostile input must not flood the terminal)


def _cmd_check(args) -> int:
    from analysis.study.checks import check_study
    from analysis.study.config import load_study

    study = load_study(args.study, args.root)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_study(study)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    return 0


def _cmd_data(args) -> int:
    from analysis.study.paths import project_root
    from analysis.synthetic import GENERATORS, write_demo_cohort

    names = args.study or sorted(GENERATORS)
    root = Path(args.root).resolve() if args.root else project_root()
    for name in names:
        if name not in GENERATORS:
            raise AnalysisError(f"no demo generator for study {name!r} (known: {', '.join(sorted(GENERATORS))})")
        written = write_demo_cohort(name, root=root, n=args.n, seed=args.seed)
        for path in written:
            print(f"wrote {path.relative_to(root) if path.is_relative_to(root) else path}")
    return 0


def _cmd_run(args) -> int:
    from analysis.pipeline.runner import KERNEL_NAME, NotebookFailed, run_notebook, run_timeout

    parameters = {"study": args.study, "smoke": args.smoke}
    if args.seed is not None:
        parameters["seed"] = args.seed
    for item in args.param or []:
        key, _, value = item.partition("=")
        parameters[key] = _literal(value)
    kernel = args.kernel or KERNEL_NAME
    try:
        out = run_notebook(args.notebook, args.output, parameters, kernel=kernel, root=args.root,
                           timeout=run_timeout(args.timeout), cell_timeout=args.cell_timeout)
    except NotebookFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"executed {args.notebook} -> {out}")
    return 0


def _cmd_predict(args) -> int:
    from analysis.models.predict import run_predict

    return run_predict(args)


def _literal(text: str):
    """A -p value as int, float or bool when it looks like one, else the string."""
    import ast

    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _cmd_report(args) -> int:
    from analysis.pipeline.report import render_report
    from analysis.study.config import load_study

    study = load_study(args.study, args.root)
    path = render_report(study, fmt=args.format, force_fallback=args.fallback)
    print(f"wrote {path}")
    return 0


def _cmd_app(args) -> int:
    import os

    from analysis.app.calculator import serve

    allow = args.allow_unvalidated or os.environ.get("ALLOW_UNVALIDATED") == "1"
    print(f"serving the calculator of {args.study} on http://{args.host}:{args.port} "
          "(Ctrl-C to stop)")
    serve(args.study, root=args.root, host=args.host, port=args.port, allow_unvalidated=allow)
    return 0


def _cmd_studies(args) -> int:
    from analysis.study.paths import list_studies

    print("\n".join(list_studies(args.root)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="analysis", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("check", help="validate a study's raw data against its codebook")
    p.add_argument("--study", required=True)
    p.add_argument("--root", default=None, help="project root (default: this project)")
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser("data", help="write deterministic demo cohort(s)")
    p.add_argument("--study", action="append", help="demo study (repeatable; default: all)")
    p.add_argument("--n", type=int, default=None, help="number of patients (default: the profile's)")
    p.add_argument("--seed", type=int, default=None, help="seed (default: the profile's)")
    p.add_argument("--root", default=None, help="project root (default: this project)")
    p.set_defaults(func=_cmd_data)

    p = sub.add_parser("run", help="execute a notebook for a study through Papermill")
    p.add_argument("notebook")
    p.add_argument("output")
    p.add_argument("--study", required=True)
    p.add_argument("--seed", type=int, default=None, help="default: the study's seed")
    p.add_argument("--smoke", action="store_true", help="fast mode: few resamples, small grids")
    p.add_argument("--kernel", default=None)
    p.add_argument("--root", default=None)
    p.add_argument("-p", "--param", action="append", help="extra parameter key=value")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                   help="wall-clock limit of the run (default: $ANALYSIS_RUN_TIMEOUT or 3600)")
    p.add_argument("--cell-timeout", type=float, default=None, metavar="SECONDS",
                   help="limit of one cell (default: the run's limit)")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("report", help="render reports/<study>/report.html (or .docx / .pdf)")
    p.add_argument("--study", required=True)
    p.add_argument("--root", default=None)
    p.add_argument("--format", choices=("html", "docx", "pdf"), default="html",
                   help="report format (default html; pdf needs Quarto)")
    p.add_argument("--fallback", action="store_true", help="skip Quarto even if installed")
    p.set_defaults(func=_cmd_report)

    from analysis.models.predict_cli import add_predict_command  # no model code until it runs

    add_predict_command(sub, _cmd_predict)

    p = sub.add_parser("app", help="serve the web calculator of a study's saved model")
    p.add_argument("--study", required=True)
    p.add_argument("--root", default=None, help="project root (default: this project)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--allow-unvalidated", action="store_true",
                   help="show probabilities of a model marked not-for-clinical-use (the red "
                        "banner stays); also set by ALLOW_UNVALIDATED=1")
    p.set_defaults(func=_cmd_app)

    p = sub.add_parser("studies", help="list studies under data/")
    p.add_argument("--root", default=None)
    p.set_defaults(func=_cmd_studies)
    return parser


EXIT_INPUT_ERROR = 2
EXIT_OUT_OF_MEMORY = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT


def main(argv: list[str] | None = None) -> int:
    """Run one command; errors become one ``error: ...`` line on stderr and an exit status.

    Examples
    --------
    >>> main(["check", "--study", "no-such-study", "--root", "/nonexistent"])
    2
    """
    from analysis.pipeline.runner import RunInterrupted

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except DataValidationError as exc:  # one line per violation, under a count
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except AnalysisError as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except MemoryError as exc:
        detail = f" ({_one_line(exc)})" if str(exc).strip() else ""
        print(f"error: out of memory while running `analysis {args.command}`{detail}; "
              "try a smaller input or a machine with more memory", file=sys.stderr)
        return EXIT_OUT_OF_MEMORY
    except KeyboardInterrupt:
        print(f"error: `analysis {args.command}` interrupted; nothing was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except RunInterrupted as exc:
        print(f"error: `analysis {args.command}` {exc}", file=sys.stderr)
        return 128 + exc.signum


def _one_line(exc: BaseException) -> str:
    """The exception's message on one line (continuation lines joined with ' | ').

    Examples
    --------
    >>> _one_line(ValueError("first\\nsecond"))
    'first | second'
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return shorten(" | ".join(lines), MAX_MESSAGE) or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
