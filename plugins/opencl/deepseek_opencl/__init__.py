"""deepseek's OpenCL backend plugin (entry point ``opencl`` in group ``deepseek.backends``)."""
__version__ = "0.1.0"
