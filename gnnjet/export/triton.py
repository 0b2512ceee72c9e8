"""A Triton Inference Server model repository around a run's ONNX export: ``REPO/NAME/1/model.onnx`` and
``REPO/NAME/config.pbtxt`` (the layout Triton, and CMS's SONIC clients of it, read), the config written with the
protobuf of `tritonclient` (ModelConfig) from the exported graph's own inputs and outputs.

Two input conventions. CMSSW's (`export.cmssw`, the default of bin/export.py --format triton) is batch-first: the
config declares max_batch_size and dynamic batching, every dims entry leaving out the batch axis (-1 for a
dynamic number of slots), and weaver's preprocess.json lies beside model.onnx for the client. gnnjet's packed
inputs (`runs.onnx`) count nodes, not jets, along their first axis: Triton's dynamic batcher cannot concatenate
requests along it, so that config says max_batch_size 0 (every request carries whole jets: a client batches them
itself) and gives every dynamic axis as -1.
"""

from __future__ import annotations

import re
from pathlib import Path

from gnnjet.errors import GnnjetError
from gnnjet.export.cmssw import JSON_NAME, export_cmssw
from gnnjet.export.onnx import DEFAULT_OPSET, export_onnx
from gnnjet.fileio import atomic_write_text, make_directory, refuse_to_clobber
from gnnjet.runs.run import Run

PLATFORM = "onnxruntime_onnx"
VERSION = "1"  # the model version directory of a new repository
CONVENTIONS = ("cmssw", "packed")
MAX_BATCH_SIZE = 1024  # jets per batch the dynamic batcher may form from requests (CMSSW's convention)


def model_config(onnx_file: str | Path, name: str, max_batch_size: int = 0) -> str:
    """config.pbtxt (protobuf text format of Triton's ModelConfig) naming the inputs and outputs of `onnx_file`
    with their Triton data types and dims (-1 for a dynamic axis). With `max_batch_size` > 0 the first axis of
    every tensor is the batch: it is left out of dims and requests are batched dynamically."""
    import onnx
    from google.protobuf import text_format

    try:
        from tritonclient.grpc import model_config_pb2
    except ImportError:
        raise GnnjetError("a Triton model repository needs the tritonclient package (pip install "
                          "'tritonclient[grpc]'; requirements-dev.txt and the Docker image have it)") from None
    graph = onnx.load(str(onnx_file), load_external_data=False).graph
    config = model_config_pb2.ModelConfig(name=name, platform=PLATFORM, max_batch_size=max_batch_size)
    if max_batch_size:
        config.dynamic_batching.SetInParent()
    for tensors, add in ((graph.input, config.input.add), (graph.output, config.output.add)):
        for tensor in tensors:
            entry = add()
            entry.name = tensor.name
            entry.data_type = _triton_type(model_config_pb2, tensor.type.tensor_type.elem_type, onnx_file)
            dims = [d.dim_value if d.HasField("dim_value") else -1 for d in tensor.type.tensor_type.shape.dim]
            entry.dims.extend(dims[1:] if max_batch_size else dims)
    return text_format.MessageToString(config)


def _triton_type(model_config_pb2, elem_type: int, onnx_file: str | Path) -> int:  # noqa: ANN001
    import onnx

    onnx_name = onnx.TensorProto.DataType.Name(elem_type)  # FLOAT, INT64, BOOL, ...
    triton_name = {"FLOAT": "TYPE_FP32", "DOUBLE": "TYPE_FP64", "INT64": "TYPE_INT64", "INT32": "TYPE_INT32",
                   "BOOL": "TYPE_BOOL", "FLOAT16": "TYPE_FP16"}.get(onnx_name)
    if triton_name is None:
        raise GnnjetError(f"{onnx_file}: a tensor of ONNX type {onnx_name} has no Triton data type here")
    return model_config_pb2.DataType.Value(triton_name)


def export_triton(model_dir: str | Path, repository: str | Path, *, name: str | None = None,
                  convention: str = "cmssw", opset: int = DEFAULT_OPSET, overwrite: bool = False,
                  trust_code: bool = False) -> Path:
    """Export the run into the Triton model repository `repository` as model `name` (default: the run
    directory's name) in input `convention` (module docstring); returns the model's directory. An existing model
    of that name is refused unless `overwrite`; nothing of the run is ever written over."""
    if convention not in CONVENTIONS:
        raise GnnjetError(f"Triton input convention {convention!r}: use one of {', '.join(CONVENTIONS)}")
    run = Run(Path(model_dir))
    name = name or run.path.resolve().name
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise GnnjetError(f"Triton model name {name!r}: use letters, digits, '_', '.' and '-' (--name)")
    model = Path(repository) / name
    onnx_file, config_file = model / VERSION / "model.onnx", model / "config.pbtxt"
    protected = run.files()
    outputs = (onnx_file, config_file) + ((onnx_file.parent / JSON_NAME,) if convention == "cmssw" else ())
    for path in outputs:
        refuse_to_clobber(path, protected=protected, overwrite=overwrite, what="Triton model file")
    make_directory(onnx_file.parent, "Triton model directory")
    if convention == "cmssw":
        export_cmssw(run.path, onnx_file, opset=opset, overwrite=True, trust_code=trust_code)
    else:
        export_onnx(run.path, onnx_file, opset=opset, overwrite=True, trust_code=trust_code)
    atomic_write_text(config_file, model_config(onnx_file, name, MAX_BATCH_SIZE if convention == "cmssw" else 0))
    return model
