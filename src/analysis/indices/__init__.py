"""Clinical indices and response definitions, one module per disease area.

* :mod:`~analysis.indices.crohns` — CDAI, HBI, SES-CD, intestinal ultrasound
* :mod:`~analysis.indices.colitis` — Mayo, partial and modified Mayo
* :mod:`~analysis.indices.rheumatoid` — DAS28, SDAI, CDAI (RA), EULAR/ACR, Boolean, D2T
* :mod:`~analysis.indices.lupus` — SLEDAI-2K, SRI-4, LLDAS, DORIS
* :mod:`~analysis.indices.pro` — HAQ-DI, IBDQ-32, SF-36 scales

Shared contract (see :mod:`analysis.indices._common`): scalar in gives scalar out,
arrays give arrays and Series give Series with the same index. Scores are floats
with NaN for missing. Yes/no rules use three-valued logic: ``True``/``False`` or
``pandas.NA`` for a scalar, a ``pandas.arrays.BooleanArray`` for an array and a
Series of the nullable ``"boolean"`` dtype for a Series; a result is ``NA`` only
when the missing inputs could change it. Category labels are ``str`` or ``None``.
Impossible inputs raise :class:`analysis.errors.IndexInputError`.

``INDEX_FUNCTIONS`` maps every public function name to the function, so that a
study configuration can derive outcomes by name.

Examples
--------
>>> INDEX_FUNCTIONS["cdai_response"](379.35, 270)
True
"""

from __future__ import annotations

from collections.abc import Callable

from analysis.indices import colitis, crohns, lupus, pro, rheumatoid

MODULES = (crohns, colitis, rheumatoid, lupus, pro)


def _registry() -> dict[str, Callable]:
    registry: dict[str, Callable] = {}
    for module in MODULES:
        for name in module.__all__:
            obj = getattr(module, name)
            if not callable(obj):
                continue
            if name in registry:  # a clash would make study.yaml ambiguous
                raise ImportError(f"index function name {name!r} defined twice")
            registry[name] = obj
    return registry


#: Every public index function by name.
INDEX_FUNCTIONS: dict[str, Callable] = _registry()

__all__ = ["INDEX_FUNCTIONS", "colitis", "crohns", "lupus", "pro", "rheumatoid"]
