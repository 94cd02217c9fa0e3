"""What deepseek-rocm's tests share: building the fake HIP runtime, finding the installed HIP
compilers, running a script against the fake in a fresh interpreter and reading the fake's
call log, and decoding recorded kernel parameters."""
from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
INSTALL = "apt-get install hipcc libamdhip64-dev rocm-device-libs (make test does, as root)"
FAKE_SOURCE = HERE / "fake_runtime" / "fake_hip.c"  # includes fake_runtime/code_object.c
RESULT = "@@ROCM_TEST@@"


def need_hip(reason: str):
    """Skips the test with ``reason``, or fails it when DEEPSEEK_REQUIRE_HIP=1 (make test)."""
    import pytest

    if os.environ.get("DEEPSEEK_REQUIRE_HIP") == "1":
        pytest.fail(f"{reason} [DEEPSEEK_REQUIRE_HIP=1]")
    pytest.skip(reason)


def c_compiler() -> str:
    for cc in (os.environ.get("CC"), (sysconfig.get_config_var("CC") or "").split(" ")[0], "cc", "gcc"):
        if cc and shutil.which(cc):
            return cc
    raise RuntimeError("no C compiler found (set CC)")


def _build(source: Path, target: Path) -> Path:
    from deepseek.backends.gpu import fake_dir

    cmd = [c_compiler(), "-shared", "-fPIC", "-O1", "-Wall", "-Werror", f"-I{fake_dir()}", "-o", str(target),
           str(source), "-lpthread"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise AssertionError(f"building {source.name} failed ({' '.join(cmd)}):\n{proc.stderr}")
    return target


def build_fake_runtime(out_dir: Path) -> Path:
    """fake_hip.c (with the shared fake_gpu.c of deepseek.backends.gpu) compiled into
    ``out_dir/libamdhip64.so`` with the system C compiler."""
    return _build(FAKE_SOURCE, out_dir / "libamdhip64.so")


def build_fake_rocblas(out_dir: Path) -> Path:
    """fake_rocblas.c compiled into ``out_dir/librocblas.so``."""
    return _build(HERE / "fake_runtime" / "fake_rocblas.c", out_dir / "librocblas.so")


class Call:
    """One line of the fake's log: ``name`` and its ``key=value`` fields, ``rc`` its hipError_t."""

    _LINE = re.compile(r"^(?P<name>\w+) ?(?P<fields>.*) -> (?P<rc>-?\d+)$")

    def __init__(self, line: str):
        m = self._LINE.match(line)
        if not m:
            raise AssertionError(f"the fake HIP runtime logged an unreadable line: {line!r}")
        self.line, self.name, self.rc = line, m["name"], int(m["rc"])
        self.fields = dict(kv.partition("=")[::2] for kv in m["fields"].split())

    def __getitem__(self, key: str) -> str:
        return self.fields[key]

    def __repr__(self):
        return self.line


class Log(list):
    """The fake's calls, in order."""

    @classmethod
    def read(cls, path: Path) -> "Log":
        return cls(Call(line) for line in path.read_text().splitlines()) if path.exists() else cls()

    def named(self, *names: str) -> list:
        return [c for c in self if c.name in names]

    def launches(self, kernel: str = None) -> list:
        return [c for c in self.named("hipModuleLaunchKernel") if kernel is None or c["name"] == kernel]


PRELUDE = f"""
import json as _json
def emit(value):
    print({RESULT!r} + _json.dumps(value), flush=True)
"""


class FakeRunner:
    """Runs scripts in fresh interpreters with the fake as the HIP runtime; ``run`` answers
    ``(emitted value, Log)``, or ``(stderr, Log)`` with ``fails=True``."""

    def __init__(self, fake: Path, hiprtc: str, cache: Path, workdir: Path):
        self.fake, self.hiprtc, self.cache, self.workdir = fake, hiprtc, cache, workdir

    def env(self, **extra) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FAKE_HIP_", "DEEPSEEK_ROCM_"))}
        env.update(DEEPSEEK_ROCM_RUNTIME=str(self.fake), FAKE_HIP_LOG=str(self.workdir / "hip.log"),
                   DEEPSEEK_ROCM_CACHE_DIR=str(self.cache))
        if self.hiprtc:
            env["DEEPSEEK_ROCM_HIPRTC"] = self.hiprtc
        env["DEEPSEEK_ROCM_ROCBLAS"] = "none"  # never a real rocBLAS on the fake runtime
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def run(self, script: str, fails: bool = False, **extra):
        log = self.workdir / "hip.log"
        log.unlink(missing_ok=True)
        proc = subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(script)], env=self.env(**extra),
                              cwd=self.workdir, capture_output=True, text=True, timeout=600)
        if fails:
            assert proc.returncode != 0, f"the script should have failed:\n{proc.stdout}\n{proc.stderr}"
            return proc.stderr, Log.read(log)
        assert proc.returncode == 0, f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
        values = [json.loads(ln[len(RESULT):]) for ln in proc.stdout.splitlines() if ln.startswith(RESULT)]
        return (values[-1] if values else None), Log.read(log)


def params(call: Call) -> list:
    """A recorded launch's parameters, as bytes each."""
    return [bytes.fromhex(p) for p in call["params"].split("|")] if call["params"] else []


def as_i64(blob: bytes) -> list:
    return list(struct.unpack(f"<{len(blob) // 8}q", blob))


def meta(blob: bytes, nt: int, maxd: int) -> tuple:
    """A MetaN block: ``(shape, strides per tensor, offsets)`` over its ``nd`` dims."""
    v = as_i64(blob)
    nd = v[maxd + nt * maxd + nt]
    strides = [v[maxd + t * maxd: maxd + t * maxd + nd] for t in range(nt)]
    return v[:nd], strides, v[maxd + nt * maxd: maxd + nt * maxd + nt]


def element_offsets(shape, strides, offset) -> list:
    """The element offsets a tensor's (shape, strides, offset) addresses, row-major."""
    out = [offset]
    for size, stride in zip(shape, strides):
        out = [o + i * stride for o in out for i in range(size)]
    return out


def hip_compiler():
    """``(hipcc path, [supported gfx targets of gfx90a/gfx942/gfx1100])``, probing each target
    with a one-line kernel; ``(None, [])`` when hipcc is not installed."""
    hipcc = shutil.which("hipcc")
    if not hipcc:
        return None, []
    return hipcc, [a for a in ("gfx90a", "gfx942", "gfx1100") if _hipcc_accepts(hipcc, a)]


def _hipcc_accepts(hipcc: str, arch: str) -> bool:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "probe.hip"
        src.write_text('extern "C" __global__ void probe(float *o) { o[0] = 1.0f; }\n')
        proc = subprocess.run([hipcc, f"--offload-arch={arch}", "--genco", "-O2", str(src), "-o",
                               str(Path(tmp) / "probe.hsaco")], capture_output=True, text=True, timeout=120)
        return proc.returncode == 0
