"""Graph neural networks for jets: knn, shared blocks, the model families (one per file in models/: ParticleNet,
GCN, GAT, DeepSets, the ParT-like transformer, MIParT, LorentzNet, L-GATr) and their registry."""
