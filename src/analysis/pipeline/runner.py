"""Run a notebook through Papermill as one transaction.

The executed notebook and every file the notebook writes through :mod:`analysis.study.io` are
committed only when every cell succeeds. On failure the executed copy is kept beside the
target as ``<name>.failed.ipynb`` for inspection, the failing cell's error is printed,
and nothing else changes.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from analysis.study.io import RUN_MANIFEST_ENV, commit_partials, discard_partials
from analysis.study.paths import ROOT_ENV, project_root

KERNEL_NAME = "imid-analysis"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


class NotebookFailed(RuntimeError):
    """A notebook cell raised; the message is the cell's error."""


def run_notebook(notebook: str | Path, output: str | Path, parameters: dict[str, Any] | None = None,
                 *, kernel: str = KERNEL_NAME, root: str | Path | None = None,
                 progress: bool | None = None) -> Path:
    """Execute ``notebook`` with ``parameters`` into ``output`` (committed only on success).

    Parameters
    ----------
    notebook, output : path
        Source notebook and where the executed copy goes.
    parameters : dict
        Injected after the cell tagged ``parameters``.
    kernel : str
        Registered Jupyter kernel (``make kernel`` registers ``imid-analysis``).
    root : path
        Project root; the kernel runs there with ``ANALYSIS_PROJECT_ROOT`` set.
    progress : bool
        Show a per-cell progress bar (default: when stderr is a terminal or not in CI).

    Raises
    ------
    NotebookFailed
        With the failing cell's error type, message and the path of the failed copy.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    notebook, output = Path(notebook), Path(output)
    root = Path(root).resolve() if root else project_root()
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, manifest = tempfile.mkstemp(prefix=".manifest-", suffix=".txt", dir=output.parent)
    os.close(fd)
    tmp_output = output.with_name(f".{output.stem}.running.ipynb")
    failed = output.with_name(f"{output.stem}.failed.ipynb")
    env_before = {k: os.environ.get(k) for k in (RUN_MANIFEST_ENV, ROOT_ENV, "MPLBACKEND")}
    os.environ[RUN_MANIFEST_ENV] = manifest
    os.environ[ROOT_ENV] = str(root)
    # the kernel's own inline backend renders figures into the notebook (and so the report)
    os.environ.pop("MPLBACKEND", None)
    # parallelism comes from joblib across folds and resamples; native thread pools inside
    # each process only oversubscribe the cores (OpenMP spin-waits made one gradient
    # boosting fit 200x slower on a loaded 2-core machine)
    for var in THREAD_VARIABLES:
        os.environ.setdefault(var, "1")
    if progress is None:
        progress = sys.stderr.isatty() or not os.environ.get("CI")
    try:
        pm.execute_notebook(
            str(notebook), str(tmp_output), parameters=parameters or {}, kernel_name=kernel,
            cwd=str(root), progress_bar=progress, log_output=False,
        )
    except PapermillExecutionError as exc:
        discard_partials(manifest)
        if tmp_output.exists():
            os.replace(tmp_output, failed)
        raise NotebookFailed(
            f"{notebook.name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}\n"
            f"(executed copy kept at {failed})"
        ) from exc
    except BaseException:
        discard_partials(manifest)
        tmp_output.unlink(missing_ok=True)
        raise
    else:
        commit_partials(manifest)
        os.replace(tmp_output, output)
        failed.unlink(missing_ok=True)
        return output
    finally:
        Path(manifest).unlink(missing_ok=True)
        for key, value in env_before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
