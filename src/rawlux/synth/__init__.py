"""Synthetic test data made from spectral models (ColorChecker captures, spectral scenes)."""

import warnings

# colour-science warns at import that matplotlib (plotting) is absent; rawlux never plots.
warnings.filterwarnings("ignore", message='"Matplotlib" related API features are not available')
