"""Where a process's resident memory is (Linux, standard library only): /proc/self/smaps
summed by kind of mapping, and glibc's heap counters (mallinfo2: bytes in use and free
inside malloc's arenas; free bytes may be resident or trimmed; malloc_info: the same per
arena, the main one apart from the worker threads' ones)."""
from __future__ import annotations

import ctypes
import re
import tempfile


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def mallinfo():
    """{"heap": bytes malloc got from the system (sbrk heap and thread arenas), "mmapped":
    chunks malloc mapped on their own, "in_use", "free"}; {} where glibc's mallinfo2 is missing."""
    try:
        f = ctypes.CDLL(None).mallinfo2
    except AttributeError:
        return {}
    f.restype = _Mallinfo2
    m = f()
    return {"heap": m.arena, "mmapped": m.hblkhd, "in_use": m.uordblks, "free": m.fordblks}


def malloc_arenas():
    """[(bytes the arena got from the system, bytes free in it)] per glibc arena, the main
    (sbrk) arena first; [] where glibc's malloc_info is missing."""
    try:
        libc = ctypes.CDLL(None)
        info, fopen, fclose = libc.malloc_info, libc.fopen, libc.fclose
    except AttributeError:
        return []
    fopen.restype, fopen.argtypes = ctypes.c_void_p, [ctypes.c_char_p, ctypes.c_char_p]
    fclose.argtypes, info.argtypes = [ctypes.c_void_p], [ctypes.c_int, ctypes.c_void_p]
    with tempfile.NamedTemporaryFile("r", suffix=".xml") as tmp:
        f = fopen(tmp.name.encode(), b"w")
        if not f:
            return []
        info(0, f)
        fclose(f)
        xml = tmp.read()
    out = []
    for body in re.findall(r'<heap nr="\d+">(.*?)</heap>', xml, re.S):
        system = re.search(r'<system type="current" size="(\d+)"', body)
        free = re.search(r'<total type="rest" count="\d+" size="(\d+)"', body)
        fast = re.search(r'<total type="fast" count="\d+" size="(\d+)"', body)
        out.append((int(system.group(1)) if system else 0,
                    (int(free.group(1)) if free else 0) + (int(fast.group(1)) if fast else 0)))
    return out


def rss_by_kind():
    """Resident bytes per kind of mapping: "[heap]", "[stack]", "code+data" (shared objects
    and files), "anon>=1M" (large anonymous mappings: the caching allocator's blocks, glibc's
    thread arenas and large chunks), "anon<1M" (thread stacks, small mappings)."""
    out, kind = {}, None
    try:
        with open("/proc/self/smaps") as f:
            for line in f:
                p = line.split()
                if not p[0].endswith(":"):
                    lo, hi = (int(x, 16) for x in p[0].split("-"))
                    name = p[5] if len(p) > 5 else ""
                    if name.startswith("["):
                        kind = name
                    elif name:
                        kind = "code+data"
                    else:
                        kind = "anon>=1M" if hi - lo >= 1 << 20 else "anon<1M"
                elif p[0] == "Rss:":
                    out[kind] = out.get(kind, 0) + int(p[1]) * 1024
    except OSError:
        return {}
    return out


def snapshot():
    """rss_by_kind(), mallinfo() and malloc_arenas() in one dict (keys of the latter two
    prefixed "malloc ")."""
    d = rss_by_kind()
    d.update({"malloc " + k: v for k, v in mallinfo().items()})
    arenas = malloc_arenas()
    if arenas:
        d["malloc main arena free"] = arenas[0][1]
        d["malloc thread arenas"] = sum(a[0] for a in arenas[1:])
        d["malloc thread arenas free"] = sum(a[1] for a in arenas[1:])
    return d
