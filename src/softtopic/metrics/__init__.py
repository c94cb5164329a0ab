"""Metrics over one model-output file: pure functions of theta, topics and labels."""
