"""Optimizers and learning-rate schedules, as ``torch.optim``; plus deepseek's DeepSeekAdam."""
from . import lr_scheduler  # noqa: F401
from .algorithms import SGD, Adam, AdamW, DeepSeekAdam  # noqa: F401
from ._rules import Adagrad, RMSprop  # noqa: F401
from .optimizer import Optimizer  # noqa: F401
from ._algorithms_extra import ASGD, LBFGS, Adadelta, Adafactor, Adamax, NAdam, RAdam, Rprop, SparseAdam  # noqa: F401
from . import swa_utils  # noqa: F401,E402
