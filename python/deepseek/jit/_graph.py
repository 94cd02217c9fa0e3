"""The Python view of a traced graph (``GraphModule.graph``): plain dicts over the core's IR,
stable for tools built on it (ONNX export). docs/graphs.md describes every field."""
from __future__ import annotations


class Graph:
    """A static graph of the core's primitive ops.

    ``nodes()``, ``values()``, ``inputs()`` and ``outputs()`` return plain Python data:

    * a node: ``{"kind": "launch" | "fused" | "elementwise" | "view", "op": "add", "attrs": {...},
      "inputs": [vid, ...], "outputs": [vid, ...], "mutates": [vid, ...]}`` — ``op`` is a name
      of the op table (``deepseek.backends.PRIMITIVE_OPS``) for launches, a fused CPU kernel's
      name for ``fused``, ``"elementwise"`` for a fused group of elementwise launches (its
      program in ``attrs``: ``ops``, ``args``, ``outputs``; docs/graphs.md), one of
      ``reshape``, ``permute``, ``expand``, ``as_strided`` for views; ``mutates`` lists the
      earlier versions of the buffers the node writes (an in-place write);
    * a value: ``{"id", "dtype", "shape", "strides", "offset", "buffer", "version",
      "alias_of", "role", "name"}`` with ``role`` one of ``"input"``, ``"state"``,
      ``"constant"``, ``"internal"`` and ``name`` the state's dotted name
      (``"layer1.0.conv1.weight"``) or None.

    Example::

        >>> g = deepseek.jit.trace(lambda x: (x * 2).sum(), (deepseek.ones(3),))
        >>> print(g.graph)            # one node a line
        >>> [n["op"] for n in g.graph.nodes()]
        ['mul', 'sum', ...]
    """

    def __init__(self, core_graph, state_tensors=None):
        self._g = core_graph
        self._state = state_tensors  # the GraphModule's named state, for state(vid)

    def print(self) -> str:
        """The graph as text, one node a line (also ``str(graph)``); returns the text."""
        text = self._g.print()
        print(text, end="")
        return text

    def __str__(self):
        return self._g.print()

    __repr__ = __str__

    def nodes(self) -> list:
        """Every node in execution order, as dicts (see the class docs)."""
        return self._g.nodes()

    def values(self) -> list:
        """Every value, indexed by id, as dicts (see the class docs)."""
        return self._g.values()

    def inputs(self) -> list:
        """The value ids of the user inputs, in call order."""
        return self._g.inputs()

    def outputs(self) -> list:
        """The value ids of the outputs, in the order the function returned them (flattened)."""
        return self._g.outputs()

    def buffers(self) -> list:
        """One dict per buffer: ``nbytes``, ``device``, ``role`` and the role's ``index``."""
        return self._g.buffers()

    def state_names(self) -> list:
        """The state's names (None for tensors captured from outside the traced function)."""
        return [name for name, _ in self._g.state_entries()]

    def constant(self, vid):
        """The tensor that constant value ``vid`` holds."""
        return self._g.constant(vid)

    def state(self, vid):
        """The tensor state value ``vid`` is bound to now (a view of the live tensor)."""
        from .._core import Tensor  # noqa: F401

        v = self._g.values()[vid]
        if v["role"] != "state":
            raise ValueError(f"graph.state: %{vid} is a {v['role']} value, not state")
        b = self._g.buffers()[v["buffer"]]
        base = self._state_tensor(b["index"])
        return base.as_strided(v["shape"], v["strides"], v["offset"])

    def _state_tensor(self, i):
        t = self._g.captured(i)
        if t is not None:
            return t
        return self._state[i]

    def memory_plan(self) -> dict:
        """The memory plan: ``arena_bytes`` per device, ``unplanned_bytes`` (every internal
        buffer with no reuse), ``live_peak_bytes`` (the least any arena could have) and
        ``in_place`` (pairs ``(buffer, input buffer)``: an elementwise result written over an
        input that dies at its node)."""
        arenas, unplanned, live, in_place = self._g.memory_plan()
        return {"arena_bytes": dict(arenas), "unplanned_bytes": unplanned, "live_peak_bytes": live, "in_place": in_place}
