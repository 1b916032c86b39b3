"""Describe: Table 1, missingness, correlation and visit summaries (notebooks 02, 03, 07)."""
