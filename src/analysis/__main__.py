"""``python -m analysis``: the command line (:mod:`analysis.pipeline.cli`)."""

from analysis.pipeline.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
