#!/usr/bin/env bash
# npu_check.sh: deepseek-ascend on a real Ascend NPU, after `source <CANN toolkit>/set_env.sh` and
# `pip install "deepseek[ascend]==0.1.0"` (or `pip install -e plugins/ascend` in a checkout).
# Runs each step, keeps its log in $OUT, and prints a summary for bench/RESULTS.md:
#   1. python -m deepseek.backends (the probe: devices, operators found, fallbacks)
#   2. the conformance kit on ascend:0 in strict mode ($NPU_CHECK_EXAMPLES examples per op)
#   3. a small MLP trained on the CPU and on ascend:0 from the same seed: the loss curves agree
# The plugin's tests run this script against the fake CANN (tests/test_ascend_conformance.py).
set -u
PYTHON=${PYTHON:-python3}
OUT=${OUT:-npu_check_out}
EXAMPLES=${NPU_CHECK_EXAMPLES:-12}
mkdir -p "$OUT"
export DEEPSEEK_REQUIRE_ASCEND=1

run() { # run NAME COMMAND...: the command's output goes to $OUT/NAME.log
    local name=$1
    shift
    "$@" >"$OUT/$name.log" 2>&1
    echo $? >"$OUT/$name.rc"
}

run 1-backends "$PYTHON" -m deepseek.backends

cat >"$OUT/test_npu_conformance.py" <<PY
from deepseek.testing import install_conformance_tests
install_conformance_tests(globals(), "ascend:0", max_examples=$EXAMPLES)
PY
run 2-conformance "$PYTHON" -m pytest -q -p no:cacheprovider -p no:warnings --rootdir "$OUT" "$OUT/test_npu_conformance.py"

run 3-mlp "$PYTHON" - <<'PY'
import deepseek as ds
from deepseek import nn

def losses(device):
    ds.manual_seed(0)
    x, y = ds.randn(64, 16), ds.randint(0, 4, (64,))
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4)).to(device)
    opt = ds.optim.SGD(model.parameters(), lr=0.1)
    out = []
    for _ in range(20):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x.to(device)), y.to(device))
        loss.backward()
        opt.step()
        out.append(float(loss.cpu()))
    return out

cpu, npu = losses("cpu"), losses("ascend:0")
diff = max(abs(a - b) / max(abs(a), 1e-6) for a, b in zip(cpu, npu))
print(f"@@mlp loss {cpu[0]:.4f} -> {cpu[-1]:.4f}; max relative difference CPU vs ascend:0 {diff:.2e}"
      + (" (matches)" if diff < 1e-4 else " (DIFFERS)"))
PY

echo "## Ascend backend on an NPU"
echo
echo "- probe: $(grep '^ascend:' "$OUT/1-backends.log" || echo 'no ascend line')"
echo "- $(awk '/^ascend:/ {on = 1; next} on && /^  native:/ {print substr($0, 3, 60); exit}' "$OUT/1-backends.log")"
summary=$(tail -n 1 "$OUT/2-conformance.log")
echo "- conformance kit on ascend:0 (strict, $EXAMPLES examples per op): $summary"
echo "- $(grep -h '^@@mlp' "$OUT/3-mlp.log" | cut -c3- || echo 'MLP did not finish')"
for step in 1-backends 2-conformance 3-mlp; do
    if [ "$(cat "$OUT/$step.rc")" != 0 ]; then
        echo "- $step failed: see $OUT/$step.log"
        failed=1
    fi
done
exit ${failed:-0}
