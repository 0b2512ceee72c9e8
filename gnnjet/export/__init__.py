"""Exports of a trained run, one module per convention behind bin/export.py: gnnjet's packed-input ONNX (`onnx`),
CMSSW's dense-input ONNX with weaver's preprocessing JSON (`cmssw`), weaver-core's state dict (`weaver`) and a
Triton model repository around an ONNX file (`triton`)."""

from gnnjet.export.cmssw import DenseLayout, check_cmssw, dense_inputs, export_cmssw, export_dense
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

__all__ = ["DEFAULT_OPSET", "INPUTS", "DenseLayout", "ExportCheck", "OnnxInterface", "check_cmssw", "check_export",
           "dense_inputs", "export_cmssw", "export_dense", "export_model", "export_onnx", "export_triton",
           "export_weaver", "onnx_inputs", "synthetic_batch"]
