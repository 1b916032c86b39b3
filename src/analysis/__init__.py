"""Clinical prediction models of treatment response: the project's helper package."""

__version__ = "0.1.0"
