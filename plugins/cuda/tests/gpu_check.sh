#!/usr/bin/env bash
# gpu_check.sh: deepseek-cuda on a real NVIDIA GPU, offline. Run from anywhere:
#
#   plugins/cuda/tests/gpu_check.sh [WHEELHOUSE]
#
# 1. Probes what is installed: nvidia-smi, the driver, python, the wheels it needs.
# 2. Uses the current python if it imports deepseek and deepseek_cuda; otherwise makes a venv
#    and installs "deepseek[cuda]==0.1.0" with pytest, hypothesis and scikit-learn from dist/
#    and WHEELHOUSE (default: ./wheelhouse beside dist/) with --no-index: no network needed.
#    Fill the wheelhouse on a connected machine with the GPU machine's Python version (the wheels
#    in dist/ too: `make wheels` with that interpreter, as the core and plugins are per version):
#      pip download -d wheelhouse "nvidia-cuda-nvrtc-cu12>=12.4,<13" "nvidia-nvjitlink-cu12>=12.4,<13" \
#        nvidia-cublas-cu12 numpy cffi pluggy pytest hypothesis scikit-learn
# 3. Runs the conformance kit on cuda:0 in strict mode, trains the digits MLP on cuda:0 and
#    the CPU and compares the loss curves, traces a small elementwise chain on cuda:0 (each
#    fused node one generated kernel, equal to the per-step launches and the CPU), times a
#    ResNet-50 training step, and measures matmul TFLOP/s at 4096^2 in float32 and bfloat16
#    (against cuBLAS when it is installed).
# 4. Prints a summary to paste into bench/RESULTS.md. Logs stay in $OUT (printed at the end).
# Sizes: GPU_CHECK_DIGITS="10" (epochs), GPU_CHECK_RESNET="16 224 3" (batch, pixels, timed
# steps, and optionally another model of deepseek.nn: "8 64 1 ResNet18"), GPU_CHECK_MATMUL=
# "4096 10" (size, repetitions); PYTHON picks the interpreter.
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
WHEELHOUSE="${1:-$ROOT/wheelhouse}"
OUT="${OUT:-$(mktemp -d /tmp/gpu_check.XXXXXX)}"
PY="${PYTHON:-python3}"
mkdir -p "$OUT"
say() { echo "== $*"; }

say "probe"
if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader | tee "$OUT/nvidia-smi.txt"
else
    echo "nvidia-smi not found"
fi
ldconfig -p 2>/dev/null | grep -E "libcuda\.so\.1" || echo "libcuda.so.1 is not in the linker cache"
"$PY" --version
ls "$ROOT"/dist/*.whl "$WHEELHOUSE"/*.whl 2>/dev/null | sed 's/^/  wheel: /'

if ! "$PY" -c "import deepseek, deepseek_cuda, pytest, hypothesis, sklearn" 2>/dev/null; then
    say "installing deepseek[cuda] offline into $OUT/venv"
    "$PY" -m venv "$OUT/venv" || exit 1
    PY="$OUT/venv/bin/python"
    "$PY" -m pip install --quiet --no-index --find-links "$ROOT/dist" --find-links "$WHEELHOUSE" \
        "deepseek[cuda]==0.1.0" pytest hypothesis scikit-learn || { echo "offline install failed"; exit 1; }
    "$PY" -m pip install --quiet --no-index --find-links "$WHEELHOUSE" nvidia-cublas-cu12 2>/dev/null \
        || echo "  (no cuBLAS wheel: matmul is compared without it)"
fi
"$PY" -m pip list 2>/dev/null | grep -iE "^(deepseek|nvidia-|numpy|cffi)" | sed 's/^/  /'
"$PY" -m deepseek.backends | tee "$OUT/backends.txt"
cd "$OUT" || exit 1
"$PY" "$HERE/gpu_check.py" probe > "$OUT/1-probe.log" 2>&1; tail -1 "$OUT/1-probe.log"
if ! "$PY" -c "import deepseek, sys; sys.exit(0 if deepseek.cuda.is_available() else 1)"; then
    echo "cuda is not available here; stopping (see $OUT/backends.txt)"; exit 1
fi

say "conformance kit on cuda:0 (strict)"
cat > "$OUT/test_cuda_conformance.py" <<'PYEOF'
from deepseek.testing import install_conformance_tests
install_conformance_tests(globals(), "cuda:0")
PYEOF
DEEPSEEK_REQUIRE_CUDA=1 timeout 3600 "$PY" -m pytest -q -p no:cacheprovider -rf "$OUT/test_cuda_conformance.py" \
    > "$OUT/2-conformance.log" 2>&1
tail -3 "$OUT/2-conformance.log"
"$PY" - "$OUT/2-conformance.log" >> "$OUT/2-conformance.log" <<'PYEOF'
import json, re, sys
text = open(sys.argv[1]).read()
count = lambda word: sum(int(n) for n in re.findall(rf"(\d+) {word}", text.splitlines()[-1] if text else ""))
fails = sorted(set(re.findall(r"FAILED \S+::test_conformance_(\w+)", text)))
print("@@conformance " + json.dumps({"passed": count("passed"), "failed": count("failed"), "failures": fails}))
PYEOF

say "digits MLP on cuda:0 vs the CPU"
timeout 1800 "$PY" "$HERE/gpu_check.py" digits ${GPU_CHECK_DIGITS:-10} > "$OUT/3-digits.log" 2>&1; tail -1 "$OUT/3-digits.log" | cut -c1-300
say "generated kernels: a chain traced on cuda:0"
timeout 900 "$PY" "$HERE/gpu_check.py" fused > "$OUT/3b-fused.log" 2>&1; tail -1 "$OUT/3b-fused.log" | cut -c1-300
say "ResNet training step (${GPU_CHECK_RESNET:-16 224 3})"
timeout 1800 "$PY" "$HERE/gpu_check.py" resnet ${GPU_CHECK_RESNET:-16 224 3} > "$OUT/4-resnet.log" 2>&1; tail -1 "$OUT/4-resnet.log" | cut -c1-300
say "matmul ${GPU_CHECK_MATMUL:-4096 10}: the portable kernel, then through cuBLAS (when installed)"
DEEPSEEK_CUDA_CUBLAS=0 timeout 1800 "$PY" "$HERE/gpu_check.py" matmul ${GPU_CHECK_MATMUL:-4096 10} \
    > "$OUT/5-matmul-kernel.log" 2>&1
tail -1 "$OUT/5-matmul-kernel.log"
timeout 1800 "$PY" "$HERE/gpu_check.py" matmul ${GPU_CHECK_MATMUL:-4096 10} > "$OUT/6-matmul.log" 2>&1; tail -1 "$OUT/6-matmul.log"

say "summary for bench/RESULTS.md (logs in $OUT)"
"$PY" "$HERE/gpu_check.py" summary "$OUT"
