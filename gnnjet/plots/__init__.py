"""Matplotlib figures in HEP style: regression (JEC), classification (ROC), training curves, dataset."""
