"""Application layer: each command's work (open inputs, run, check outputs, save) and recipes."""
