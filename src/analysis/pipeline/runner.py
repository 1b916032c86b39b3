"""Run a notebook through Papermill as one transaction.

The executed notebook and every file the notebook writes through :mod:`analysis.study.io` are
committed only when every cell succeeds. On failure the executed copy is kept beside the
target as ``<name>.failed.ipynb`` for inspection, the failing cell's error is printed,
and nothing else changes.

The kernel talks to the runner over IPC sockets in a private (0700) runtime folder, never
over TCP ports that any local user could reach. A run has a wall-clock limit
(``timeout``, default ``$ANALYSIS_RUN_TIMEOUT`` or :data:`DEFAULT_TIMEOUT` seconds) and each
cell the same limit unless ``cell_timeout`` is given. On a timeout, SIGTERM or SIGINT the
kernel's whole process group is killed and the partial outputs, the ``.running.ipynb`` copy
and the run manifest are removed. Manifests left behind by a runner that was killed outright
(SIGKILL) are swept, with their partial files, by the next run in the same folder.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from analysis.environment import MIN_CELL_COUNT_ENV
from analysis.errors import AnalysisError
from analysis.study.io import RUN_MANIFEST_ENV, commit_partials, discard_partials
from analysis.study.paths import ROOT_ENV, project_root

KERNEL_NAME = "imid-analysis"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
TIMEOUT_ENV = "ANALYSIS_RUN_TIMEOUT"
DEFAULT_TIMEOUT = 3600.0  # seconds for one notebook run
MANIFEST_PREFIX = ".manifest-"
_MANIFEST_PID = re.compile(rf"^{re.escape(MANIFEST_PREFIX)}(\d+)-")


class NotebookFailed(RuntimeError):
    """A notebook cell raised; the message is the cell's error."""


class NotebookTimeout(NotebookFailed):
    """A notebook run (or one of its cells) exceeded its time limit; nothing was written."""


class RunInterrupted(BaseException):
    """The run was stopped by a signal (SIGTERM, SIGINT); everything was cleaned up.

    A :class:`BaseException` like :class:`KeyboardInterrupt`, so no ``except Exception``
    in the notebook machinery swallows it; ``signum`` gives the exit status ``128 + signum``.
    """

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"stopped by {signal.Signals(signum).name}; partial outputs were removed")


def run_timeout(value: float | str | None = None) -> float:
    """The wall-clock limit of a notebook run in seconds.

    ``value`` if given, else ``$ANALYSIS_RUN_TIMEOUT``, else :data:`DEFAULT_TIMEOUT`.

    Raises
    ------
    AnalysisError
        If the limit is not a positive number.

    Examples
    --------
    >>> run_timeout(30)
    30.0
    >>> run_timeout("0")
    Traceback (most recent call last):
    ...
    analysis.errors.AnalysisError: the notebook time limit must be a positive number of seconds, got '0'
    """
    raw = os.environ.get(TIMEOUT_ENV) if value is None else value
    if raw is None or raw == "":
        return DEFAULT_TIMEOUT
    try:
        seconds = float(raw)
    except (TypeError, ValueError):
        seconds = float("nan")
    if not seconds > 0 or seconds == float("inf"):
        raise AnalysisError(
            f"the notebook time limit must be a positive number of seconds, got {str(raw)!r}"
        )
    return seconds


def sweep_stale_manifests(folder: str | Path) -> list[Path]:
    """Remove run manifests (and their partial files) whose runner process is gone.

    A runner killed outright (SIGKILL, power loss) cannot clean up after itself; its manifest
    names its process id, so the next run in the same folder can tell it is stale.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / ".manifest-999999999-x.txt").write_text("")
    >>> [p.name for p in sweep_stale_manifests(folder)]
    ['.manifest-999999999-x.txt']
    """
    removed = []
    for manifest in sorted(Path(folder).glob(f"{MANIFEST_PREFIX}*.txt")):
        match = _MANIFEST_PID.match(manifest.name)
        if match and _process_alive(int(match.group(1))):
            continue
        discard_partials(manifest)
        manifest.unlink(missing_ok=True)
        removed.append(manifest)
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's
        return True
    except OverflowError:
        return False
    return True


def run_notebook(notebook: str | Path, output: str | Path, parameters: dict[str, Any] | None = None,
                 *, kernel: str = KERNEL_NAME, root: str | Path | None = None,
                 progress: bool | None = None, timeout: float | None = None,
                 cell_timeout: float | None = None) -> Path:
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
    timeout : float
        Wall-clock limit of the whole run in seconds (default: see :func:`run_timeout`).
        Enforced with ``SIGALRM`` when called from the main thread; elsewhere only the
        per-cell limit applies.
    cell_timeout : float
        Limit of one cell in seconds (default: ``timeout``).

    Raises
    ------
    NotebookFailed
        With the failing cell's error type, message and the path of the failed copy.
    NotebookTimeout
        When the run or a cell exceeded its limit (the kernel is killed, nothing is kept).
    RunInterrupted
        On SIGTERM (SIGINT raises :class:`KeyboardInterrupt`), after cleaning up.

    Examples
    --------
    >>> run_notebook("notebooks/01-prepare-cohort.ipynb", "/tmp/01.ipynb",
    ...              {"study": "ibd-biologics"}, timeout=600)  # doctest: +SKIP
    """
    notebook, output = Path(notebook), Path(output)
    if not notebook.is_file():
        raise AnalysisError(f"notebook not found: {notebook}")
    timeout = run_timeout(timeout)
    cell_timeout = timeout if cell_timeout is None else run_timeout(cell_timeout)
    root = Path(root).resolve() if root else project_root()
    runtime = Path(tempfile.mkdtemp(prefix="analysis-kernel-"))  # 0700: private sockets
    km = _kernel_manager(kernel, runtime)
    output.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_manifests(output.parent)
    fd, manifest = tempfile.mkstemp(prefix=f"{MANIFEST_PREFIX}{os.getpid()}-", suffix=".txt",
                                    dir=output.parent)
    os.close(fd)
    tmp_output = output.with_name(f".{output.stem}.running.ipynb")
    failed = output.with_name(f"{output.stem}.failed.ipynb")
    env_before = {k: os.environ.get(k)
                  for k in (RUN_MANIFEST_ENV, ROOT_ENV, "MPLBACKEND", MIN_CELL_COUNT_ENV)}
    os.environ[RUN_MANIFEST_ENV] = manifest
    os.environ[ROOT_ENV] = str(root)
    # study.yaml privacy.min_cell_count: the kernel's table writers show small counts as "<n"
    os.environ.pop(MIN_CELL_COUNT_ENV, None)
    threshold = _study_min_cell_count((parameters or {}).get("study"), root)
    if threshold:
        os.environ[MIN_CELL_COUNT_ENV] = str(threshold)
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
        with _limits(notebook, timeout):
            _execute(notebook, tmp_output, parameters or {}, km, root, progress, cell_timeout)
    except _CellFailed as exc:
        _cleanup(km, runtime, manifest, None)
        _replace_quietly(tmp_output, failed)
        raise NotebookFailed(exc.message(notebook, failed)) from exc.__cause__
    except _CellTimedOut as exc:
        _cleanup(km, runtime, manifest, tmp_output)
        raise NotebookTimeout(
            f"{notebook.name}: a cell ran longer than its {cell_timeout:g} s limit; the kernel "
            "was stopped and no output was written"
        ) from exc.__cause__
    except _RunDeadline:
        _cleanup(km, runtime, manifest, tmp_output)
        raise NotebookTimeout(
            f"{notebook.name} exceeded the {timeout:g} s time limit of a notebook run "
            f"(--timeout / ${TIMEOUT_ENV}); the kernel was stopped and no output was written"
        ) from None
    except BaseException:
        _cleanup(km, runtime, manifest, tmp_output)
        raise
    else:
        _cleanup(km, runtime, None, None)
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


class _CellFailed(Exception):
    """A cell raised inside the kernel (wraps papermill's execution error)."""

    def __init__(self, exc):
        super().__init__(str(exc))
        self.exec_count, self.ename, self.evalue = exc.exec_count, exc.ename, exc.evalue

    def message(self, notebook: Path, failed: Path) -> str:
        evalue = self.evalue
        if self.ename == "MemoryError" and not str(evalue).strip():
            evalue = "out of memory while running this cell"
        return (f"{notebook.name} failed in cell {self.exec_count}: {self.ename}: {evalue}\n"
                f"(executed copy kept at {failed})")


class _CellTimedOut(Exception):
    """nbclient's per-cell timeout fired."""


class _RunDeadline(BaseException):
    """SIGALRM at the run's wall-clock limit (a BaseException: no ``except Exception`` in
    papermill or nbclient can swallow it)."""


def _kernel_manager(kernel: str, runtime: Path):
    """A kernel manager that talks to its kernel over IPC sockets inside ``runtime``."""
    from jupyter_client.kernelspec import NoSuchKernel
    from jupyter_client.manager import AsyncKernelManager

    km = AsyncKernelManager(kernel_name=kernel, transport="ipc",
                            connection_file=str(runtime / "kernel.json"))
    try:
        km.kernel_spec  # noqa: B018 - resolve the name now for a clear error
    except NoSuchKernel:
        shutil.rmtree(runtime, ignore_errors=True)
        raise AnalysisError(
            f"Jupyter kernel {kernel!r} is not installed: run `make kernel` or pass --kernel NAME"
        ) from None
    return km


def _execute(notebook: Path, tmp_output: Path, parameters: dict, km, root: Path,
             progress: bool, cell_timeout: float) -> None:
    import papermill as pm
    from nbclient.exceptions import CellTimeoutError
    from papermill.exceptions import PapermillExecutionError

    try:
        pm.execute_notebook(
            str(notebook), str(tmp_output), parameters=parameters, kernel_name=km.kernel_name,
            cwd=str(root), progress_bar=progress, log_output=False, km=km,
            execution_timeout=cell_timeout,
        )
    except PapermillExecutionError as exc:
        raise _CellFailed(exc) from exc
    except CellTimeoutError as exc:
        raise _CellTimedOut(str(exc)) from exc


@contextlib.contextmanager
def _limits(notebook: Path, timeout: float):
    """SIGTERM raises :class:`RunInterrupted`, SIGINT :class:`KeyboardInterrupt`; SIGALRM after
    ``timeout`` s a timeout."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_term(signum, frame):
        raise RunInterrupted(signum)

    def on_alarm(signum, frame):
        raise _RunDeadline

    def on_int(signum, frame):
        # Our own handler, so that asyncio (under nbclient) does not install its own, which
        # only cancels the running task on the first Ctrl-C and can leave the run waiting.
        raise KeyboardInterrupt

    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGALRM, signal.SIGINT)}
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_int)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        for signum, handler in before.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def _signals_deferred():
    """Hold SIGTERM/SIGINT/SIGALRM while cleaning up, so a second signal cannot cut it short."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {signal.SIGTERM, signal.SIGINT, signal.SIGALRM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _cleanup(km, runtime: Path, manifest: str | None, tmp_output: Path | None) -> None:
    """Kill the kernel (its whole process group), remove its sockets and the partial outputs."""
    with _signals_deferred():
        _kill_kernel(km)
        shutil.rmtree(runtime, ignore_errors=True)
        if manifest is not None:
            discard_partials(manifest)
        if tmp_output is not None:
            tmp_output.unlink(missing_ok=True)


def _kill_kernel(km) -> None:
    provisioner = getattr(km, "provisioner", None)
    process = getattr(provisioner, "process", None)
    if process is None:
        return
    # the kernel was started in a new session: its pid is its process group, which also
    # holds the joblib workers it started
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        process.kill()
    with contextlib.suppress(Exception):
        process.wait(timeout=10)


def _replace_quietly(source: Path, target: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.replace(source, target)


def _study_min_cell_count(study, root: Path) -> int | None:
    """``privacy.min_cell_count`` of the study a run is for (None when unset or unreadable:
    the notebook's own first cell then reports a broken study.yaml)."""
    if not study:
        return None
    from analysis.study.config import read_min_cell_count  # not load_study: no pandas here

    try:
        return read_min_cell_count(str(study), root)
    except AnalysisError:
        return None
