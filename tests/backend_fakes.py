"""Fake backend distributions for the backend tests: real ``*.dist-info`` folders with an
``entry_points.txt`` in a temporary folder put on ``sys.path`` (found by ``importlib.metadata``
like any installed package), a complete backend in Python over host memory, and a subprocess
runner."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
OPENCL_PLUGIN = ROOT / "plugins" / "opencl"

def write_dist(root: Path, dist: str, entry_points: dict, modules: dict) -> None:
    """A minimal installed distribution under ``root``: metadata, entry points, modules."""
    info = root / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    eps = "".join(f"{name} = {value}\n" for name, value in entry_points.items())
    (info / "entry_points.txt").write_text(f"[deepseek.backends]\n{eps}")
    for mod, src in modules.items():
        (root / f"{mod}.py").write_text(textwrap.dedent(src))


def info_hooks(name, abi_version=(2, 0), probe="return True, 'fake device ready'", load="raise AssertionError('load must not run')"):
    return f"""
        from deepseek.backends import hookimpl

        @hookimpl
        def deepseek_backend_info():
            return {{"name": {name!r}, "version": "0.1", "abi_version": {abi_version!r}}}

        @hookimpl
        def deepseek_backend_probe():
            {probe}

        @hookimpl
        def deepseek_backend_load():
            {load}
        """


# A complete backend in Python over host memory: exercises the table, the descriptors and
# the error path without any driver. Its "add" kernel honours shape, strides, offset, alpha.
HOST_BACKEND = """
    import struct
    from deepseek.backends import hookimpl
    from deepseek.backends.abi import build_table, ffi

    buffers = {}
    ALPHA = 1.0  # what `add` scales b by; a deliberately wrong backend sets another value

    def alloc(dev, n):
        if n > 1 << 20:
            raise MemoryError(f"host backend: {n} bytes is over its 1 MiB")
        buffers[len(buffers) + 1] = bytearray(n)
        return len(buffers)

    def h2d(dev, dst, off, src, n, stream):
        buffers[dst][off:off + n] = ffi.buffer(src, n)

    def d2h(dev, dst, src, off, n, stream):
        if off + n > len(buffers[src]):
            raise ValueError(f"read of {n} bytes at {off} overruns a {len(buffers[src])}-byte buffer")
        ffi.buffer(dst, n)[:] = bytes(buffers[src][off:off + n])

    def d2d(dev, dst, doff, src, soff, n, stream):
        buffers[dst][doff:doff + n] = buffers[src][soff:soff + n]

    def elements(d):
        idx = [d.offset]
        for k in range(d.ndim):
            idx = [i + j * d.strides[k] for i in idx for j in range(d.shape[k])]
        return idx

    def launch(dev, op, attrs, tensors, stream):
        if op == "fill":  # the attribute struct arrives decoded: out[...] = value
            (out,) = tensors
            for o in elements(out):
                struct.pack_into("<f", buffers[ffi.cast("uintptr_t", out.ptr)], 4 * o, attrs["value"])
            return
        if op == "sub":
            raise RuntimeError("sub kernel exploded")
        if op != "add":
            raise NotImplementedError(f"op {op} not implemented by the host backend")
        out, a, b = tensors
        if not all(t.dtype == 8 for t in tensors):
            raise NotImplementedError("float32 only")
        alpha = ALPHA
        get = lambda t, i: struct.unpack_from("<f", buffers[ffi.cast("uintptr_t", t.ptr)], 4 * i)[0]
        for o, i, j in zip(elements(out), elements(a), elements(b)):
            struct.pack_into("<f", buffers[ffi.cast("uintptr_t", out.ptr)], 4 * o, get(a, i) + alpha * get(b, j))

    @hookimpl
    def deepseek_backend_info():
        return {"name": "fakehost", "version": "0.1", "abi_version": (2, 0)}

    @hookimpl
    def deepseek_backend_probe():
        return True, "1 host device"

    @hookimpl
    def deepseek_backend_load():
        table = build_table("fakehost", ["add", "sub", "mul", "fill"], device_count=lambda: 1, alloc=alloc,
                            free=lambda d, p: buffers.pop(p), memcpy_h2d=h2d, memcpy_d2h=d2h, memcpy_d2d=d2d,
                            synchronize=lambda d: None, stream_create=lambda d: 7, stream_destroy=lambda d, s: None,
                            launch=launch)
        TABLE_EDIT
        return table
    """


def run_python(code: str, extra_path=None, **env) -> subprocess.CompletedProcess:
    e = dict(os.environ, **env)
    if extra_path:
        e["PYTHONPATH"] = os.pathsep.join([str(p) for p in extra_path] + [e.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=e, timeout=120)
