"""``deepseek.utils``: ``checkpoint`` (activation recomputation) and ``data`` (datasets and
loaders, the same objects as ``deepseek.data``)."""
from . import checkpoint, data  # noqa: F401
