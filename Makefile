# Two entry points: `make demo` and `make test`. Each sets up its own virtual environment,
# builds the Rust core in release mode with maturin, and runs.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
export VIRTUAL_ENV := $(abspath $(VENV))
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: all venv build test test-rust test-python demo bench clean

all: test

$(VENV)/.deps: pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet "maturin>=1.5,<2" "numpy>=1.24" "pytest>=7" "hypothesis>=6.100" "scikit-learn>=1.3"
	touch $@

venv: $(VENV)/.deps

build: venv
	cd $(CURDIR) && $(VENV)/bin/maturin develop --release --quiet

test-rust:
	PYO3_PYTHON=$(abspath $(PY)) cargo test --release --quiet -p deepseek-core --lib

test-python: build
	$(PY) -m pytest

test: venv test-rust test-python

demo: build
	$(PY) examples/train_cnn_digits.py

bench: build
	$(PY) bench/ops.py

clean:
	rm -rf $(VENV) target
