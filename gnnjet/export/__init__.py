"""Exports of a trained run, one module per convention behind bin/export.py: gnnjet's packed-input ONNX (`onnx`),
weaver-core's state dict (`weaver`) and a Triton model repository around the ONNX file (`triton`)."""

from gnnjet.export.onnx import (
    DEFAULT_OPSET,
    ExportCheck,
    OnnxInterface,
    check_export,
    export_model,
    export_onnx,
    synthetic_batch,
)
from gnnjet.export.triton import export_triton
from gnnjet.export.weaver import export_weaver
from gnnjet.runs.onnx import INPUTS, onnx_inputs

__all__ = ["DEFAULT_OPSET", "INPUTS", "ExportCheck", "OnnxInterface", "check_export", "export_model", "export_onnx",
           "export_triton", "export_weaver", "onnx_inputs", "synthetic_batch"]
