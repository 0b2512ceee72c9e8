"""Optional dependencies, probed once; the rest of the code checks these flags instead of try/except."""

from importlib.util import find_spec

WITH_TORCH_CLUSTER = find_spec("torch_cluster") is not None
WITH_ONNX = find_spec("onnx") is not None and find_spec("onnxruntime") is not None
WITH_MPLHEP = find_spec("mplhep") is not None
