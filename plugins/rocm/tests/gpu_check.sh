#!/usr/bin/env bash
# gpu_check.sh: deepseek-rocm on a real AMD GPU (MI250X first), offline. Run from anywhere:
#
#   plugins/rocm/tests/gpu_check.sh [WHEELHOUSE]
#
# What it needs there: ROCm (libamdhip64.so and hipRTC under $ROCM_PATH or /opt/rocm), python3.
# 1. Probes: rocm-smi / rocminfo, the HIP runtime, python, the wheels at hand.
# 2. Uses the current python if it imports deepseek, deepseek_rocm, pytest, hypothesis and
#    sklearn; otherwise makes a venv and installs "deepseek[rocm]==0.1.0" with them from dist/
#    and WHEELHOUSE (default ./wheelhouse beside dist/) with --no-index. Fill the wheelhouse
#    on a connected machine of the same Python version with
#      pip download -d wheelhouse numpy cffi pluggy pytest hypothesis scikit-learn
# 3. Runs the conformance kit on rocm:0 in strict mode (no CPU fallback passes), trains the
#    digits MLP on rocm:0 and on the CPU and compares the loss curves, traces a small
#    elementwise chain on rocm:0 (each fused node one generated kernel, equal to the per-step
#    launches and the CPU), times a conv-net training step, and measures matmul TFLOP/s at 4096^2 in float32 and bfloat16, through the
#    portable kernel and through rocBLAS when ROCm has it.
# 4. Prints a summary for bench/RESULTS.md; the logs stay in $OUT (printed at the end).
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
WHEELHOUSE="${1:-$ROOT/wheelhouse}"
OUT="${OUT:-$(mktemp -d /tmp/rocm_check.XXXXXX)}"
PY="${PYTHON:-python3}"
mkdir -p "$OUT"
step() { echo "== $*"; }

step "what is installed"
if command -v rocm-smi >/dev/null; then rocm-smi --showproductname --showmeminfo vram 2>&1 | tee "$OUT/rocm-smi.txt"
else echo "rocm-smi not found"; fi
if command -v rocminfo >/dev/null; then rocminfo 2>/dev/null | grep -E "^\s+Name:\s+gfx" | sort -u | tee "$OUT/gfx.txt"
else echo "rocminfo not found"; fi
for d in "${ROCM_PATH:-/opt/rocm}/lib" /opt/rocm-*/lib; do
    ls "$d"/libamdhip64.so* "$d"/libhiprtc.so* 2>/dev/null | sed 's/^/  runtime: /'
done
"$PY" --version
ls "$ROOT"/dist/*.whl "$WHEELHOUSE"/*.whl 2>/dev/null | sed 's/^/  wheel: /'

if ! "$PY" -c "import deepseek, deepseek_rocm, pytest, hypothesis, sklearn" 2>/dev/null; then
    step "installing deepseek[rocm] offline into $OUT/venv"
    "$PY" -m venv "$OUT/venv" || exit 1
    PY="$OUT/venv/bin/python"
    "$PY" -m pip install --quiet --no-index --find-links "$ROOT/dist" --find-links "$WHEELHOUSE" \
        "deepseek[rocm]==0.1.0" pytest hypothesis scikit-learn || { echo "the offline install failed"; exit 1; }
fi
"$PY" -m deepseek.backends | tee "$OUT/backends.txt"
cd "$OUT" || exit 1
"$PY" "$HERE/gpu_check.py" probe > "$OUT/1-probe.log" 2>&1; tail -1 "$OUT/1-probe.log" | cut -c1-400
if ! "$PY" -c "import deepseek, sys; sys.exit(0 if deepseek.rocm.is_available() else 1)"; then
    echo "rocm is not available here; stopping (the reason is in $OUT/backends.txt)"; exit 1
fi

step "conformance kit on rocm:0 (strict)"
printf 'from deepseek.testing import install_conformance_tests\ninstall_conformance_tests(globals(), "rocm:0")\n' \
    > "$OUT/test_rocm_conformance.py"
timeout 3600 "$PY" -m pytest -q -p no:cacheprovider -rf "$OUT/test_rocm_conformance.py" > "$OUT/2-conformance.log" 2>&1
tail -3 "$OUT/2-conformance.log"
"$PY" - "$OUT/2-conformance.log" >> "$OUT/2-conformance.log" <<'PYEOF'
import json, re, sys
text = open(sys.argv[1]).read()
last = text.strip().splitlines()[-1] if text.strip() else ""
tally = {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|error)", last)}
failed = sorted(set(re.findall(r"FAILED \S+::(\S+)", text)))
print("@@conformance " + json.dumps({**tally, "failed_tests": failed}))
PYEOF

step "digits MLP on rocm:0 against the CPU"
timeout 1800 "$PY" "$HERE/gpu_check.py" digits 10 > "$OUT/3-digits.log" 2>&1; tail -1 "$OUT/3-digits.log" | cut -c1-400
step "generated kernels: a chain traced on rocm:0"
timeout 900 "$PY" "$HERE/gpu_check.py" fused > "$OUT/3b-fused.log" 2>&1; tail -1 "$OUT/3b-fused.log" | cut -c1-400
step "conv-net training step"
timeout 1800 "$PY" "$HERE/gpu_check.py" convnet 32 64 5 > "$OUT/4-convnet.log" 2>&1; tail -1 "$OUT/4-convnet.log" | cut -c1-400
step "matmul 4096^2, float32 and bfloat16: the portable kernel, then rocBLAS (when installed)"
DEEPSEEK_ROCM_ROCBLAS=none timeout 1800 "$PY" "$HERE/gpu_check.py" matmul 4096 10 > "$OUT/5-matmul-kernel.log" 2>&1
tail -1 "$OUT/5-matmul-kernel.log"
timeout 1800 "$PY" "$HERE/gpu_check.py" matmul 4096 10 > "$OUT/6-matmul.log" 2>&1; tail -1 "$OUT/6-matmul.log"

step "summary for bench/RESULTS.md (logs in $OUT)"
"$PY" "$HERE/gpu_check.py" summary "$OUT"
