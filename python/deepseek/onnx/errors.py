"""Exceptions of ``deepseek.onnx`` (PyTorch's ``torch.onnx.errors`` names)."""
from __future__ import annotations


class OnnxExporterError(RuntimeError):
    """Errors raised by the ONNX exporter."""


class UnsupportedOperatorError(OnnxExporterError):
    """An op the exporter cannot express in ONNX, or ONNX ops the importer cannot run; the
    message lists every one of them at once."""


class SymbolicValueError(OnnxExporterError):
    """A traced value that cannot be exported as asked (e.g. a shape constant that depends on a
    dynamic axis)."""
