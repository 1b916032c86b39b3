"""No patient-level value leaves the building: scan a study's rendered files for its ids.

Everything under ``reports/<study>/`` that a reader gets (the report in every format, the
manuscript source, the tables as CSV/HTML/DOCX, the figures' SVG text and index, the model
card) is searched for the values of the study's id column (study.yaml ``id``), read from the
processed cohort (or the raw table).  Ids are matched as whole tokens, so ``MSC-0001`` does
not match inside ``MSC-00012``; ids that are short plain numbers (``17``) cannot be told apart
from ordinary numbers in a table and are not searched (:func:`id_pattern` says how many).
Executed notebooks are working files, not rendered ones, and are not scanned.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis.errors import AnalysisError

#: a plain number with fewer digits than this is too ambiguous to search for
MIN_NUMERIC_ID_DIGITS = 6
_TEXT_SUFFIXES = (".html", ".csv", ".md", ".qmd", ".json", ".txt", ".svg", ".tex", ".typ")
_TOKEN_CHARS = r"A-Za-z0-9_\-"


@dataclass(frozen=True)
class Leak:
    """An id value found in a rendered file."""

    file: Path
    value: str


def study_ids(study) -> list[str]:
    """The values of the study's id column (processed cohort, else the raw table), as text.

    Raises :class:`~analysis.errors.AnalysisError` when the study has no ``id`` column or
    neither table exists.
    """
    if not study.id:
        raise AnalysisError(f"study {study.name!r} declares no id column (study.yaml `id`)")
    processed = study.paths.processed_cohort
    if processed.is_file():
        values = pd.read_parquet(processed, columns=[study.id])[study.id]
    elif study.data_path.is_file():
        from analysis.study.io import read_table

        values = read_table(study.data_path)[study.id]
    else:
        raise AnalysisError(f"no cohort of study {study.name!r} to read ids from: run `make data`")
    return sorted({str(v).strip() for v in values.dropna() if str(v).strip()})


def id_pattern(ids: Iterable[str]) -> tuple[re.Pattern | None, int]:
    """One regular expression matching any of ``ids`` as a whole token, and the number skipped.

    Examples
    --------
    >>> pattern, skipped = id_pattern(["MSC-0001", "17", "1234567"])
    >>> skipped, bool(pattern.search("id MSC-0001.")), bool(pattern.search("MSC-00012"))
    (1, True, False)
    """
    searchable, skipped = [], 0
    for value in ids:
        if value.isdigit() and len(value) < MIN_NUMERIC_ID_DIGITS:
            skipped += 1
        else:
            searchable.append(value)
    if not searchable:
        return None, skipped
    alternatives = "|".join(re.escape(v) for v in sorted(searchable, key=lambda v: (-len(v), v)))
    return re.compile(rf"(?<![{_TOKEN_CHARS}])(?:{alternatives})(?![{_TOKEN_CHARS}])"), skipped


def rendered_files(reports: Path) -> list[Path]:
    """The files of ``reports/<study>/`` a reader gets (every folder but ``notebooks/``)."""
    reports = Path(reports)
    return sorted(
        p for p in reports.rglob("*")
        if p.is_file() and "notebooks" not in p.relative_to(reports).parts[:1]
        and not p.name.startswith(".")
        and (p.suffix.lower() in _TEXT_SUFFIXES or p.suffix.lower() == ".docx")
    )


def file_text(path: Path) -> str:
    """The text of a rendered file (for a DOCX, the text of its XML parts, tags removed).

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "a.csv"; _ = p.write_text("id\\nA-1\\n")
    >>> file_text(p)
    'id\\nA-1\\n'
    """
    path = Path(path)
    if path.suffix.lower() == ".docx":
        with zipfile.ZipFile(path) as archive:
            parts = [archive.read(n).decode("utf-8", "replace") for n in archive.namelist()
                     if n.endswith(".xml")]
        # runs of one paragraph join without a gap (Word may split a word into runs);
        # paragraphs, cells and rows end a token
        return "\n".join(re.sub(r"<[^>]+>", "", re.sub(r"</w:(?:p|tc|tr)>", "\n", part))
                         for part in parts)
    return path.read_text(encoding="utf-8", errors="replace")


def scan_for_ids(files: Iterable[Path], ids: Iterable[str]) -> list[Leak]:
    """Every (file, id) where an id value appears as a whole token in a file.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp()); _ = (folder / "t.csv").write_text("n\\n12\\nIBD-0004\\n")
    >>> [leak.value for leak in scan_for_ids([folder / "t.csv"], ["IBD-0004", "12"])]
    ['IBD-0004']
    """
    pattern, _ = id_pattern(ids)
    if pattern is None:
        return []
    leaks = []
    for path in files:
        found = sorted(set(pattern.findall(file_text(path))))
        leaks += [Leak(Path(path), value) for value in found]
    return leaks


def scan_study(study) -> list[Leak]:
    """Scan every rendered file of a study for its id values (see the module docstring)."""
    return scan_for_ids(rendered_files(study.paths.reports), study_ids(study))
