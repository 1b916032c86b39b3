"""Hostile notebook runs: hangs, signals, out-of-memory and broken invocations.

Each case names what was done, the expected exit status (or exception), a fragment of the
message, and the files that must not exist afterwards: a run that is stopped for any reason
leaves no ``*.partial`` file, no ``.running.ipynb`` copy, no run manifest and no kernel.
The cases that start a kernel carry the ``notebook`` marker and build a tiny notebook in
the test (a few seconds each).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from conftest import REPO

from analysis.errors import AnalysisError
from analysis.pipeline import cli
from analysis.pipeline.runner import (
    NotebookTimeout,
    run_notebook,
    run_timeout,
    sweep_stale_manifests,
)
from analysis.study.io import commit_partials

STOPPED_LEFTOVERS = ("t.csv", "t.csv.partial", ".run.running.ipynb", "run.ipynb")


def sleeper(folder: Path, body: str = "time.sleep(secs)") -> Path:
    """A notebook that records its kernel's pid and transport, writes ``t.csv`` through the
    run transaction (so ``t.csv.partial`` exists while it runs), then runs ``body``."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("secs = 0\nout = '.'")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        params,
        nbformat.v4.new_code_cell(
            "import os, time\n"
            "from pathlib import Path\n"
            "from ipykernel import get_connection_info\n"
            "from analysis.study.io import write_text\n"
            "Path(out, 'kernel.pid').write_text(str(os.getpid()))\n"
            "Path(out, 'transport.txt').write_text(get_connection_info(unpack=True)['transport'])\n"
            "write_text(Path(out, 't.csv'), 'a\\n1\\n')\n"
        ),
        nbformat.v4.new_code_cell(body),
    ]
    nb.metadata["kernelspec"] = {"name": "imid-analysis", "display_name": "imid-analysis",
                                 "language": "python"}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "sleeper.ipynb"
    nbformat.write(nb, path)
    return path


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting to be reaped counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def wait_gone(pid: int, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.1)
    return not alive(pid)


def leftovers(folder: Path) -> list[str]:
    names = {p.name for p in folder.iterdir()}
    found = [n for n in STOPPED_LEFTOVERS if n in names]
    return found + sorted(n for n in names if n.startswith(".manifest-"))


def cli_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANALYSIS_")}
    return {**env, "CI": "1", **extra}


def run_cli(folder: Path, *args: str, env: dict | None = None, timeout: float = 60):
    cmd = [sys.executable, "-m", "analysis", "run", str(folder / "sleeper.ipynb"),
           str(folder / "run.ipynb"), "--study", "x", "--root", str(folder),
           "-p", f"out={str(folder)!r}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env or cli_env(),
                          timeout=timeout, cwd=REPO)


# --------------------------------------------------------------------------------------
# no kernel needed
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "expected"), [
    (None, 3600.0), ("120", 120.0), (2.5, 2.5),
])
def test_run_timeout_default_and_values(value, expected, monkeypatch):
    monkeypatch.delenv("ANALYSIS_RUN_TIMEOUT", raising=False)
    assert run_timeout(value) == expected


def test_run_timeout_from_environment(monkeypatch):
    monkeypatch.setenv("ANALYSIS_RUN_TIMEOUT", "42")
    assert run_timeout() == 42.0


@pytest.mark.parametrize("bad", ["0", "-5", "nan", "inf", "soon", -1])
def test_run_timeout_rejects_non_positive_or_non_numeric(bad):
    with pytest.raises(AnalysisError, match="positive number of seconds"):
        run_timeout(bad)


def test_stale_manifest_of_a_dead_runner_is_swept_with_its_partials(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    partial = tmp_path / "tables" / "x.csv.partial"
    partial.parent.mkdir()
    partial.write_text("half")
    stale = tmp_path / f".manifest-{dead.pid}-abc.txt"
    stale.write_text(f"{partial}\n")
    mine = tmp_path / f".manifest-{os.getpid()}-def.txt"  # a live runner's: kept
    mine.write_text("")
    assert sweep_stale_manifests(tmp_path) == [stale]
    assert not stale.exists() and not partial.exists() and mine.exists()
    assert not (tmp_path / "tables" / "x.csv").exists()  # discarded, never committed
    assert commit_partials(stale) == []


# (name, argv, expected exit status, message fragment)
CLI_CASES = [
    ("missing notebook", ["run", "{tmp}/nope.ipynb", "{tmp}/o.ipynb", "--study", "x"], 2,
     "notebook not found"),
    ("unknown kernel", ["run", "{nb}", "{tmp}/o.ipynb", "--study", "x", "--kernel", "no-such-kernel"],
     2, "'no-such-kernel' is not installed"),
    ("zero timeout", ["run", "{nb}", "{tmp}/o.ipynb", "--study", "x", "--timeout", "0"], 2,
     "positive number of seconds"),
    ("nan timeout", ["run", "{nb}", "{tmp}/o.ipynb", "--study", "x", "--timeout", "nan"], 2,
     "positive number of seconds"),
    ("negative cell timeout", ["run", "{nb}", "{tmp}/o.ipynb", "--study", "x", "--cell-timeout", "-1"],
     2, "positive number of seconds"),
    ("unknown study", ["check", "--study", "no-such-study", "--root", "{tmp}"], 2, "no-such-study"),
]


@pytest.mark.parametrize(("name", "argv", "status", "fragment"), CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_input_errors_are_one_line_and_exit_2(name, argv, status, fragment, tmp_path, capsys):
    nb = sleeper(tmp_path)
    argv = [a.format(tmp=tmp_path, nb=nb) for a in argv]
    assert cli.main(argv) == status
    err = capsys.readouterr().err
    assert err.startswith("error: ") and fragment in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "o.ipynb").exists()
    assert not list(tmp_path.glob(".manifest-*")) and not list(tmp_path.glob("*.partial"))


@pytest.mark.parametrize(("raised", "status", "fragment"), [
    (MemoryError(), 3, "out of memory while running `analysis studies`"),
    (MemoryError("Unable to allocate 8.00 TiB"), 3, "(Unable to allocate 8.00 TiB)"),
    (KeyboardInterrupt(), 130, "interrupted; nothing was written"),
    (AnalysisError("line one\nline two"), 2, "error: line one | line two"),
])
def test_cli_reports_memory_errors_and_interrupts_in_words(raised, status, fragment, monkeypatch, capsys):
    def explode(args):
        raise raised

    monkeypatch.setattr(cli, "_cmd_studies", explode)
    assert cli.main(["studies"]) == status
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1


# --------------------------------------------------------------------------------------
# kernels
# --------------------------------------------------------------------------------------
@pytest.mark.notebook
def test_kernel_runs_over_ipc_and_a_stale_manifest_does_not_survive(tmp_path):
    sleeper(tmp_path)
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f".manifest-{dead.pid}-old.txt"  # left by a runner killed with SIGKILL
    (tmp_path / "old.csv.partial").write_text("half")
    stale.write_text(f"{tmp_path / 'old.csv.partial'}\n")
    proc = run_cli(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "TCP" not in proc.stderr and "encryption" not in proc.stderr
    assert (tmp_path / "transport.txt").read_text() == "ipc"
    assert (tmp_path / "t.csv").read_text() == "a\n1\n" and (tmp_path / "run.ipynb").exists()
    assert not stale.exists() and not (tmp_path / "old.csv.partial").exists()
    assert not list(tmp_path.glob(".manifest-*")) and not list(tmp_path.glob("*.partial"))
    assert wait_gone(int((tmp_path / "kernel.pid").read_text()))


@pytest.mark.notebook
def test_wall_clock_limit_stops_a_hanging_notebook_and_kills_its_kernel(tmp_path):
    nb = sleeper(tmp_path)
    start = time.monotonic()
    with pytest.raises(NotebookTimeout, match="exceeded the 8 s time limit"):
        run_notebook(nb, tmp_path / "run.ipynb", {"secs": 600, "out": str(tmp_path)},
                     root=tmp_path, progress=False, timeout=8)
    assert time.monotonic() - start < 8 + 10
    assert leftovers(tmp_path) == []
    pid_file = tmp_path / "kernel.pid"
    assert not pid_file.exists() or wait_gone(int(pid_file.read_text()))


# (name, extra CLI args, environment, cell body, exit status, message fragment)
KERNEL_CASES = [
    ("run limit from --timeout", ["-p", "secs=600", "--timeout", "8"], {}, "time.sleep(secs)", 1,
     "exceeded the 8 s time limit"),
    ("run limit from the environment", ["-p", "secs=600"], {"ANALYSIS_RUN_TIMEOUT": "8"},
     "time.sleep(secs)", 1, "exceeded the 8 s time limit"),
    ("cell limit", ["-p", "secs=600", "--cell-timeout", "3"], {}, "time.sleep(secs)", 1,
     "ran longer than its 3 s limit"),
    ("MemoryError without text", [], {}, "raise MemoryError()", 1,
     "MemoryError: out of memory while running this cell"),
]


@pytest.mark.notebook
@pytest.mark.parametrize(("name", "args", "env", "body", "status", "fragment"), KERNEL_CASES,
                         ids=[c[0] for c in KERNEL_CASES])
def test_stopped_runs_exit_clearly_and_leave_nothing(name, args, env, body, status, fragment, tmp_path):
    sleeper(tmp_path, body)
    start = time.monotonic()
    proc = run_cli(tmp_path, *args, env=cli_env(**env))
    assert time.monotonic() - start < 30
    assert proc.returncode == status, proc.stderr
    assert fragment in proc.stderr and "Traceback" not in proc.stderr
    assert leftovers(tmp_path) == []
    pid_file = tmp_path / "kernel.pid"
    assert not pid_file.exists() or wait_gone(int(pid_file.read_text()))


@pytest.mark.notebook
@pytest.mark.parametrize(("signum", "status", "fragment"), [
    (signal.SIGTERM, 143, "stopped by SIGTERM"),
    (signal.SIGINT, 130, "interrupted; nothing was written"),
], ids=["SIGTERM", "SIGINT"])
def test_signal_during_a_run_cleans_up_and_kills_the_kernel(signum, status, fragment, tmp_path):
    sleeper(tmp_path)
    cmd = [sys.executable, "-m", "analysis", "run", str(tmp_path / "sleeper.ipynb"),
           str(tmp_path / "run.ipynb"), "--study", "x", "--root", str(tmp_path),
           "-p", f"out={str(tmp_path)!r}", "-p", "secs=600"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=cli_env(), cwd=REPO)
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "t.csv.partial").exists():  # mid-run, with a partial written
            assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()[1]
            time.sleep(0.1)
        assert (tmp_path / ".run.running.ipynb").exists()
        assert list(tmp_path.glob(".manifest-*"))
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)  # generous: CI runs two heavy jobs at once
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == status, err
    assert fragment in err and "Traceback" not in err
    assert leftovers(tmp_path) == []
    assert wait_gone(int((tmp_path / "kernel.pid").read_text()))
