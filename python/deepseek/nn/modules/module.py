"""``nn.Module``: parameters, buffers and submodules registered by attribute assignment."""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterator

from ... import _core
from ..._core import Tensor
from ..._dtype import device as _device, to_dtype
from ..parameter import Buffer, Parameter


def _is_lazy(t):
    from ..parameter import is_lazy

    return is_lazy(t)


class _IncompatibleKeys(tuple):
    @property
    def missing_keys(self):
        return self[0]

    @property
    def unexpected_keys(self):
        return self[1]

    def __repr__(self):
        return f"<All keys matched successfully>" if not self[0] and not self[1] else f"_IncompatibleKeys(missing_keys={self[0]}, unexpected_keys={self[1]})"


class _Handle:
    def __init__(self, d, k):
        self.d, self.k = d, k

    def remove(self):
        self.d.pop(self.k, None)


class Module:
    """Base class for all layers and models, as ``torch.nn.Module``."""

    training: bool

    def __init__(self, *args, **kwargs):
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_hook_id", 0)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    def __call__(self, *args, **kwargs):
        for h in list(self._forward_pre_hooks.values()):
            r = h(self, args)
            if r is not None:
                args = r if isinstance(r, tuple) else (r,)
        out = self.forward(*args, **kwargs)
        for h in list(self._forward_hooks.values()):
            r = h(self, args, out)
            if r is not None:
                out = r
        return out

    # ---- registration ----
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            if isinstance(value, (Parameter, Module)):
                raise AttributeError("cannot assign parameters or modules before Module.__init__() call")
            object.__setattr__(self, name, value)
            return
        for d in (self._parameters, self._buffers, self._modules):
            if name in d and not isinstance(value, (Parameter, Module, Tensor)) and value is not None:
                del d[name]
        if isinstance(value, Parameter):
            self._buffers.pop(name, None)
            self._modules.pop(name, None)
            self.__dict__.pop(name, None)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._parameters.pop(name, None)
            self.__dict__.pop(name, None)
            self._modules[name] = value
        elif isinstance(value, Buffer):
            self.register_buffer(name, value.data, value.persistent)
        elif name in self._parameters:
            if value is not None and not isinstance(value, Parameter):
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' (deepseek.nn.Parameter or None expected)")
            self._parameters[name] = value
        elif name in self._buffers:
            self._buffers[name] = value
        elif name in self._modules:
            self._modules[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        d = self.__dict__
        for k in ("_parameters", "_buffers", "_modules"):
            if k in d and name in d[k]:
                return d[k][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for d in (self._parameters, self._buffers, self._modules):
            if name in d:
                del d[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter '{name}' (deepseek.nn.Parameter or None required)")
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' (deepseek.Tensor or None required)")
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)
        else:
            self._non_persistent.discard(name)

    def add_module(self, name, module):
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target):
        m = self
        for part in target.split(".") if target else []:
            m = getattr(m, part)
        return m

    def get_parameter(self, target):
        mod, _, name = target.rpartition(".")
        return getattr(self.get_submodule(mod), name)

    # ---- iteration ----
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        memo = set() if memo is None else memo
        if self in memo and remove_duplicate:
            return
        memo.add(self)
        yield prefix, self
        for name, m in self._modules.items():
            if m is None:
                continue
            yield from m.named_modules(memo, prefix + ("." if prefix else "") + name, remove_duplicate)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, m in self._modules.items():
            if m is not None and m not in seen:
                seen.add(m)
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, get, prefix="", recurse=True, remove_duplicate=True):
        seen = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mp, m in mods:
            for k, v in get(m):
                if v is None or (remove_duplicate and id(v) in seen):
                    continue
                seen.add(id(v))
                yield mp + ("." if mp else "") + k, v

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True) -> Iterator:
        return self._named_members(lambda m: m._parameters.items(), prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        return self._named_members(lambda m: m._buffers.items(), prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ---- state ----
    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """An ordered dict of every parameter and persistent buffer, keyed by dotted name."""
        out = OrderedDict() if destination is None else destination
        for k, p in self._parameters.items():
            if p is not None:
                out[prefix + k] = p if keep_vars else p.detach()
        for k, b in self._buffers.items():
            if b is not None and k not in self._non_persistent:
                out[prefix + k] = b if keep_vars else b.detach()
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(out, prefix + name + ".", keep_vars)
        return out

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copies values into parameters and buffers; reports missing and unexpected keys
        (an error when ``strict``) and raises on shape mismatches."""
        for prefix, m in self.named_modules():
            hook = getattr(type(m), "_lazy_load_hook", None)
            if hook is not None:  # lazy modules materialise what the checkpoint gives shapes for
                hook(m, state_dict, prefix + "." if prefix else "")
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        for k, v in state_dict.items():
            if k not in own:
                continue
            t = own[k]
            if _is_lazy(t) and _is_lazy(v):
                continue
            if not isinstance(v, Tensor):
                from ... import tensor as _tensor

                v = _tensor(v)
            if tuple(t.shape) != tuple(v.shape):
                errors.append(f"size mismatch for {k}: copying a param with shape {tuple(v.shape)} from checkpoint, the shape in current model is {tuple(t.shape)}.")
                continue
            prev = _core.set_grad_enabled(False)
            try:
                t.copy_(v)
            finally:
                _core.set_grad_enabled(prev)
        if strict and (missing or unexpected):
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors))
        return _IncompatibleKeys((missing, unexpected))

    # ---- modes and conversion ----
    def train(self, mode=True):
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.zero_()

    def apply(self, fn):
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def _apply(self, fn):
        for m in self.children():
            m._apply(fn)
        for k, p in self._parameters.items():
            if p is not None:
                new = fn(p)
                if new is not p:
                    self._parameters[k] = Parameter(new.detach(), p.requires_grad)
        for k, b in self._buffers.items():
            if b is not None:
                self._buffers[k] = fn(b)
        return self

    def to(self, *args, **kwargs):
        """to(device) / to(dtype): converts floating parameters and buffers."""
        from ..._tensor import _parse_to

        dt, dev = _parse_to(args, kwargs)
        if dt is not None:
            dt = to_dtype(dt)
            if not dt.is_floating_point:
                raise TypeError(f"nn.Module.to only accepts floating point dtypes, but got desired dtype={dt}")
        if dev is not None:
            from ..._tensor import _device_name

            dev = _device_name(dev)  # loads the backend, or raises saying why it can't
        if dt is None and dev is None:
            return self

        def convert(t):
            if dev is not None:
                t = t.to(dev)
            if dt is not None and t.dtype.is_floating_point:
                t = t.to(dt)
            return t

        return self._apply(convert)

    def cpu(self):
        """Moves every parameter and buffer to the CPU; returns ``self``."""
        return self.to("cpu")

    def cuda(self, device=None):
        """Moves every parameter and buffer to a CUDA device (the current one when None);
        returns ``self``. Raises a RuntimeError saying why when there is no such device."""
        from ..._tensor import _cuda_device

        return self.to(_cuda_device(device))

    def float(self):
        return self.to("float32")

    def double(self):
        return self.to("float64")

    def half(self):
        return self.to("float16")

    def bfloat16(self):
        return self.to("bfloat16")

    # ---- hooks ----
    def register_forward_hook(self, hook):
        object.__setattr__(self, "_hook_id", self._hook_id + 1)
        self._forward_hooks[self._hook_id] = hook
        return _Handle(self._forward_hooks, self._hook_id)

    def register_forward_pre_hook(self, hook):
        object.__setattr__(self, "_hook_id", self._hook_id + 1)
        self._forward_pre_hooks[self._hook_id] = hook
        return _Handle(self._forward_pre_hooks, self._hook_id)

    # ---- printing ----
    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        lines = []
        extra = self.extra_repr()
        for name, m in self._modules.items():
            r = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {r}")
        main = type(self).__name__ + "("
        if extra and not lines:
            return main + extra + ")"
        body = ([extra] if extra else []) + lines
        if not body:
            return main + ")"
        return main + "\n  " + "\n  ".join(body) + "\n)"

    def __dir__(self):
        return list(super().__dir__()) + list(self._parameters) + list(self._modules) + list(self._buffers)
