"""deepseek's ROCm backend plugin (entry point ``rocm`` in group ``deepseek.backends``)."""
__version__ = "0.1.0"
