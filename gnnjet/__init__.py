"""gnnjet: particle-physics jets as PyTorch Geometric point clouds, for tagging and jet energy correction.

The Python API (`gnnjet.api`): ``gnnjet.validate_config(path_or_dict)``, ``gnnjet.train(config, inputs=...,
output=...)``, ``gnnjet.load_run(path).predict(jets)`` and ``gnnjet.load_ensemble([path, ...]).predict(jets)``.
They are imported on first use, so that importing any gnnjet module stays light (no torch until a model is needed).
"""

from typing import Any

__version__ = "0.1.0"
__all__ = ["Ensemble", "Run", "load_ensemble", "load_run", "train", "validate_config"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from gnnjet import api

        return getattr(api, name)
    raise AttributeError(f"module 'gnnjet' has no attribute {name!r}")
