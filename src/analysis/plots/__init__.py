"""Plots: every figure of the reports (matplotlib Figures, not saved; analysis.pipeline.export saves them)."""
