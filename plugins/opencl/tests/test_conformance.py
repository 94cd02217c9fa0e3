"""The OpenCL backend against the CPU core, through deepseek's conformance kit: every
primitive op, forward and backward, fuzzed on opencl:0 (skipped, with the reason, only where
no OpenCL driver exists; DEEPSEEK_REQUIRE_OPENCL=1 makes that a failure)."""
from deepseek.testing import install_conformance_tests

install_conformance_tests(globals(), "opencl:0")
