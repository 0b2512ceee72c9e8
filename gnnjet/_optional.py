"""Optional dependencies, probed once; the rest of the code checks these flags instead of try/except."""

from importlib.util import find_spec

WITH_TORCH_CLUSTER = find_spec("torch_cluster") is not None
WITH_ONNX = all(find_spec(name) is not None for name in ("onnx", "onnxscript", "onnxruntime"))
