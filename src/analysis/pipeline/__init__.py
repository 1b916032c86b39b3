"""Pipeline: run notebooks through Papermill, export tables and figures, render reports, the command line."""

import sys


def skip_slow_optional_imports() -> None:
    """Keep ``jsonschema`` from importing ``rfc3987_syntax`` (Papermill -> nbformat -> jsonschema).

    ``rfc3987_syntax`` builds a Lark grammar when imported: about 1.4 s of CPU in every
    ``analysis run`` and ``analysis report`` process, for the ``iri`` / ``iri-reference``
    string formats of JSON Schema, which jsonschema registers only when the import succeeds
    and which no notebook schema uses (nbformat's schemas have no ``format`` keyword).
    Nothing changes when jsonschema was already imported.  Called when this package is
    imported, so before any of its modules imports Papermill or nbformat.

    Examples
    --------
    >>> skip_slow_optional_imports()
    >>> "rfc3987_syntax" in sys.modules
    True
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)


skip_slow_optional_imports()
