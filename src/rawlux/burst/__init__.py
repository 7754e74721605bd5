"""Burst photography: align and merge a stack of raws into one cleaner raw (night mode).

``rawlux.burst.merge.merge_burst`` (also ``rawlux.merge_burst``) is the entry point;
``align`` holds the coarse-to-fine tile alignment, ``noise`` the noise model (DNG NoiseProfile or
an estimate from the frame).
"""
