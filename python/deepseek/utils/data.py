"""``deepseek.utils.data``: PyTorch's spelling of :mod:`deepseek.data` (the same objects)."""
from .. import data as _data

__all__ = [n for n in dir(_data) if not n.startswith("_") and n not in ("annotations",)
           and getattr(getattr(_data, n), "__module__", "").startswith("deepseek.data")]
globals().update({n: getattr(_data, n) for n in __all__})
