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
    """load(f, map_location=None) -> GraphOnnxModule or OnnxModule

    Imports the ONNX model ``f`` for inference: the module of :func:`to_module` in eval mode,
    its parameters frozen (``requires_grad=False``), moved to ``map_location`` (a device or
    device string) when given. When every value the graph reads on the host (shapes, axes,
    bounds) comes from its initializers, constants and input shapes, it is returned behind
    ``deepseek.compile`` (a :class:`GraphOnnxModule`): each new input shape is traced once into a
    static graph that later calls run in one call into the core. Otherwise (a NonZero, a
    shape computed from input values) the plain :class:`OnnxModule` is returned.

    Example::

        >>> m = deepseek.onnx.load("resnet18.onnx", map_location="cpu")
        >>> logits = m(images)
    """
    m = OnnxModule(f)
    if map_location is not None:
        m = m.to(map_location)
    m.eval()
    for p in m.parameters():
        p.requires_grad_(False)
    if m.trace_safe:
        try:
            from .. import jit  # noqa: F401
        except ImportError:  # a build without static graphs
            return m
        return GraphOnnxModule(m)
    return m


class GraphOnnxModule:
    """An imported model run through ``deepseek.compile`` (see :func:`load`): called like its
    :class:`OnnxModule` (``.module``), whose attributes it forwards."""

    def __init__(self, module):
        self.module = module
        self.fallback = False  # set when a traced graph did not reproduce the module
        self._compile()

    def _compile(self):
        from .. import compile

        self._compiled = compile(self.module)

    def __call__(self, *args, **kwargs):
        import warnings

        from ..jit import TracerWarning

        from ._export import reproduces

        if kwargs:
            env = self.module._bind(args, kwargs)
            args = tuple(env[n] for n in self.module.input_names)
        if self.fallback:
            return self.module(*args)
        before = self._compiled.traces
        with warnings.catch_warnings():
            # the host reads are of shapes and constants only (checked on import): each traced
            # graph is exact for its input shapes, which the compile guards key on
            warnings.simplefilter("ignore", TracerWarning)
            out = self._compiled(*args)
            # a new input signature was traced: prove the graph on other values, since an op
            # the tracer does not record would have been frozen into it
            if self._compiled.traces != before and not reproduces(self._compiled, self.module, args):
                self.fallback = True
                warnings.warn("deepseek.onnx: the traced graph of this model does not reproduce it (an op "
                              "deepseek.jit does not record yet); running it node by node instead", RuntimeWarning)
        return out

    def to(self, *args, **kwargs):
        self.module.to(*args, **kwargs)
        self._compile()  # graphs bind the parameters they were traced with
        return self

    def __getattr__(self, name):
        return getattr(self.__dict__["module"], name)

    def __repr__(self):
        return f"GraphOnnxModule({self.module!r})"


__all__ = ["export", "to_module", "load", "OnnxModule", "GraphOnnxModule", "OnnxExporterError", "UnsupportedOperatorError",
           "SymbolicValueError"]
