"""``deepseek.jit``: static graphs traced from eager code.

``trace`` records the primitive ops a function launches into the core's IR, optimises it
(constant folding, common subexpressions, dead code), plans its memory (one arena per device)
and runs it in one call into the core. ``save``/``load`` write and read it with its weights;
``freeze`` inlines an inference graph's weights (folding batch norms into convolutions);
``trace_train_step`` makes a whole training step one graph; ``deepseek.compile`` traces on
demand with guards. docs/graphs.md describes the IR's Python view.
"""
from ._compile import CompiledModule, compile
from ._freeze import freeze
from ._graph import Graph
from ._module import GraphModule
from ._serialize import FORMAT_VERSION, load, save
from ._trace import TracerWarning, trace
from ._train import TrainStep, trace_train_step

__all__ = ["trace", "freeze", "trace_train_step", "save", "load", "compile", "Graph", "GraphModule", "TracerWarning", "TrainStep",
           "CompiledModule", "FORMAT_VERSION"]
