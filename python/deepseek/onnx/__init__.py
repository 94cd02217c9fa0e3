"""ONNX import and export (``torch.onnx``'s names).

``to_module(f)`` imports an ONNX model as an ``nn.Module`` whose parameters are the model's
initializers, so it can be fine-tuned; ``load(f)`` imports it for inference on any backend;
``export(model, args, f, ...)`` writes a deepseek model as ONNX. Needs the ``onnx`` package
(``pip install 'deepseek[onnx]'``); ``python -m deepseek.onnx info model.onnx`` describes a file.
"""
from __future__ import annotations

from .errors import OnnxExporterError, SymbolicValueError, UnsupportedOperatorError  # noqa: F401
from ._module import OnnxModule
from ._export import export


def to_module(f):
    """to_module(f) -> OnnxModule

    Imports the ONNX model ``f`` (a path, a file object, bytes or an ``onnx.ModelProto``) as an
    ``nn.Module``. Its forward runs the graph node by node with deepseek ops, so gradients flow
    and it runs on any backend; float initializers become trainable parameters named as in the
    model (``dict(m.named_parameters())['fc.weight']``), integer ones buffers.

    Raises FileNotFoundError for a missing file, ValueError for a file that is not (or no longer
    entirely) ONNX, an unknown operator domain or a value nothing defines, and
    :class:`UnsupportedOperatorError` listing every op type deepseek cannot run.

    Example::

        >>> m = deepseek.onnx.to_module("mlp.onnx")
        >>> loss = m(x).sum(); loss.backward()
    """
    return OnnxModule(f)


def load(f, map_location=None):
    """load(f, map_location=None) -> OnnxModule

    Imports the ONNX model ``f`` for inference: the module of :func:`to_module` in eval mode,
    moved to ``map_location`` (a device or device string) when given.

    Example::

        >>> m = deepseek.onnx.load("resnet18.onnx", map_location="cpu")
        >>> logits = m(images)
    """
    m = OnnxModule(f)
    if map_location is not None:
        m = m.to(map_location)
    return m.eval()


__all__ = ["export", "to_module", "load", "OnnxModule", "OnnxExporterError", "UnsupportedOperatorError",
           "SymbolicValueError"]
