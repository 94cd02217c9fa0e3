"""The worker process: builds each case's tensors in one library (deepseek or torch), makes
the call and sends back an :class:`Outcome`. Runs until its input closes; the supervisor
(``pool``) restarts it after a crash or a hang.

Frames are an 8-byte length and a pickle, on stdin and on a private copy of stdout (the
process's own stdout goes to stderr so a stray print cannot corrupt the protocol).
``FUZZ_DIFF_PRELUDE=file.py`` runs a file first, with ``lib`` bound to the library module
(the tests use it to plant bugs). A device name as the second argument moves every input
tensor there (results come back through the CPU).
"""
from __future__ import annotations

import operator
import os
import pickle
import struct
import sys
import warnings

import numpy as np

from .case import Alias, Call, DType, Outcome, T, TV

_HEADER = struct.Struct("<Q")


class Library:
    """The few things the worker needs from a tensor library."""

    def __init__(self, name, device=None):
        self.name = name
        self.device = device or None
        if name == "torch":
            import torch

            self.mod = torch
            self.F = torch.nn.functional
        else:
            import deepseek

            self.mod = deepseek
            self.F = deepseek.nn.functional
        self.Tensor = self.mod.Tensor
        self.dtype_type = type(self.mod.float32)

    def dtype(self, name):
        return getattr(self.mod, name)

    def dtype_name(self, d):
        return str(d).split(".")[-1]

    def tensor(self, base, dtype):
        return self.mod.tensor(np.array(base, order="C", copy=True), dtype=self.dtype(dtype))

    def value(self, t):
        t = t.detach()
        name = self.dtype_name(t.dtype)
        data = (t.float() if name == "bfloat16" else t).cpu().numpy()
        return TV(name, tuple(int(s) for s in t.shape), np.array(data, copy=True))


def make_tensor(lib, t: T):
    x = lib.tensor(t.base, t.dtype)
    if lib.device:
        x = x.to(lib.device)
    if t.view == "transposed":
        return x.permute(*reversed(range(t.ndim)))
    if t.view == "sliced":
        return x[..., 1::2]
    if t.view == "expanded":
        return x.expand(*t.shape)
    if t.view == "flipped":
        return x.flip(-1)
    return x


def build(lib, obj, made):
    if isinstance(obj, T):
        if id(obj) not in made:
            made[id(obj)] = make_tensor(lib, obj)
        return made[id(obj)]
    if isinstance(obj, DType):
        return lib.dtype(obj.name)
    if isinstance(obj, list):
        return [build(lib, o, made) for o in obj]
    if isinstance(obj, tuple):
        return tuple(build(lib, o, made) for o in obj)
    if isinstance(obj, slice):
        return slice(build(lib, obj.start, made), build(lib, obj.stop, made), build(lib, obj.step, made))
    return obj


def _resolve_aliases(args, built):
    out = list(built)
    for i, a in enumerate(args):
        if isinstance(a, Alias):
            src = built[a.index]
            out[i] = {"same": lambda s: s, "transposed": lambda s: s.t(), "shifted": lambda s: s[1:]}[a.view](src)
    return out


def convert(lib, v):
    if isinstance(v, lib.Tensor):
        return lib.value(v)
    if isinstance(v, lib.dtype_type):
        return DType(lib.dtype_name(v))
    if isinstance(v, list):
        return [convert(lib, x) for x in v]
    if isinstance(v, tuple):
        return tuple(convert(lib, x) for x in v)
    if isinstance(v, (bool, int, float, str)) or v is None:
        return v
    if isinstance(v, np.generic):
        return v.item()
    return f"<{type(v).__name__}>"


def run_call(lib, call: Call) -> Outcome:
    made = {}
    try:
        args = _resolve_aliases(call.args, [build(lib, a, made) for a in call.args])
        kwargs = {k: build(lib, v, made) for k, v in call.kwargs.items()}
    except BaseException as e:  # noqa: BLE001 - building the inputs failed: not the op's fault
        if isinstance(e, KeyboardInterrupt):
            raise
        return Outcome("unavailable", message=f"building the inputs: {type(e).__name__}: {e}")
    try:
        if call.target == "fn":
            f = getattr(lib.mod, call.name)
        elif call.target == "F":
            f = getattr(lib.F, call.name)
        elif call.target == "method":
            f = getattr(args[0], call.name)
            args = args[1:]
        elif call.target == "operator":
            f = getattr(operator, call.name)
        elif call.target in ("getitem", "setitem"):
            f = None
        elif call.target == "grad":
            where, fname = call.name.split(".", 1)
            f = getattr(lib.F if where == "F" else lib.mod, fname)
        else:
            raise ValueError(call.target)
    except AttributeError as e:
        return Outcome("unavailable", message=str(e))
    first = build(lib, call.args[0], made) if call.args else None
    try:
        if call.target == "getitem":
            r = args[0][args[1]]
        elif call.target == "setitem":
            args[0][args[1]] = args[2]
            r = None
        elif call.target == "grad":
            r = _gradients(lib, f, args, kwargs)
        else:
            r = f(*args, **kwargs)
        value = convert(lib, r)
        after = convert(lib, first) if call.inplace or call.target == "setitem" else None
        return Outcome("ok", value=value, after=after)
    except BaseException as e:  # noqa: BLE001 - PanicException is a BaseException
        if isinstance(e, KeyboardInterrupt):
            raise
        return Outcome("raised", exc=tuple(c.__name__ for c in type(e).__mro__), message=str(e)[:500])


def _gradients(lib, f, args, kwargs):
    """The gradients of ``f(*args).sum()`` with respect to every float tensor argument
    (a tuple, zeros where none flowed)."""
    leaves = [a for a in args if isinstance(a, lib.Tensor) and a.is_floating_point()]
    for a in leaves:
        a.requires_grad_(True)
    out = f(*args, **kwargs)
    if isinstance(out, (tuple, list)):
        out = out[0]
    out.sum().backward()
    return tuple(a.grad if a.grad is not None else lib.mod.zeros_like(a) for a in leaves)


def _read_frame(f):
    head = f.read(_HEADER.size)
    if len(head) < _HEADER.size:
        return None
    (n,) = _HEADER.unpack(head)
    return pickle.loads(f.read(n))


def _write_frame(f, obj):
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    f.write(_HEADER.pack(len(data)) + data)
    f.flush()


def main(lib_name, device=None):
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    warnings.simplefilter("ignore")
    lib = Library(lib_name, device)
    prelude = os.environ.get("FUZZ_DIFF_PRELUDE")
    if prelude:
        with open(prelude) as fh:
            exec(compile(fh.read(), prelude, "exec"), {"lib": lib.mod, "__name__": "__fuzz_prelude__"})
    _write_frame(out, "ready")
    inp = sys.stdin.buffer
    while True:
        call = _read_frame(inp)
        if call is None:
            return
        _write_frame(out, run_call(lib, call))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
