"""Evaluation: statistics (ROC, response, resolution) and the standard jet energy correction."""
