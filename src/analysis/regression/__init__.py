"""Regression: design matrices, logistic and linear fits, estimate tables, multiple imputation, splines, nonlinearity (notebook 04)."""
