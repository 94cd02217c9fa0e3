"""The names an audit against torch 2.15 found missing, now present: a fixed list, so a name that
disappears fails here (the lists were taken from torch once; torch is never imported)."""
from __future__ import annotations

import inspect

import pytest

import deepseek
from deepseek import nn
from deepseek.nn import functional as F
from deepseek.optim import swa_utils

TOPLEVEL = """conv1d conv2d conv3d conv_transpose1d conv_transpose2d conv_transpose3d max_pool1d max_pool2d max_pool3d
max_pool1d_with_indices avg_pool1d adaptive_avg_pool1d adaptive_max_pool1d batch_norm layer_norm group_norm
instance_norm rms_norm embedding embedding_bag dropout alpha_dropout feature_dropout feature_alpha_dropout bilinear
binary_cross_entropy_with_logits kl_div cosine_similarity pairwise_distance pdist pixel_shuffle pixel_unshuffle
channel_shuffle native_channel_shuffle prelu selu celu rrelu hardshrink threshold cosine_embedding_loss
margin_ranking_loss hinge_embedding_loss triplet_margin_loss poisson_nll_loss ctc_loss rsub scalar_tensor
split_with_sizes constant_pad_nd empty_strided frombuffer as_strided can_cast promote_types kaiser_window gradient
histogramdd binomial poisson nonzero_static embedding_renorm_""".split()

# every torch.<name>_ of the audit whose out-of-place op exists (resize_as_sparse_ is sparse-only)
TOPLEVEL_INPLACE = """abs_ acos_ acosh_ addmv_ alpha_dropout_ arccos_ arccosh_ arcsin_ arcsinh_ arctan_ arctanh_
as_strided_ asin_ asinh_ atan_ atanh_ ceil_ celu_ clamp_ clamp_max_ clamp_min_ clip_ conj_physical_ cos_ cosh_
deg2rad_ detach_ dropout_ erf_ erfc_ exp2_ exp_ expm1_ feature_alpha_dropout_ feature_dropout_ fill_ fix_ floor_
frac_ gcd_ i0_ index_put_ lcm_ ldexp_ log10_ log1p_ log2_ log_ logit_ nan_to_num_ neg_ negative_ rad2deg_
reciprocal_ relu_ resize_as_ round_ rrelu_ rsqrt_ selu_ sigmoid_ sin_ sinc_ sinh_ sqrt_ square_ tan_ tanh_
threshold_ trunc_ xlogy_ zero_""".split()

SETTINGS = """use_deterministic_algorithms are_deterministic_algorithms_enabled
is_deterministic_algorithms_warn_only_enabled set_deterministic_debug_mode get_deterministic_debug_mode
set_float32_matmul_precision get_float32_matmul_precision set_default_device get_default_device
is_inference_mode_enabled set_warn_always is_warn_always_enabled get_num_interop_threads set_num_interop_threads
set_flush_denormal set_anomaly_enabled is_anomaly_enabled is_anomaly_check_nan_enabled is_autocast_enabled
get_autocast_dtype""".split()

TENSOR = """squeeze_ unsqueeze_ transpose_ t_ swapdims_ swapaxes_ resize_ resize_as_ new as_strided as_strided_ set_
index_put_ untyped_storage storage cfloat cdouble prelu as_subclass is_inference""".split()

NN = """LazyLinear LazyConv1d LazyConv2d LazyConv3d LazyConvTranspose1d LazyConvTranspose2d LazyConvTranspose3d
LazyBatchNorm1d LazyBatchNorm2d LazyBatchNorm3d LazyInstanceNorm1d LazyInstanceNorm2d LazyInstanceNorm3d
UninitializedParameter UninitializedBuffer""".split()

SWA = "AveragedModel SWALR update_bn get_ema_multi_avg_fn get_swa_multi_avg_fn get_ema_avg_fn get_swa_avg_fn".split()


@pytest.mark.parametrize("where,names", [
    (deepseek, TOPLEVEL), (deepseek, TOPLEVEL_INPLACE), (deepseek, SETTINGS), (deepseek.Tensor, TENSOR),
    (nn, NN), (F, ["selu_"]), (swa_utils, SWA)], ids=["toplevel", "inplace", "settings", "tensor", "nn", "F", "swa"])
def test_audit_names_are_callable(where, names):
    assert len(names) == len(set(names))
    missing = [n for n in names if not callable(getattr(where, n, None))]
    assert not missing, f"missing from {getattr(where, '__name__', where)}: {missing}"


def test_toplevel_inplace_forms_write_into_their_argument():
    # each deepseek.<op>_(x, ...) returns x itself, as the method does
    for name in ("exp_", "sin_", "sqrt_", "neg_", "zero_", "floor_", "sigmoid_", "tanh_", "square_"):
        x = deepseek.tensor([0.25, 1.5])
        r = getattr(deepseek, name)(x)
        assert r is x, name
    x = deepseek.tensor([-1.0, 2.0])
    assert deepseek.clamp_(x, min=0.0) is x and x.tolist() == [0.0, 2.0]
    assert deepseek.fill_(x, 3.0) is x and x.tolist() == [3.0, 3.0]
    with pytest.raises(TypeError, match="exp_"):
        deepseek.exp_([1.0])


def test_new_functions_have_docstrings():
    # the ones written for this surface (the nn.functional ops reused as they are keep theirs)
    mine = ("deepseek._nn_toplevel", "deepseek._aliases", "deepseek._strided", "deepseek._numeric_extra",
            "deepseek._settings", "deepseek._tensor_meta")
    fns = [getattr(deepseek, n) for n in TOPLEVEL + TOPLEVEL_INPLACE + SETTINGS]
    fns += [getattr(deepseek.Tensor, n) for n in TENSOR]
    fns = [f for f in fns if getattr(f, "__module__", "") in mine]
    assert len(fns) > 100
    for f in fns:
        assert inspect.getdoc(f), f.__name__
