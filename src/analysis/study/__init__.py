"""Study: study.yaml, paths, reading raw tables, codebook checks, derived variables, the prepared cohort (notebook 01)."""
