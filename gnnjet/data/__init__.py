"""ROOT ntuples -> columnar jets -> PyG Data / Batch (see DESIGN.md, "Data flow")."""

from gnnjet.data.dataset import JetDataset
from gnnjet.data.loader import JetLoader
from gnnjet.data.preprocess import Preprocessing
from gnnjet.data.spec import DataSpec

__all__ = ["DataSpec", "JetDataset", "JetLoader", "Preprocessing"]
