"""Reading raw tables and writing outputs atomically.

Outputs are never written in place: each file goes to a temporary sibling and is renamed
over the target, so a crash leaves the previous version or nothing, never half a file.
When a notebook runs under :mod:`analysis.pipeline.runner`, writes are additionally held back as
``*.partial`` files and committed only if the whole notebook succeeds.
"""

from __future__ import annotations

import contextlib
import csv
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from analysis.errors import StudyConfigError, shorten

if TYPE_CHECKING:
    import pandas as pd

RUN_MANIFEST_ENV = "ANALYSIS_RUN_MANIFEST"
PARTIAL_SUFFIX = ".partial"
NA_VALUES = ["", "NA", "N/A", "NaN", "nan", "NULL", "null", "None", "."]


def read_table(path: str | os.PathLike, *, as_text: bool = True) -> pd.DataFrame:
    """Read a CSV, XLSX or Parquet table.

    CSV and XLSX cells are read as text (``as_text``) so that type checks can name the
    exact cell that is not a number; Parquet keeps its stored types.

    Raises
    ------
    StudyConfigError
        If the file is missing, has an unknown extension or cannot be parsed; if a CSV holds
        a NUL byte (the parser would silently cut the cell there); or if a column name
        appears twice in the header (pandas would silently rename the second to ``age.1``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = f.write_text("a,b\\n1,x\\n")
    >>> read_table(f).loc[0, "a"]
    '1'
    """
    import pandas as pd  # here: the command line's parent process uses this module without it

    path = Path(path)
    if not path.is_file():
        raise StudyConfigError(f"data file not found: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix in {".csv", ".txt", ".tsv"}:
            sep = "\t" if suffix == ".tsv" else ","
            _check_no_nul(path)
            _check_header(path.name, _csv_header(path, sep))
            return pd.read_csv(
                path, sep=sep, dtype=str if as_text else None, na_values=NA_VALUES,
                keep_default_na=False, skipinitialspace=True,
            )
        if suffix in {".xlsx", ".xls"}:
            header = pd.read_excel(path, header=None, nrows=1, dtype=object)
            _check_header(path.name, [] if header.empty else header.iloc[0].tolist())
            return pd.read_excel(path, dtype=object if as_text else None)
        if suffix in {".parquet", ".pq"}:
            import pyarrow.parquet as pq

            _check_header(path.name, pq.read_schema(path).names)
            return pd.read_parquet(path)
    except StudyConfigError:
        raise
    except Exception as exc:  # the parser's own message is the useful part
        raise StudyConfigError(f"cannot read {path.name}: {type(exc).__name__}: {shorten(exc, 300)}") from exc
    raise StudyConfigError(
        f"unsupported data file type {suffix!r} for {path.name} (use .csv, .xlsx or .parquet)"
    )


def _check_no_nul(path: Path, chunk: int = 1 << 20) -> None:
    """Refuse a text table holding a NUL byte, naming its line."""
    line, offset = 1, 0
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            at = block.find(b"\x00")
            if at >= 0:
                line += block[:at].count(b"\n")
                raise StudyConfigError(
                    f"{path.name}: line {line} contains a NUL byte (byte {offset + at + 1}); "
                    "a text table cannot hold one: is this a binary file or a damaged export?")
            line += block.count(b"\n")
            offset += len(block)


def _csv_header(path: Path, sep: str) -> list[str]:
    with open(path, encoding="utf-8", newline="") as fh:
        return next(csv.reader(fh, delimiter=sep, skipinitialspace=True), [])


def _check_header(source: str, names) -> None:
    """Refuse a header naming a column twice (after stripping spaces), naming it.

    Examples
    --------
    >>> _check_header("t.csv", ["id", "age", " age"])
    Traceback (most recent call last):
    ...
    analysis.errors.StudyConfigError: t.csv: column 'age' appears more than once in the header (columns 2 and 3)
    """
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if name is None or (isinstance(name, float) and name != name):  # None or NaN
            continue
        key = str(name).strip()
        if key in seen:
            raise StudyConfigError(
                f"{source}: column {shorten(key)!r} appears more than once in the header "
                f"(columns {seen[key]} and {position})")
        seen[key] = position


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path; on success it replaces ``target`` in one rename.

    Under a notebook run (``$ANALYSIS_RUN_MANIFEST`` set) the file is kept as
    ``<target>.partial`` and listed in the manifest; the runner renames it into place
    only when the whole notebook has succeeded.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> with atomic_path(out) as tmp:
    ...     _ = tmp.write_text("done")
    >>> out.read_text()
    'done'
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        manifest = os.environ.get(RUN_MANIFEST_ENV)
        if manifest:
            partial = target.with_name(target.name + PARTIAL_SUFFIX)
            os.replace(tmp, partial)
            with open(manifest, "a", encoding="utf-8") as fh:
                fh.write(f"{partial}\n")
        else:
            os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_text(target: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``target`` atomically and return the path."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)


def write_bytes(target: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically and return the path."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def commit_partials(manifest: str | os.PathLike) -> list[Path]:
    """Rename every ``*.partial`` file listed in ``manifest`` onto its target."""
    done = []
    for partial in _manifest_entries(manifest):
        if partial.exists():
            target = partial.with_name(partial.name[: -len(PARTIAL_SUFFIX)])
            os.replace(partial, target)
            done.append(target)
    return done


def discard_partials(manifest: str | os.PathLike) -> list[Path]:
    """Delete every ``*.partial`` file listed in ``manifest`` (a failed run)."""
    gone = []
    for partial in _manifest_entries(manifest):
        if partial.exists():
            partial.unlink()
            gone.append(partial)
    return gone


def _manifest_entries(manifest: str | os.PathLike) -> list[Path]:
    path = Path(manifest)
    if not path.exists():
        return []
    return [Path(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
