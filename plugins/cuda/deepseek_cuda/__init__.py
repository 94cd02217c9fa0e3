"""deepseek's CUDA backend plugin (entry point ``cuda`` in group ``deepseek.backends``)."""
__version__ = "0.1.0"
