"""The arguments of ``analysis predict``, in a module that imports no model code.

``python -m analysis`` builds every sub-command's parser before it knows which one runs;
importing :mod:`analysis.models.predict` for that cost each of the 45 notebook runs of a
``make all`` a third of a second (pandas, scikit-learn, pandera).  The handler is imported
when ``predict`` runs (:mod:`analysis.pipeline.cli` passes a handler that imports it).
"""

from __future__ import annotations

import argparse

__all__ = ["add_predict_command", "predict_arguments"]


def predict_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``--study --input --output [--root] [--skip-invalid] [--allow-unvalidated]``.

    Examples
    --------
    >>> args = predict_arguments(argparse.ArgumentParser()).parse_args(
    ...     ["--study", "s", "--input", "a.csv", "--output", "b.csv"])
    >>> args.root, args.skip_invalid, args.allow_unvalidated
    (None, False, False)
    """
    parser.add_argument("--study", required=True,
                        help="study name (its model is in reports/<study>/model)")
    parser.add_argument("--input", required=True, help="patients table (CSV, XLSX or Parquet)")
    parser.add_argument("--output", required=True, help="CSV to write (atomically)")
    parser.add_argument("--root", default=None, help="project root (default: this project)")
    parser.add_argument("--skip-invalid", action="store_true",
                        help="score the valid rows and write the invalid ones with the broken "
                             "rule to <output stem>.rejected.csv (default: refuse the file)")
    parser.add_argument("--allow-unvalidated", action="store_true",
                        help="score with a model marked not-for-clinical-use (it failed the "
                             "ship gate; default: refuse it); every output row then says so "
                             "in 'warnings'")
    return parser


def add_predict_command(subparsers, handler) -> argparse.ArgumentParser:
    """Register the ``predict`` sub-command with ``handler`` as its ``func``.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
    handler : callable
        ``handler(args) -> int``: :func:`analysis.models.predict.run_predict`, or a function
        that imports it when called.

    Returns
    -------
    argparse.ArgumentParser

    Examples
    --------
    >>> parser = argparse.ArgumentParser(prog="analysis")
    >>> _ = add_predict_command(parser.add_subparsers(dest="command"), handler=len)
    >>> args = parser.parse_args(["predict", "--study", "s", "--input", "a.csv", "--output", "b.csv"])
    >>> args.command, args.func.__name__
    ('predict', 'len')
    """
    parser = subparsers.add_parser(
        "predict", help="score new patients with a study's saved model",
        description="Write predicted probabilities with their 95% intervals (ci_lower, "
                    "ci_upper: percentiles of the validation stage's bootstrap refits saved "
                    "with the model; empty, with a warning, for a model saved without them) "
                    "and the per-treatment-option probabilities for the patients in --input "
                    "to --output.")
    predict_arguments(parser)
    parser.set_defaults(func=handler)
    return parser
