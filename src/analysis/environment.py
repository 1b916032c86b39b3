"""Names of the environment variables through which a notebook run talks to its kernel.

A module of names only, so that ``python -m analysis run`` (the parent of every kernel)
can set them without importing pandas or any analysis code.
"""

#: Environment variable through which a notebook run carries study.yaml's
#: ``privacy.min_cell_count`` to the table writers (set by :mod:`analysis.pipeline.runner`).
MIN_CELL_COUNT_ENV = "ANALYSIS_MIN_CELL_COUNT"
