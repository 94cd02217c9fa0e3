"""``deepseek.nn``: modules, layers, losses, initialisation, and the mixed-precision
entry points (``nn.autocast``, ``nn.GradScaler``, ``nn.float16``, ``nn.bfloat16``)."""
from . import functional, init  # noqa: F401
from .modules import *  # noqa: F401,F403
from .modules import Module  # noqa: F401
from .parameter import Buffer, Parameter, UninitializedBuffer, UninitializedParameter  # noqa: F401
from ..amp import GradScaler, autocast  # noqa: F401
from .._dtype import bfloat16, float16, float32, float64  # noqa: F401
from . import utils  # noqa: F401,E402
from . import parallel  # noqa: F401,E402
