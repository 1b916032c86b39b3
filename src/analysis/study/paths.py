"""Where a study's inputs and outputs live.

Every notebook and command resolves files through :class:`StudyPaths`, so a user who keeps
the project elsewhere sets ``ANALYSIS_PROJECT_ROOT`` and nothing else changes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ROOT_ENV = "ANALYSIS_PROJECT_ROOT"


def project_root(start: str | os.PathLike | None = None) -> Path:
    """Return the project folder: ``$ANALYSIS_PROJECT_ROOT``, else the nearest parent with ``data/``.

    Examples
    --------
    >>> isinstance(project_root(), Path)
    True
    """
    env = os.environ.get(ROOT_ENV)
    if env:
        return Path(env).resolve()
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "data").is_dir() and (
            (folder / "notebooks").is_dir() or (folder / "pyproject.toml").is_file()
        ):
            return folder
    return here


#: Sub-folder of a model folder holding the benefit model (notebook 08), read by ``predict``.
BENEFIT_FOLDER = "benefit"


@dataclass(frozen=True)
class StudyPaths:
    """The folders of one study and the files that two stages share.

    Examples
    --------
    >>> p = StudyPaths("ibd-biologics", root=Path("/tmp/project"))
    >>> p.tables.as_posix()
    '/tmp/project/reports/ibd-biologics/tables'
    """

    study: str
    root: Path

    @property
    def folder(self) -> Path:
        return self.root / "data" / self.study

    @property
    def study_yaml(self) -> Path:
        return self.folder / "study.yaml"

    @property
    def raw(self) -> Path:
        return self.folder / "raw"

    @property
    def processed(self) -> Path:
        return self.folder / "processed"

    @property
    def processed_cohort(self) -> Path:
        return self.processed / "cohort.parquet"

    @property
    def processed_visits(self) -> Path:
        return self.processed / "visits.parquet"

    @property
    def oof_predictions(self) -> Path:
        """Out-of-fold predictions of every model (written by notebook 05, read by 06).

        Patient-level, so kept under ``processed/`` and out of the report.

        Examples
        --------
        >>> StudyPaths("s", root=Path("/p")).oof_predictions.as_posix()
        '/p/data/s/processed/oof_predictions.parquet'
        """
        return self.processed / "oof_predictions.parquet"

    @property
    def reports(self) -> Path:
        return self.root / "reports" / self.study

    @property
    def tables(self) -> Path:
        return self.reports / "tables"

    @property
    def figures(self) -> Path:
        return self.reports / "figures"

    @property
    def notebooks(self) -> Path:
        return self.reports / "notebooks"

    @property
    def model_comparison(self) -> Path:
        """The comparison table with the selected model (written by notebook 05, read by 06).

        Examples
        --------
        >>> StudyPaths("s", root=Path("/p")).model_comparison.name
        'model_comparison.csv'
        """
        return self.table("model_comparison")

    @property
    def model(self) -> Path:
        """The folder of the final model (written by notebook 06, read by ``predict``)."""
        return self.reports / "model"

    @property
    def benefit_model(self) -> Path:
        """The folder of the benefit model (written by notebook 08 inside the model folder).

        Examples
        --------
        >>> StudyPaths("s", root=Path("/p")).benefit_model.as_posix()
        '/p/reports/s/model/benefit'
        """
        return self.model / BENEFIT_FOLDER

    def table(self, name: str) -> Path:
        """The tidy CSV of the report table ``name`` (as written by ``save_table``).

        Examples
        --------
        >>> StudyPaths("s", root=Path("/p")).table("validation").as_posix()
        '/p/reports/s/tables/validation.csv'
        """
        return self.tables / f"{name}.csv"

    @property
    def report_html(self) -> Path:
        return self.reports / "report.html"


def study_paths(study: str, root: str | os.PathLike | None = None) -> StudyPaths:
    """Paths of ``study`` under ``root`` (default :func:`project_root`)."""
    return StudyPaths(study, Path(root).resolve() if root else project_root())


def list_studies(root: str | os.PathLike | None = None) -> list[str]:
    """Names of all studies, i.e. folders ``data/<study>/study.yaml``, sorted."""
    base = Path(root) if root else project_root()
    return sorted(p.parent.name for p in (base / "data").glob("*/study.yaml"))
