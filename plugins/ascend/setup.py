# The project's metadata is in pyproject.toml; this only adds the cffi-built C table
# (csrc/build_ascend.py), which pyproject.toml cannot declare.
from setuptools import setup

setup(cffi_modules=["csrc/build_ascend.py:ffibuilder"])
