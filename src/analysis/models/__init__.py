"""Models: preprocessing, estimators, the model zoo, tuning, recalibration, the saved artifact and predict (notebooks 05, 06; the prediction tool)."""
