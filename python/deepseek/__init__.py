"""deepseek: a deep-learning framework with PyTorch's programming model and a Rust core.

    >>> import deepseek
    >>> x = deepseek.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    tensor([2., 4., 6.])
"""
from __future__ import annotations

from . import _core
from ._core import Tensor, __version__ as _core_version  # noqa: F401
from ._dtype import (  # noqa: F401
    Size, device, dtype, get_default_dtype, set_default_dtype,
    bool_ as bool, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64, complex64, complex128,
)
from . import _tensor  # noqa: F401  (installs the Python-side Tensor methods)
from . import _tensor_inplace  # noqa: F401  (installs the in-place Tensor methods)
from ._ops import *  # noqa: F401,F403
from ._ops import abs, all, any, max, min, sum, pow, round  # noqa: F401
from ._creation import (  # noqa: F401
    tensor, as_tensor, asarray, from_numpy, empty, zeros, ones, full, empty_like, zeros_like, ones_like,
    full_like, arange, linspace, logspace, eye,
)
from ._random import (  # noqa: F401
    rand_like, randn_like, randint_like, rand, randn, randint, randperm, bernoulli, normal, multinomial,
    manual_seed, seed, initial_seed, get_rng_state, set_rng_state, default_generator, Generator,
)
from . import autograd, memory, backends  # noqa: F401
# the surface composed from primitives (issue 16): elementwise, shape, search, scatter, special
from ._math_extra import *  # noqa: F401,F403
from ._shape_extra import *  # noqa: F401,F403
from ._search import *  # noqa: F401,F403
from ._scatter_extra import *  # noqa: F401,F403
from . import special  # noqa: F401
from . import fft  # noqa: F401
from ._spectral import stft, istft, hann_window, hamming_window, blackman_window, bartlett_window  # noqa: F401
from ._complex import complex, polar, view_as_real, view_as_complex  # noqa: F401
from .special import erfinv, i0, gammainc as igamma, gammaincc as igammac  # noqa: F401
from ._api_misc import *  # noqa: F401,F403
from . import _tensor_api  # noqa: F401  (installs the methods above on Tensor)
from . import linalg  # noqa: F401
from .linalg._toplevel import *  # noqa: F401,F403  (det, inverse, svd ... where PyTorch keeps them)
from .linalg._toplevel import install_methods as _install_linalg_methods

_install_linalg_methods()
from ._device_module import DeviceModule as _DeviceModule

# One module per backend, like torch.cuda; plugins of other names get one on first access.
opencl = _DeviceModule("opencl")
cuda = _DeviceModule("cuda")
rocm = _DeviceModule("rocm")
ascend = _DeviceModule("ascend")


import os as _os  # noqa: E402

if _os.environ.get("DEEPSEEK_STRICT_DEVICE", "").strip().lower() not in ("", "0", "false", "no"):
    _core.set_strict_device(True)
from .autograd import no_grad, enable_grad, set_grad_enabled, is_grad_enabled, inference_mode  # noqa: F401

__version__ = "0.1.0"

half = float16
float = float32
double = float64
long = int64
int = int32
short = int16
cfloat = complex64
cdouble = complex128


def set_num_threads(n: int) -> None:
    """Sets the number of threads CPU kernels use (default: the physical cores)."""
    _core.set_num_threads(n)


def get_num_threads() -> int:
    """The number of threads CPU kernels use."""
    return _core.get_num_threads()


def is_grad_enabled_() -> bool:  # pragma: no cover - kept private
    return _core.is_grad_enabled()


def typename(obj) -> str:
    return f"deepseek.{obj.dtype.name}" if isinstance(obj, Tensor) else type(obj).__name__


from ._dlpack import from_dlpack  # noqa: E402

from ._layout import layout, strided, sparse_coo, sparse_csr  # noqa: E402,F401
from . import sparse  # noqa: E402,F401
from .sparse import sparse_coo_tensor, sparse_csr_tensor  # noqa: E402,F401
from . import amp, nn  # noqa: E402,F401
from .amp import autocast  # noqa: E402,F401
from . import optim  # noqa: E402,F401
from . import data  # noqa: E402,F401
from .serialization import load, save  # noqa: E402,F401
from . import utils  # noqa: E402,F401
from . import distributions  # noqa: E402,F401
from . import jit  # noqa: E402,F401
from .jit import compile  # noqa: E402,F401  (PyTorch's name; shadows the builtin inside deepseek only)
from . import distributed  # noqa: E402,F401  (MPI itself starts only at init_process_group)
# the rest of PyTorch's common top-level surface: ATen's layer functions (torch.conv2d,
# torch.batch_norm ...), in-place forms, strided views, numeric helpers, global switches
from ._strided import *  # noqa: E402,F401,F403
from . import _tensor_meta  # noqa: E402,F401  (installs t_, squeeze_, resize_, set_, storage ...)
from ._tensor_meta import TypedStorage, UntypedStorage  # noqa: E402,F401
from ._nn_toplevel import *  # noqa: E402,F401,F403
from ._aliases import *  # noqa: E402,F401,F403
from ._numeric_extra import *  # noqa: E402,F401,F403
from ._settings import *  # noqa: E402,F401,F403


def __getattr__(name):
    # deepseek.onnx on first use, as torch.onnx is there after `import torch` (it loads protobuf,
    # so it is not imported up front); deepseek.audio likewise (the speech front ends)
    if name in ("onnx", "audio"):
        import importlib

        return importlib.import_module(f"deepseek.{name}")
    # deepseek.<backend> for plugins of any name; submodules are left to the import system
    import importlib.util

    if not name.startswith("_") and importlib.util.find_spec(f"deepseek.{name}") is None \
            and name in backends._registry.plugins():
        mod = globals()[name] = _DeviceModule(name)
        return mod
    raise AttributeError(f"module 'deepseek' has no attribute '{name}'")
