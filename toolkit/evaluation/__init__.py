"""Measuring the exported models on data they never trained on: `convlens eval photos`."""
