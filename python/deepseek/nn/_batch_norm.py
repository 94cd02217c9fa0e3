"""Batch normalisation of ``nn.functional``, and the fused batch norm + residual + ReLU the
ResNet-style blocks use; re-exported by ``nn.functional``."""
from __future__ import annotations

from .. import _core, _ops
from .._dtype import float32


def _no_grad():
    from ..autograd import no_grad

    return no_grad()


def _update_running(running_mean, running_var, mean, invstd, n, momentum, eps):
    """The running averages after one training batch, from the fused kernel's batch mean and
    1/sqrt(var + eps) (var unbiased by n / (n - 1), as PyTorch's)."""
    with _no_grad():
        var = (invstd * invstd).reciprocal() - eps
        running_mean.mul_(1 - momentum).add_(mean.to(running_mean.dtype) * momentum)
        running_var.mul_(1 - momentum).add_(var.to(running_var.dtype) * (momentum * n / max(n - 1, 1)))


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
    momentum=0.1, eps=1e-5): normalises over every dim but the channels (dim 1).

    Training mode uses the batch's statistics and updates ``running_mean``/``running_var`` (when
    given) in place with ``momentum``; eval mode uses the running statistics."""
    if not training and running_mean is not None and _fusable(input, None, running_mean, running_var, weight, bias):
        # one pass: each channel's scale and shift computed once from the running statistics
        return _core.batch_norm_act(input, running_mean, running_var, weight, bias, None, False, False, float(eps))[0]
    dims = [0] + list(range(2, input.ndim))
    shape = [1, input.shape[1]] + [1] * (input.ndim - 2)
    if training and input.device.type == "cpu":
        # the core's fused kernel: one pass for statistics, one for the output, closed-form backward
        n = input.numel() // input.shape[1]
        y, mean, invstd = _core.batch_norm_train(input, weight, bias, eps)
        if running_mean is not None:
            _update_running(running_mean, running_var, mean, invstd, n, momentum, eps)
        return y
    if training:
        n = input.numel() // input.shape[1]
        if n <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {tuple(input.shape)}")
        xf = input.float() if input.dtype.itemsize < 4 else input
        mean = _ops.mean(xf, dim=dims)
        var = _ops.var(xf, dim=dims, correction=0)
        if running_mean is not None:
            with _no_grad():
                running_mean.mul_(1 - momentum).add_(mean.detach().to(running_mean.dtype) * momentum)
                running_var.mul_(1 - momentum).add_(var.detach().to(running_var.dtype) * (momentum * n / (n - 1)))
    else:
        mean, var = running_mean, running_var
    y = (input - mean.reshape(shape).to(input.dtype)) * _ops.rsqrt(var.reshape(shape) + eps).to(input.dtype)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def _fusable(input, residual, *stats):
    """Whether the core's fused kernel takes these operands: CPU floating tensors, a residual
    of the input's shape and dtype, [C] statistics and parameters of a matching dtype."""
    if input.device.type != "cpu" or not input.dtype.is_floating_point or input.ndim < 2:
        return False
    if residual is not None and (residual.device.type != "cpu" or residual.dtype != input.dtype
                                 or tuple(residual.shape) != tuple(input.shape)):
        return False
    c = input.shape[1]
    # statistics and parameters of the input's dtype, or float32 ones beside a 16-bit input
    # (PyTorch's mixed form); other mixes keep the composite's type promotion
    ok = (input.dtype,) + ((float32,) if input.dtype.itemsize < 4 else ())
    return all(t.device.type == "cpu" and t.dtype in ok and tuple(t.shape) == (c,) for t in stats if t is not None)


def _batch_norm_act(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
                    eps=1e-5, residual=None, relu=True):
    """_batch_norm_act(input, running_mean, running_var, weight=None, bias=None, training=False,
    momentum=0.1, eps=1e-5, residual=None, relu=True) -> Tensor

    ``relu(batch_norm(input, ...) + residual)`` (the add when ``residual`` is given, the ReLU
    when ``relu``), with :func:`batch_norm`'s arguments and running-statistics update. CPU
    floating tensors run one fused kernel each way: eval mode computes each channel's scale and
    shift once and writes the output in one pass; the backward recovers the ReLU's mask from
    the output's sign, so nothing beyond batch norm's own saves is kept. Other inputs compose
    the same result from :func:`batch_norm`, ``+`` and :func:`relu`. deepseek's own (PyTorch
    has no public fused form); the ResNet-style zoo models call it.

    Example::

        >>> x, r = deepseek.randn(8, 4, 5, 5), deepseek.randn(8, 4, 5, 5)
        >>> mean, var = deepseek.zeros(4), deepseek.ones(4)
        >>> y = F._batch_norm_act(x, mean, var, residual=r)
        >>> bool((y == F.relu(F.batch_norm(x, mean, var) + r)).all())
        True
    """
    use_running = not training
    if _fusable(input, residual, running_mean, running_var, weight, bias) and (training or running_mean is not None):
        rm, rv = (running_mean, running_var) if use_running else (None, None)
        y, mean, invstd = _core.batch_norm_act(input, rm, rv, weight, bias, residual, bool(training), bool(relu), float(eps))
        if training and running_mean is not None:
            _update_running(running_mean, running_var, mean, invstd, input.numel() // input.shape[1], momentum, eps)
        return y
    y = batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)
    if residual is not None:
        y = y + residual
    return _ops.relu(y) if relu else y
