"""Resampling past one machine: the CV and bootstrap fan-out on a Dask cluster.

Every resampling task of :mod:`analysis.validation.resampling` (one per model and outer
fold, one per bootstrap replicate) is seeded on its own and collected in order, so the
results do not depend on where the tasks run.  :func:`dask_backend` sends them to a Dask
cluster through joblib's Dask backend; :func:`resampling_backend` does so for every
resampling call when the environment variable ``ANALYSIS_DASK_SCHEDULER`` names a
scheduler (``tcp://host:8786``, or ``local`` for a local cluster), which is how
``make all`` and the notebooks reach a cluster without a code change.

Dask is an optional extra (``pip install -e '.[dask]'``); nothing else needs it.  The
workers must run the same environment (the ``analysis`` package and its pinned
dependencies), as with any Dask deployment.  See the README, "Running the resampling on a
cluster", for a SLURM set-up with ``dask-jobqueue``.

Examples
--------
>>> import os
>>> os.environ.pop(SCHEDULER_ENV, None) is None or True
True
>>> type(resampling_backend()).__name__   # no scheduler named: run locally
'nullcontext'
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import joblib

from analysis.errors import AnalysisError

__all__ = ["SCHEDULER_ENV", "dask_backend", "resampling_backend"]

#: Environment variable naming the Dask scheduler the resampling uses (``local``: start a
#: local cluster for the call).
SCHEDULER_ENV = "ANALYSIS_DASK_SCHEDULER"


def _distributed():
    try:
        from dask import distributed
    except ImportError:  # pragma: no cover - depends on the optional extra
        raise AnalysisError(
            "Dask is not installed: run `pip install -e '.[dask]'` (the optional extra) to "
            f"resample on a Dask cluster, or unset {SCHEDULER_ENV} to run locally"
        ) from None
    return distributed


@contextlib.contextmanager
def dask_backend(address: str | None = None, *, n_workers: int = 2) -> Iterator:
    """Run joblib work (the resampling tasks) on a Dask cluster inside the ``with`` block.

    Parameters
    ----------
    address : str, optional
        Scheduler address (``tcp://host:8786``).  ``None`` or ``"local"`` starts a
        :class:`dask.distributed.LocalCluster` of ``n_workers`` single-threaded worker
        processes for the block and closes it afterwards.
    n_workers : int, default 2
        Workers of the local cluster.

    Yields
    ------
    dask.distributed.Client

    Raises
    ------
    AnalysisError
        If Dask is not installed.

    Examples
    --------
    >>> from analysis.validation.resampling import bootstrap_optimism
    >>> with dask_backend("local") as client:                       # doctest: +SKIP
    ...     table = bootstrap_optimism(spec, X, y, n_boot=200, n_jobs=-1)
    """
    distributed = _distributed()
    cluster = None
    if address in (None, "", "local"):
        cluster = distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1,
                                           processes=True, dashboard_address=None)
        client = distributed.Client(cluster)
    else:
        client = distributed.Client(address)
    try:
        with joblib.parallel_config(backend="dask"):
            yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def resampling_backend():
    """The context resampling runs its tasks in: Dask if :data:`SCHEDULER_ENV` is set.

    Returns
    -------
    contextlib.AbstractContextManager
        :func:`dask_backend` of the named scheduler, or a do-nothing context (joblib's
        default or whatever backend the caller selected).
    """
    address = os.environ.get(SCHEDULER_ENV, "").strip()
    if not address:
        return contextlib.nullcontext()
    return dask_backend(address)
