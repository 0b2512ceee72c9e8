"""gnnjet: particle-physics jets as PyTorch Geometric point clouds, for tagging and jet energy correction."""

__version__ = "0.1.0"
