"""Graph neural networks for jets: knn, shared blocks, the five model families and their registry."""
