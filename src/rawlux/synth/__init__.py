"""Synthetic test data made from spectral models (ColorChecker captures, spectral scenes)."""
