"""Core types shared by every stage: image contract, params, registries, errors."""
