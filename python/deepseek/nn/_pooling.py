"""Max/average/adaptive pooling of ``nn.functional`` (1-D and 2-D) and the shape and padding
helpers the 3-D variants share; re-exported by ``nn.functional``."""
from __future__ import annotations

import math
import operator

import numpy as np

from .. import _core, _creation, _ops
from ._conv import _windows



# Every pooling op shares one geometry: _pool_params normalises the arguments, _pool_shape checks
# them and computes the output size exactly as PyTorch's pooling_output_shape does (ceil_mode
# included), and the composed paths pad the input by the extra ceil_mode room before sweeping it.

_TORCH_TYPE = {"bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int", "int64": "Long"}


def _pool_out(n, k, s, p, d, ceil_mode):
    room = n + 2 * p - d * (k - 1) - 1
    o = (-(-room // s) if ceil_mode else room // s) + 1
    if ceil_mode and (o - 1) * s >= n + p:
        o -= 1  # the last window must start inside the input or the left padding
    return o


def _pool_params(name, n, kernel_size, stride, padding, dilation=1):
    """(kernel, stride, padding, dilation) as n-tuples of ints; stride defaults to the kernel."""
    def ints(what, v):
        t = tuple(v) if isinstance(v, (tuple, list)) else (v,)
        if len(t) == 1:
            t = t * n
        if len(t) != n:
            raise RuntimeError(f"{name}: {what} must be a single int or a tuple of {n} ints, got {v}")
        try:
            return tuple(operator.index(e) for e in t)
        except TypeError:
            raise TypeError(f"{name}(): argument '{what}' must be a tuple of ints, got {v!r}") from None

    k = ints("kernel_size", kernel_size)
    empty = stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)
    return k, k if empty else ints("stride", stride), ints("padding", padding), ints("dilation", dilation)


def _pool_input(name, input, n):
    """PyTorch's input check: (n + 1)-D or batched (n + 2)-D, every dim but the batch non-empty."""
    if input.ndim not in (n + 1, n + 2) or 0 in tuple(input.shape)[input.ndim - n - 1:]:
        raise RuntimeError(
            f"{name}: expected a {n + 1}-D or {n + 2}-D (batch mode) tensor with possibly 0 batch size and other "
            f"non-zero dimensions for input, but got shape {list(input.shape)}"
        )


def _pool_shape(name, shape, k, s, p, d, ceil_mode):
    """The output sizes of a window sweep over the trailing len(k) dims of ``shape``, with
    PyTorch's checks (kernel, stride and dilation positive; padding at most half the kernel;
    an output of at least one window)."""
    def fail(why):
        raise RuntimeError(f"{name}: {why} (input shape {list(shape)}, kernel_size {k}, stride {s}, padding {p}, dilation {d})")

    if min(k) <= 0:
        fail("kernel size should be greater than zero")
    if min(s) <= 0:
        fail("stride should be greater than zero")
    if min(d) <= 0:
        fail("dilation should be greater than zero")
    if min(p) < 0:
        fail("pad must be non-negative")
    if any(pi > (di * (ki - 1) + 1) // 2 for ki, pi, di in zip(k, p, d)):
        fail("pad should be at most half of effective kernel size")
    if any(pi > ki // 2 for ki, pi in zip(k, p)):
        fail("pad should be smaller than or equal to half of kernel size")
    spatial = list(shape)[-len(k):]
    out = [_pool_out(L, *a, ceil_mode) for L, *a in zip(spatial, k, s, p, d)]
    if min(out) < 1:
        fail(f"calculated output size {out} is too small for input size {spatial}")
    return out


def _sweep_pad(x, k, s, p, d, out, value):
    """``x`` padded by ``p`` on both sides of each trailing dim, plus the room the last
    (ceil_mode) window needs on the right."""
    n = len(k)
    sizes = list(x.shape)[-n:]
    flat = []
    for i in reversed(range(n)):
        extra = max(0, (out[i] - 1) * s[i] + d[i] * (k[i] - 1) + 1 - (sizes[i] + 2 * p[i]))
        flat += [p[i], p[i] + extra]
    return _core.pad(x, flat, value) if any(flat) else x


def _lowest(dt):
    """The smallest value of ``dt``: the padding that never wins a max."""
    if dt.is_floating_point:
        return -math.inf
    return 0.0 if dt.name in ("bool", "uint8") else -float(2 ** (dt.itemsize * 8 - 1))


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """max_pool2d(input [N, C, H, W] or [C, H, W], kernel_size, stride=None, padding=0, dilation=1,
    ceil_mode=False, return_indices=False): the maximum over each window (NaN propagates); the
    gradient goes to the first maximum. Indices are flat positions in each input plane, as in PyTorch.

    Example::

        >>> F.max_pool2d(deepseek.arange(16.).reshape(1, 1, 4, 4), 3, 2, ceil_mode=True).shape
        deepseek.Size([1, 1, 2, 2])
    """
    k, s, p, d = _pool_params("max_pool2d", 2, kernel_size, stride, padding, dilation)
    _pool_input("max_pool2d", input, 2)
    out = _pool_shape("max_pool2d", input.shape, k, s, p, d, ceil_mode)
    if input.dtype.name == "bool":
        raise RuntimeError("\"max_pool2d\" not implemented for 'Bool'")
    if input.ndim == 3:
        r = max_pool2d(input.unsqueeze(0), k, s, p, d, ceil_mode, return_indices)
        return (r[0].squeeze(0), r[1].squeeze(0)) if return_indices else r.squeeze(0)
    H, W = input.shape[-2:]
    fits = all(L + 2 * pi >= di * (ki - 1) + 1 for L, ki, pi, di in zip((H, W), k, p, d))
    # a dilated window can miss the input entirely (every tap in the padding): PyTorch still
    # names a position for it, the first tap stepped past the left padding
    firsts = [_first_taps(L, ki, si, pi, di, o) for L, ki, si, pi, di, o in zip((H, W), k, s, p, d, out)]
    empty = ~np.logical_and.outer(firsts[0][1], firsts[1][1])
    if input._device == "cpu" and input.dtype.is_floating_point and fits and not empty.any():
        # without return_indices the kernel writes only the values (it still keeps the
        # indices when autograd needs them for the backward)
        v, i = _core.max_pool2d(input, k, s, p, d, bool(ceil_mode), bool(return_indices))
        return (v, i) if return_indices else v
    # other devices, integer dtypes and ceil_mode windows longer than the padded input: composed
    # from primitives (pad with the dtype's lowest value, strided views of every window offset,
    # max over their stack)
    low = _lowest(input.dtype)
    views, _ = _windows(_sweep_pad(input, k, s, p, d, out, low), k, s, d, 2, out)
    stacked = _ops.stack(views, dim=-1)
    v, i = _ops.max(stacked, dim=-1)
    if not return_indices:
        return v
    K = k[0] * k[1]
    rows = np.arange(out[0]).reshape(-1, 1, 1) * s[0] - p[0] + (np.arange(K) // k[1]) * d[0]
    cols = np.arange(out[1]).reshape(1, -1, 1) * s[1] - p[1] + (np.arange(K) % k[1]) * d[1]
    # a maximum equal to the padding value may tie with a padded position: PyTorch names the
    # first input element of the window then
    inside = _creation.tensor((rows >= 0) & (rows < H) & (cols >= 0) & (cols < W), device=input.device)
    first_inside = _ops.max(((stacked == v.unsqueeze(-1)) & inside).to("int32"), dim=-1)[1]
    i = _ops.where(v == low, first_inside, i)
    ki, kj = i // k[1], i % k[1]
    r0 = _creation.arange(out[0], device=input.device).reshape(-1, 1) * s[0] - p[0]
    c0 = _creation.arange(out[1], device=input.device).reshape(1, -1) * s[1] - p[1]
    idx = (r0 + ki * d[0]) * W + (c0 + kj * d[1])
    if empty.any():
        where = np.add.outer(firsts[0][0] * W, firsts[1][0])
        idx = _ops.where(_creation.tensor(empty, device=input.device), _creation.tensor(where, device=input.device), idx)
    return v, idx


def _first_taps(L, k, s, p, d, out):
    """Per output position along one dim: the first tap at or past 0 (PyTorch's advanced window
    start) and whether any tap of the window lands inside [0, L)."""
    starts = np.arange(out) * s - p
    first = np.where(starts < 0, starts + (-starts + d - 1) // d * d, starts)
    return first, first <= np.minimum(starts + d * (k - 1), L - 1)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """max_pool1d(input [N, C, L] or [C, L], kernel_size, stride=None, padding=0, dilation=1,
    ceil_mode=False, return_indices=False): max_pool2d over a plane of height 1 (indices are
    positions along L)."""
    k, s, p, d = _pool_params("max_pool1d", 1, kernel_size, stride, padding, dilation)
    _pool_input("max_pool1d", input, 1)
    _pool_shape("max_pool1d", input.shape, k, s, p, d, ceil_mode)
    r = max_pool2d(input.unsqueeze(-2), (1,) + k, (1,) + s, (0,) + p, (1,) + d, ceil_mode, return_indices)
    return (r[0].squeeze(-2), r[1].squeeze(-2)) if return_indices else r.squeeze(-2)


def _avg_pool(name, input, n, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    """The mean over each window of the trailing ``n`` dims. As in PyTorch a window is clipped at
    the end of input + padding; its divisor is ``divisor_override`` if given, else the clipped
    window's size (``count_include_pad``) or the number of input elements in it."""
    k, s, p, d = _pool_params(name, n, kernel_size, stride, padding)
    _pool_input(name, input, n)
    out = _pool_shape(name, input.shape, k, s, p, d, ceil_mode)
    if divisor_override is not None and operator.index(divisor_override) == 0:
        raise RuntimeError(f"{name}: divisor must be not zero")
    dt = input.dtype
    if not dt.is_floating_point and dt.name != "int64":
        raise RuntimeError(f"\"{name}\" not implemented for '{_TORCH_TYPE[dt.name]}'")
    # narrow floats accumulate in float32, as PyTorch's kernels do
    x = input.float() if dt.is_floating_point and dt.itemsize < 4 else input
    views, _ = _windows(_sweep_pad(x, k, s, p, d, out, 0.0), k, s, d, n, out)
    total = views[0]
    for v in views[1:]:
        total = total + v
    if divisor_override is not None:
        div = operator.index(divisor_override)
    else:
        counts = []
        for L, ki, si, pi, o in zip(list(input.shape)[-n:], k, s, p, out):
            starts = np.arange(o) * si - pi
            ends = np.minimum(starts + ki, L + pi)
            counts.append(ends - starts if count_include_pad else np.minimum(ends, L) - np.maximum(starts, 0))
        div = counts[0]
        for c in counts[1:]:
            div = np.multiply.outer(div, c)
        div = int(div.flat[0]) if (div == div.flat[0]).all() else _creation.tensor(div, dtype=x.dtype, device=input.device)
    if not dt.is_floating_point:
        return _ops.div(total, div, rounding_mode="trunc")  # integer division, as PyTorch's Long kernel
    return (total / div).to(dt)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """avg_pool1d(input [N, C, L] or [C, L], kernel_size, stride=None, padding=0, ceil_mode=False,
    count_include_pad=True): the mean over each window."""
    return _avg_pool("avg_pool1d", input, 1, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None):
    """avg_pool2d(input [N, C, H, W] or [C, H, W], kernel_size, stride=None, padding=0,
    ceil_mode=False, count_include_pad=True, divisor_override=None): the mean over each window.

    Example::

        >>> F.avg_pool2d(deepseek.ones(1, 1, 3, 3), 2, ceil_mode=True)
        tensor([[[[1., 1.],
                  [1., 1.]]]])
    """
    return _avg_pool("avg_pool2d", input, 2, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


def _adaptive_bins(n_in, n_out):
    return [((i * n_in) // n_out, -(-((i + 1) * n_in) // n_out)) for i in range(n_out)]


def _adaptive_sizes(name, input, output_size, n):
    """The checked output sizes (None keeps the input's size) of an adaptive pool."""
    if input.ndim not in (n + 1, n + 2):
        raise RuntimeError(f"{name}(): Expected {n + 1}D or {n + 2}D tensor, but got {list(input.shape)}")
    spatial = list(input.shape)[-n:]
    for i, L in enumerate(spatial):
        if L == 0:
            raise RuntimeError(
                f"{name}(): Expected input to have non-zero size for non-batch dimensions, but input has sizes "
                f"{list(input.shape)} with dimension {input.ndim - n + i} being empty"
            )
    sizes = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * n
    if len(sizes) != n:
        raise RuntimeError(f"{name}(): output_size must have {n} elements, got {output_size}")
    sizes = [L if o is None else operator.index(o) for o, L in zip(sizes, spatial)]
    if min(sizes) < 0:
        raise RuntimeError(f"{name}(): Trying to create tensor with negative dimension: output_size {sizes}")
    return sizes


def _empty_pool(input, sizes):
    """An empty result of shape [..., *sizes] that stays in ``input``'s graph."""
    x = input
    for dim in range(input.ndim - len(sizes), input.ndim):
        x = _core.slice(x, dim, 0, 0, 1)
    return x.reshape(list(input.shape)[: input.ndim - len(sizes)] + list(sizes))


def _adaptive_avg_pool(name, input, output_size, n):
    sizes = _adaptive_sizes(name, input, output_size, n)
    if 0 in sizes:
        return _empty_pool(input, sizes)
    if all(o == 1 for o in sizes):  # global pooling: one reduction
        return _ops.mean(input, dim=tuple(range(-n, 0)), keepdim=True)
    x = input
    # the mean over a box is the mean of the means along each of its edges: one dim at a time
    for i, o in enumerate(sizes):
        dim = input.ndim - n + i
        L = x.shape[dim]
        if L % o == 0:
            shape = list(x.shape)
            x = _ops.mean(x.reshape(shape[:dim] + [o, L // o] + shape[dim + 1:]), dim=dim + 1)
        else:
            x = _ops.cat([_ops.mean(_core.slice(x, dim, a, b, 1), dim=dim, keepdim=True) for a, b in _adaptive_bins(L, o)], dim)
    return x


def _adaptive_max_pool(name, input, output_size, n, return_indices):
    sizes = _adaptive_sizes(name, input, output_size, n)
    if 0 in sizes:
        e = _empty_pool(input, sizes)
        return (e, _core.zeros(list(e.shape), "int64", None if input._device == "cpu" else input._device)) if return_indices else e
    # the max over a box, one dim at a time from the last: the first maximum along the inner dim
    # of each row, then the first row holding the box's maximum is PyTorch's row-major first maximum
    x, flat, stride = input, None, 1
    for i in reversed(range(n)):
        dim = input.ndim - n + i
        L = input.shape[dim]
        vals, idxs = [], []
        for a, b in _adaptive_bins(L, sizes[i]):
            v, j = _ops.max(_core.slice(x, dim, a, b, 1), dim=dim, keepdim=True)
            vals.append(v)
            pos = (j + a) * stride
            idxs.append(pos if flat is None else pos + _core.gather(_core.slice(flat, dim, a, b, 1), dim, j))
        x, flat = _ops.cat(vals, dim), _ops.cat(idxs, dim)
        stride *= L
    return (x, flat) if return_indices else x


def adaptive_avg_pool1d(input, output_size):
    """adaptive_avg_pool1d(input [N, C, L] or [C, L], output_size): the mean over ``output_size``
    bins of nearly equal size (bin i covers [floor(i L / o), ceil((i + 1) L / o)))."""
    return _adaptive_avg_pool("adaptive_avg_pool1d", input, output_size, 1)


def adaptive_avg_pool2d(input, output_size):
    """adaptive_avg_pool2d(input [N, C, H, W] or [C, H, W], output_size): the mean over
    ``output_size`` bins per plane (an int, a pair, None keeps that dim; 0 gives an empty tensor)."""
    return _adaptive_avg_pool("adaptive_avg_pool2d", input, output_size, 2)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """adaptive_max_pool1d(input [N, C, L] or [C, L], output_size, return_indices=False)."""
    return _adaptive_max_pool("adaptive_max_pool1d", input, output_size, 1, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """adaptive_max_pool2d(input [N, C, H, W] or [C, H, W], output_size, return_indices=False):
    the maximum over each bin; indices are flat positions in each input plane."""
    return _adaptive_max_pool("adaptive_max_pool2d", input, output_size, 2, return_indices)
