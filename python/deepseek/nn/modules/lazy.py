"""Lazy modules: ``LazyLinear``, ``LazyConv{1,2,3}d``, ``LazyConvTranspose{1,2,3}d``,
``LazyBatchNorm{1,2,3}d``, ``LazyInstanceNorm{1,2,3}d``.

Their parameters start as ``UninitializedParameter`` s; the first forward reads the input's
feature size, materialises them (the same objects, so an optimizer built before the first
call trains them, as in PyTorch), initialises them as the regular layer does, and turns the
module into that layer (``LazyLinear`` becomes ``Linear``). ``state_dict`` holds the
uninitialised parameters as they are; ``load_state_dict`` of real tensors materialises them
at the loaded shapes.
"""
from __future__ import annotations

import itertools

from ... import _core
from ..._core import Tensor
from ..parameter import UninitializedBuffer, UninitializedParameter, _MaterializedBuffer, is_lazy
from .extra import ConvTranspose1d, ConvTranspose3d, Conv3d, InstanceNorm1d, InstanceNorm2d, InstanceNorm3d, BatchNorm3d
from .layers import BatchNorm1d, BatchNorm2d, Conv1d, Conv2d, ConvTranspose2d, Linear

__all__ = ["LazyModuleMixin", "LazyLinear", "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d",
           "LazyConvTranspose2d", "LazyConvTranspose3d", "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d",
           "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d"]


def _no_grad():
    from ...autograd import no_grad

    return no_grad()


class LazyModuleMixin:
    """A mixin for modules whose parameters take their shapes from the first input.

    Until the first forward the module holds ``UninitializedParameter`` s; that call runs
    :meth:`initialize_parameters`, then the module becomes ``cls_to_become``. Convert the
    module's dtype and device before the first call (``to`` keeps parameters lazy).
    """

    cls_to_become = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        object.__setattr__(self, "_initialize_hook", self.register_forward_pre_hook(LazyModuleMixin._infer_parameters))

    def has_uninitialized_params(self):
        """Whether a parameter or buffer of this module is still uninitialised."""
        return any(is_lazy(t) for t in itertools.chain(self._parameters.values(), self._buffers.values()))

    def initialize_parameters(self, *args, **kwargs):
        """Gives the parameters their shapes from the forward's arguments."""
        raise NotImplementedError(f"initialize_parameters is not implemented for {type(self).__name__}")

    @staticmethod
    def _infer_parameters(module, args):
        module.initialize_parameters(*args)
        if module.has_uninitialized_params():
            raise RuntimeError(f"module {type(module).__name__} has not been fully initialized")
        module._finish_buffers()
        module._initialize_hook.remove()
        object.__delattr__(module, "_initialize_hook")
        if module.cls_to_become is not None:
            module.__class__ = module.cls_to_become

    def _finish_buffers(self):
        # a materialised buffer is an instance of a private Tensor subclass: store a plain
        # tensor over the same memory instead
        for k, b in list(self._buffers.items()):
            if type(b) is _MaterializedBuffer:
                self._buffers[k] = Tensor(b)

    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """As ``Module.state_dict``, with the uninitialised parameters and buffers themselves."""
        from collections import OrderedDict

        out = OrderedDict() if destination is None else destination
        for k, p in self._parameters.items():
            if p is not None:
                out[prefix + k] = p if (keep_vars or is_lazy(p)) else p.detach()
        for k, b in self._buffers.items():
            if b is not None and k not in self._non_persistent:
                out[prefix + k] = b if (keep_vars or is_lazy(b)) else b.detach()
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(out, prefix + name + ".", keep_vars)
        return out

    def _lazy_load_hook(self, state_dict, prefix):
        """Before ``load_state_dict``: materialises each uninitialised parameter or buffer that
        ``state_dict`` holds a real tensor for, at that tensor's shape."""
        for name, t in itertools.chain(self._parameters.items(), self._buffers.items()):
            key = prefix + name
            if t is not None and is_lazy(t) and key in state_dict and not is_lazy(state_dict[key]) \
                    and isinstance(state_dict[key], Tensor):
                with _no_grad():
                    t.materialize(tuple(state_dict[key].shape))
        self._finish_buffers()


# ---------------- linear ----------------

class LazyLinear(LazyModuleMixin, Linear):
    """LazyLinear(out_features, bias=True, device=None, dtype=None): a ``Linear`` whose
    ``in_features`` is the last dim of its first input.

        >>> m = deepseek.nn.LazyLinear(10)
        >>> m(deepseek.ones(4, 3)).shape, type(m).__name__
        ((4, 10), 'Linear')
    """

    cls_to_become = Linear

    def __init__(self, out_features, bias=True, device=None, dtype=None):
        super().__init__(0, 0, False, device, dtype)
        self.out_features = out_features
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input, *args, **kwargs):
        if self.has_uninitialized_params():
            if not isinstance(input, Tensor) or input.ndim < 1:
                raise ValueError(f"{type(self).__name__}: expected an input with at least 1 dim, got "
                                 f"{getattr(input, 'shape', type(input).__name__)}")
            with _no_grad():
                self.in_features = input.shape[-1]
                self.weight.materialize((self.out_features, self.in_features))
                if self.bias is not None:
                    self.bias.materialize((self.out_features,))
                self.reset_parameters()


# ---------------- convolutions ----------------

class _LazyConvXdMixin(LazyModuleMixin):
    _n = 2

    def _lazy_init(self, out_channels, bias, device, dtype):
        self.out_channels = out_channels
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.in_channels != 0:
            super().reset_parameters()

    def _get_in_channels(self, input):
        n = self._n
        if not isinstance(input, Tensor) or input.ndim not in (n + 1, n + 2):
            raise ValueError(f"Expected {n + 1}D (unbatched) or {n + 2}D (batched) input to {type(self).__name__}, but got "
                             f"input of size: {tuple(getattr(input, 'shape', ()))}")
        return input.shape[1] if input.ndim == n + 2 else input.shape[0]

    def initialize_parameters(self, input, *args, **kwargs):
        if self.has_uninitialized_params():
            in_channels = self._get_in_channels(input)
            if in_channels % self.groups != 0:
                raise ValueError(f"in_channels must be divisible by groups (got in_channels={in_channels}, "
                                 f"groups={self.groups})")
            with _no_grad():
                self.in_channels = in_channels
                g, k = self.groups, tuple(self.kernel_size)
                shape = ((in_channels, self.out_channels // g) if self.transposed
                         else (self.out_channels, in_channels // g)) + k
                self.weight.materialize(shape)
                if self.bias is not None:
                    self.bias.materialize((self.out_channels,))
                self.reset_parameters()


def _lazy_conv(name, base, n, transposed):
    if transposed:
        def __init__(self, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1, bias=True,
                     dilation=1, padding_mode="zeros", device=None, dtype=None):
            base.__init__(self, 0, 0, kernel_size, stride, padding, output_padding, groups, False, dilation, padding_mode,
                          device, dtype)
            self._lazy_init(out_channels, bias, device, dtype)
        sig = ("(out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1, bias=True, dilation=1, "
               "padding_mode='zeros', device=None, dtype=None)")
    else:
        def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                     padding_mode="zeros", device=None, dtype=None):
            base.__init__(self, 0, 0, kernel_size, stride, padding, dilation, groups, False, padding_mode, device, dtype)
            self._lazy_init(out_channels, bias, device, dtype)
        sig = ("(out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True, padding_mode='zeros', "
               "device=None, dtype=None)")

    def init(self, *args, **kwargs):
        __init__(self, *args, **kwargs)
        # the mixin's __init__ is skipped (the base takes positional arguments): its hook here
        object.__setattr__(self, "_initialize_hook", self.register_forward_pre_hook(LazyModuleMixin._infer_parameters))

    init.__name__ = "__init__"
    cls = type(name, (_LazyConvXdMixin, base), {
        "__init__": init, "cls_to_become": base, "_n": n, "__module__": __name__,
        "__doc__": f"{name}{sig}: a ``{base.__name__}`` whose ``in_channels`` is dim 1 of its first (batched) input."})
    return cls


LazyConv1d = _lazy_conv("LazyConv1d", Conv1d, 1, False)
LazyConv2d = _lazy_conv("LazyConv2d", Conv2d, 2, False)
LazyConv3d = _lazy_conv("LazyConv3d", Conv3d, 3, False)
LazyConvTranspose1d = _lazy_conv("LazyConvTranspose1d", ConvTranspose1d, 1, True)
LazyConvTranspose2d = _lazy_conv("LazyConvTranspose2d", ConvTranspose2d, 2, True)
LazyConvTranspose3d = _lazy_conv("LazyConvTranspose3d", ConvTranspose3d, 3, True)


# ---------------- normalisation ----------------

class _LazyNormBase(LazyModuleMixin):
    def _lazy_init(self, affine, track_running_stats, device, dtype):
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = UninitializedParameter(device=device, dtype=dtype)
            self.bias = UninitializedParameter(device=device, dtype=dtype)
        if track_running_stats:
            for k in ("running_mean", "running_var", "num_batches_tracked"):
                self.__dict__.pop(k, None)
            self.register_buffer("running_mean", UninitializedBuffer(device=device, dtype=dtype))
            self.register_buffer("running_var", UninitializedBuffer(device=device, dtype=dtype))
            self.register_buffer("num_batches_tracked", _core.zeros([], "int64"))

    def reset_parameters(self):
        if self.has_uninitialized_params() or self.num_features == 0:
            return
        with _no_grad():
            if self.track_running_stats:
                self.running_mean.zero_()
                self.running_var.fill_(1)
                self.num_batches_tracked.zero_()
            if self.affine:
                self.weight.fill_(1)
                self.bias.zero_()

    def initialize_parameters(self, input, *args, **kwargs):
        # without affine parameters or statistics nothing is lazy, but the layer still learns
        # its channel count (which the regular layer checks its inputs against)
        if self.has_uninitialized_params() or self.num_features == 0:
            if not isinstance(input, Tensor) or input.ndim < 2:
                raise ValueError(f"{type(self).__name__}: expected an input of at least 2 dims [N, C, *], got "
                                 f"{tuple(getattr(input, 'shape', ()))}")
            self.num_features = input.shape[1]
            with _no_grad():
                if self.affine:
                    self.weight.materialize((self.num_features,))
                    self.bias.materialize((self.num_features,))
                if self.track_running_stats:
                    self.running_mean.materialize((self.num_features,))
                    self.running_var.materialize((self.num_features,))
                self.reset_parameters()


def _lazy_norm(name, base, affine_default, track_default, unbatched_dims=None):
    def __init__(self, eps=1e-5, momentum=0.1, affine=affine_default, track_running_stats=track_default, device=None,
                 dtype=None):
        base.__init__(self, 0, eps, momentum, False, False, device, dtype)
        self._lazy_init(affine, track_running_stats, device, dtype)
        object.__setattr__(self, "_initialize_hook", self.register_forward_pre_hook(LazyModuleMixin._infer_parameters))

    def initialize_parameters(self, input, *args, **kwargs):
        # an unbatched instance-norm input [C, *] has its channels in dim 0
        if unbatched_dims is not None and isinstance(input, Tensor) and input.ndim == unbatched_dims:
            input = input.unsqueeze(0)
        _LazyNormBase.initialize_parameters(self, input)

    return type(name, (_LazyNormBase, base), {
        "__init__": __init__, "initialize_parameters": initialize_parameters, "cls_to_become": base,
        "__module__": __name__,
        "__doc__": (f"{name}(eps=1e-05, momentum=0.1, affine={affine_default}, track_running_stats={track_default}, "
                    f"device=None, dtype=None): a ``{base.__name__}`` whose ``num_features`` is dim 1 of its first input.")})


LazyBatchNorm1d = _lazy_norm("LazyBatchNorm1d", BatchNorm1d, True, True)
LazyBatchNorm2d = _lazy_norm("LazyBatchNorm2d", BatchNorm2d, True, True)
LazyBatchNorm3d = _lazy_norm("LazyBatchNorm3d", BatchNorm3d, True, True)
LazyInstanceNorm1d = _lazy_norm("LazyInstanceNorm1d", InstanceNorm1d, False, False, 2)
LazyInstanceNorm2d = _lazy_norm("LazyInstanceNorm2d", InstanceNorm2d, False, False, 3)
LazyInstanceNorm3d = _lazy_norm("LazyInstanceNorm3d", InstanceNorm3d, False, False, 4)
