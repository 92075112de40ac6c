"""Measurement: model loading, activation and attention-entropy capture, linear probes, model comparison."""
