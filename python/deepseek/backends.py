"""Accelerator backends. Each backend ships as its own package (``deepseek-cuda`` ...);
until one is installed, asking for its device explains how to get it."""
from __future__ import annotations

_INSTALL = {
    "cuda": 'pip install "deepseek[cuda]"',
    "rocm": 'pip install "deepseek[rocm]"',
    "ascend": 'pip install "deepseek[ascend]"',
    "opencl": 'pip install "deepseek[opencl]"',
}


def available() -> dict:
    """Backends known to this installation and their status."""
    return {"cpu": "available (built in)"}


def require_device(dev) -> None:
    """Raises a clear error for a device whose backend is not installed."""
    kind = dev.type
    hint = _INSTALL.get(kind)
    if hint:
        raise RuntimeError(
            f"device '{dev}' needs the deepseek-{kind} backend, which is not installed. Install it with: {hint}"
        )
    raise RuntimeError(f"unknown device type '{kind}'; known: cpu, " + ", ".join(_INSTALL))
