"""Realistic jet samples: Pythia 8 events, FastJet jets and a parametric detector, written as ROOT ntuples."""
