"""The project's exceptions: one base class so callers can catch everything we raise."""


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
    lines = [f"{len(violations)} validation error(s):"]
    lines += [f"  - {v}" for v in violations]
    return "\n".join(lines)
