"""NVRTC and nvJitLink through deepseek_cuda.nvrtc: SASS for real architectures, the on-disk
cache (one compile per source, architecture and compiler version, shared across processes),
and compile errors that name the program and carry NVRTC's log."""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import textwrap

import pytest

from deepseek_cuda import nvrtc

SAXPY = r"""
extern "C" __global__ void k_saxpy(float *out, const float *x, const float *y, float a, long long n) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = a * x[i] + y[i];
}
"""


def sass_arch(image: bytes, kernel: str) -> int:
    """The SM a cubin holds SASS for, after checking it is a CUDA ELF with the kernel's code."""
    assert image[:4] == b"\x7fELF", "not an ELF image (PTX?)"
    machine, = struct.unpack_from("<H", image, 18)
    assert machine == 190, f"ELF machine {machine} is not EM_CUDA"
    assert f".text.{kernel}".encode() in image, f"no SASS section for {kernel}"
    flags, = struct.unpack_from("<I", image, 48)
    return flags & 0xFF


@pytest.mark.parametrize("arch", [80, 90])
@pytest.mark.parametrize("link", [False, True], ids=["nvrtc-sass", "ptx-nvjitlink"])
def test_compiles_sass_for_real_architectures(tmp_path, monkeypatch, arch, link):
    monkeypatch.setenv(nvrtc.ENV_CACHE, str(tmp_path))
    image = nvrtc.compile_cubin(SAXPY, "saxpy", arch, link=link)
    assert sass_arch(image, "k_saxpy") == arch


def test_versions_and_architectures():
    assert nvrtc.nvrtc_version() >= (12, 0)
    assert {80, 90} <= set(nvrtc.supported_archs())


def test_the_cache_serves_a_second_compile_and_a_second_process(tmp_path, monkeypatch):
    monkeypatch.setenv(nvrtc.ENV_CACHE, str(tmp_path))
    before = dict(nvrtc.STATS)
    first = nvrtc.compile_cubin(SAXPY, "saxpy", 80)
    again = nvrtc.compile_cubin(SAXPY, "saxpy", 80)
    other_arch = nvrtc.compile_cubin(SAXPY, "saxpy", 90)
    other_src = nvrtc.compile_cubin(SAXPY.replace("a * x[i]", "a * x[i] * 2.0f"), "saxpy", 80)
    assert first == again and first != other_arch and first != other_src
    assert nvrtc.STATS["compiled"] - before["compiled"] == 3 and nvrtc.STATS["cache_hits"] - before["cache_hits"] == 1
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 3 and all(f.startswith("saxpy-sm_") and f.endswith(".cubin") for f in files), files
    script = textwrap.dedent(f"""
        import json
        from deepseek_cuda import nvrtc
        img = nvrtc.compile_cubin({SAXPY!r}, "saxpy", 80)
        print(json.dumps([nvrtc.STATS, len(img)]))
    """)
    env = dict(os.environ, **{nvrtc.ENV_CACHE: str(tmp_path)})
    stats, size = json.loads(subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                                            check=True).stdout)
    assert stats == {"compiled": 0, "cache_hits": 1} and size == len(first)


def test_a_corrupt_cache_entry_is_compiled_again(tmp_path, monkeypatch):
    monkeypatch.setenv(nvrtc.ENV_CACHE, str(tmp_path))
    image = nvrtc.compile_cubin(SAXPY, "saxpy", 80)
    (entry,) = tmp_path.iterdir()
    entry.write_bytes(b"truncated")
    assert nvrtc.compile_cubin(SAXPY, "saxpy", 80) == image
    assert entry.read_bytes() == image


def test_compile_errors_name_the_program_and_show_the_log(tmp_path, monkeypatch):
    monkeypatch.setenv(nvrtc.ENV_CACHE, str(tmp_path))
    with pytest.raises(nvrtc.CompileError) as info:
        nvrtc.compile_cubin(SAXPY.replace("a * x[i]", "a * undefined_name[i]"), "float32", 80)
    msg = str(info.value)
    assert "NVRTC could not compile kernel program 'float32'" in msg
    assert 'identifier "undefined_name" is undefined' in msg and "float32.cu(" in msg
    assert list(tmp_path.iterdir()) == []


def test_the_runtime_picks_sass_for_known_archs_and_ptx_otherwise(monkeypatch):
    from deepseek_cuda import runtime

    monkeypatch.delenv(runtime.ENV_CODE, raising=False)
    for cc, want in (((8, 0), (80, "sass")), ((9, 0), (90, "sass")), ((8, 5), (80, "ptx")), ((99, 0), None)):
        monkeypatch.setattr(runtime.driver, "capability", lambda device, cc=cc: cc)
        if want is None:  # newer than any architecture NVRTC knows: PTX for the newest one
            assert runtime.target(0) == (max(nvrtc.supported_archs()), "ptx")
        else:
            assert runtime.target(0) == want
    monkeypatch.setattr(runtime.driver, "capability", lambda device: (9, 0))
    monkeypatch.setenv(runtime.ENV_CODE, "ptx")
    assert runtime.target(0) == (90, "ptx")
    monkeypatch.setattr(runtime.driver, "capability", lambda device: (3, 5))
    with pytest.raises(RuntimeError, match="compute capability 3.5, older than any this NVRTC compiles for"):
        runtime.target(0)
