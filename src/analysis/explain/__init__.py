"""Explain: permutation importance and Shapley contributions on the probability scale, for made-up typical profiles (notebook 06)."""
