"""Helpers of the CUDA plugin's tests: building the fake driver, running a script against it,
reading its call log."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
FAKE_SOURCE = HERE / "fake_driver" / "fake_cuda.c"
FAKE_CUBLAS_SOURCE = HERE / "fake_driver" / "fake_cublas.c"


def build_fake_driver(out_dir: Path) -> Path:
    """Compiles fake_cuda.c (over the GPU host layer's fake core, fake_gpu.c) into
    ``out_dir/libcuda.so.1`` (returned) and fake_cublas.c into ``out_dir/libcublas.so.12`` with
    the system C compiler."""
    cc = os.environ.get("CC") or (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None:
        cc = "cc"
    from deepseek.backends.gpu import fake_dir  # fake_gpu.c, the core fake_cuda.c stands on

    target = out_dir / "libcuda.so.1"
    for source, lib in ((FAKE_SOURCE, target), (FAKE_CUBLAS_SOURCE, out_dir / "libcublas.so.12")):
        proc = subprocess.run([cc, "-shared", "-fPIC", "-O1", "-Wall", "-Werror", f"-I{fake_dir()}", "-o", str(lib),
                               str(source), "-lpthread", "-ldl"], capture_output=True, text=True)
        assert proc.returncode == 0, f"building {source.name} failed:\n{proc.stderr}"
    return target


@dataclass
class Call:
    """One logged driver call: its name, its key=value fields, its CUresult."""
    name: str
    fields: dict = field(default_factory=dict)
    rc: int = 0
    line: str = ""

    def __getitem__(self, key):
        return self.fields[key]


_LINE = re.compile(r"^(\w+)(.*) -> (-?\d+)$")


def parse_log(path: Path) -> list:
    calls = []
    if not path.exists():
        return calls
    for line in path.read_text().splitlines():
        m = _LINE.match(line)
        assert m, f"unparsable fake driver log line: {line!r}"
        fields = dict(kv.split("=", 1) for kv in m.group(2).split())
        calls.append(Call(m.group(1), fields, int(m.group(3)), line))
    return calls


PRELUDE = """
import json, sys
def emit(value):
    print("@@RESULT@@" + json.dumps(value))
"""


def run_script(script: str, driver: Path, tmp: Path, *, expect_fail: bool = False, **env_extra):
    """Runs ``script`` (dedented) with the fake driver as libcuda; returns ``(result, calls)``.
    With ``expect_fail`` the script must exit non-zero and ``result`` is its stderr."""
    log = tmp / "driver.log"
    if log.exists():
        log.unlink()
    env = dict(os.environ)
    for k in [k for k in env if k.startswith(("FAKE_CUDA_", "DEEPSEEK_CUDA_"))]:
        del env[k]
    # cuBLAS stays off unless a test asks for the fake one (a real one would call the real driver)
    env.update({"DEEPSEEK_CUDA_DRIVER": str(driver), "FAKE_CUDA_LOG": str(log),
                "DEEPSEEK_CUDA_CACHE_DIR": str(tmp / "cache"), "DEEPSEEK_CUDA_CUBLAS": "0"})
    env.update({k: str(v) for k, v in env_extra.items()})
    proc = subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(script)], env=env, cwd=tmp,
                          capture_output=True, text=True, timeout=300)
    if expect_fail:
        assert proc.returncode != 0, f"the script should have failed:\n{proc.stdout}\n{proc.stderr}"
        return proc.stderr, parse_log(log)
    assert proc.returncode == 0, f"script failed ({proc.returncode}):\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    results = [json.loads(ln[len("@@RESULT@@"):]) for ln in proc.stdout.splitlines() if ln.startswith("@@RESULT@@")]
    return (results[-1] if results else None), parse_log(log)


def calls_named(calls, *names):
    return [c for c in calls if c.name in names]


# A kernel in PTX, by hand: the fake driver reads parameter sizes from a module's .entry list.
TINY_PTX = """
.version 7.0
.target sm_80
.address_size 64
.visible .entry k_probe(.param .u64 k_probe_param_0, .param .u32 k_probe_param_1, .param .align 8 .b8 k_probe_param_2[24])
{
    ret;
}
"""
