"""Numbers in running text: estimates with their 95% CI, proportions, counts.

The tables use :func:`analysis.formatting.format_estimates` ("1.23 (1.10 to 1.40)"); the
sentences of the manuscript use the same "to" between the limits.
"""

from __future__ import annotations

import math

__all__ = ["estimate_with_ci", "is_number", "percent", "proportion_with_ci"]


def is_number(value) -> bool:
    """Whether ``value`` is a finite real number (text such as "0.5" counts).

    Examples
    --------
    >>> is_number(0.5), is_number("2"), is_number(float("nan")), is_number(None), is_number(True)
    (True, True, False, False, False)
    """
    if value is None or isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def estimate_with_ci(estimate, lower, upper, decimals: int = 2, *, level: str = "95% CI") -> str:
    """``"0.69 (95% CI 0.62 to 0.77)"``; without finite limits only the estimate.

    Examples
    --------
    >>> estimate_with_ci(0.6922, 0.6171, 0.7678)
    '0.69 (95% CI 0.62 to 0.77)'
    >>> estimate_with_ci(0.6922, float("nan"), None, 3)
    '0.692'
    >>> estimate_with_ci(None, 0.1, 0.2)
    'not estimable'
    """
    if not is_number(estimate):
        return "not estimable"
    text = f"{float(estimate):.{decimals}f}"
    if is_number(lower) and is_number(upper):
        text += f" ({level} {float(lower):.{decimals}f} to {float(upper):.{decimals}f})"
    return text


def percent(value, decimals: int = 1) -> str:
    """A proportion as a percentage.

    Examples
    --------
    >>> percent(0.325), percent(1), percent(None)
    ('32.5%', '100.0%', 'not estimable')
    """
    if not is_number(value):
        return "not estimable"
    return f"{100 * float(value):.{decimals}f}%"


def proportion_with_ci(events, n, lower, upper, decimals: int = 1) -> str:
    """``"26/40 (65.0%, 95% CI 48.3% to 79.4%)"``: a count, its percentage and CI.

    Examples
    --------
    >>> proportion_with_ci(26, 40, 0.48316, 0.79372)
    '26/40 (65.0%, 95% CI 48.3% to 79.4%)'
    >>> proportion_with_ci(0, 0, None, None)
    '0/0'
    """
    events, n = int(events), int(n)
    if n == 0:
        return f"{events}/{n}"
    text = f"{events}/{n} ({percent(events / n, decimals)}"
    if is_number(lower) and is_number(upper):
        text += f", 95% CI {percent(lower, decimals)} to {percent(upper, decimals)}"
    return text + ")"
