"""Burst photography: align and merge a stack of raws into one cleaner raw (night mode).

``rawlux.burst.merge.merge_burst`` (also ``rawlux.merge_burst``) merges RawImages into a float32
normalised RawImage that the develop plan enters after black_level (files are opened by
``rawlux.app.night``);
``align`` holds the coarse-to-fine tile alignment, ``noise`` the noise model (DNG NoiseProfile or
an estimate from the frame).
"""
