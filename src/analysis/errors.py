"""The project's exceptions: one base class so callers can catch everything we raise."""

from dataclasses import dataclass

MAX_ECHO = 80  # longest value (id, cell, expression) echoed whole into an error message


def shorten(value, limit: int = MAX_ECHO) -> str:
    """``str(value)`` cut to ``limit`` characters with an ellipsis, for error messages.

    A hostile or broken input (a 2 MB id, a one-line expression of a megabyte) must not be
    echoed whole into a message or a log.

    Examples
    --------
    >>> shorten("x" * 100, limit=10)
    'xxxxxxxxx…'
    >>> shorten(42)
    '42'
    """
    text = str(value)
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def shorten_repr(value, limit: int = MAX_ECHO) -> str:
    """``repr(value)`` cut like :func:`shorten`.

    Examples
    --------
    >>> shorten_repr("abc")
    "'abc'"
    """
    return shorten(repr(value), limit)


class AnalysisError(ValueError):
    """Base class for every error the ``analysis`` package raises on bad input."""


class StudyConfigError(AnalysisError):
    """A study.yaml is missing, unreadable or malformed."""


class DataValidationError(AnalysisError):
    """The raw table breaks one or more rules of the study's codebook.

    Parameters
    ----------
    violations : list of Violation
        Every rule that failed, so that a user can fix them all in one go.
    """

    def __init__(self, violations, message=None):
        self.violations = list(violations)
        super().__init__(message or format_violations(self.violations))


class IndexInputError(AnalysisError):
    """An input to a clinical index is impossible (e.g. a negative count)."""


def format_violations(violations) -> str:
    """One line per violation under a count (each line capped at a few echoed values).

    Examples
    --------
    >>> print(format_violations(["column 'age': not a number"]))
    1 validation error(s):
      - column 'age': not a number
    """
    lines = [f"{len(violations)} validation error(s):"]
    lines += [f"  - {shorten(v, 12 * MAX_ECHO)}" for v in violations]
    return "\n".join(lines)


@dataclass(frozen=True)
class Violation:
    """One broken rule: which column, which rule, how many rows and which ones.

    Examples
    --------
    >>> str(Violation("age", "value above max 100", 2, ("P1", "P9")))
    "column 'age': value above max 100 (2 rows, e.g. P1, P9)"
    """

    column: str
    rule: str
    count: int = 0
    examples: tuple[str, ...] = ()

    def __str__(self) -> str:
        text = f"column {self.column!r}: {self.rule}" if self.column else self.rule
        if self.count:
            rows = "row" if self.count == 1 else "rows"
            text += f" ({self.count} {rows}"
            text += f", e.g. {', '.join(self.examples)})" if self.examples else ")"
        return text
