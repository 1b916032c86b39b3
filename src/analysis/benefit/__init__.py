"""Treatment benefit: which option for which patient - risk-based (PATH) analysis of observational comparisons."""
