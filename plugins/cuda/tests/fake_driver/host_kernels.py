"""The portable kernels compiled for the host, so that the fake driver can run what the plugin
launches: a host rendering of a program (the shared body after a C++ prelude of our own in
place of the CUDA one), built into a shared library with the system C++ compiler.

The fake driver identifies a module by the FNV-1a hash of the PTX the plugin hands it
(DEEPSEEK_CUDA_CODE=ptx) and loads ``$FAKE_CUDA_HOST_KERNELS/<hash>.so`` when it exists; each
kernel ``k`` is then ``ds_launch_k(grid, block, params)``: blocks one after another, the
threads of a block in a loop, or as real threads for kernels that synchronise at barriers
(as fibers: each runs to its next barrier, then the next one does; their shared memory is a
static array, which blocks run in turn may share).
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

PRELUDE = r"""
/* dialect: host C++ for the fake driver's kernels (tests only) */
#include <cmath>
#include <math.h>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <ucontext.h>
#include <utility>
#include <vector>
struct ds_dim3 { unsigned x, y, z; };
static thread_local ds_dim3 ds_tid, ds_bid;
static ds_dim3 ds_bdim, ds_gdim;
static ucontext_t ds_sched, *ds_fiber;
static int ds_current;
static inline void ds_barrier() { swapcontext(&ds_fiber[ds_current], &ds_sched); } /* the next thread's turn */
#define DS_KERNEL extern "C" void
#define DS_KERNEL_WG(x, y, z) extern "C" void
#define DS_FN static inline
#define DS_GLOBAL
#define DS_LOCAL static
#define DS_AXIS_0 x
#define DS_AXIS_1 y
#define DS_AXIS_2 z
#define DS_GID(d) ((long long)ds_bid.DS_AXIS_##d * ds_bdim.DS_AXIS_##d + ds_tid.DS_AXIS_##d)
#define DS_LID(d) ((int)ds_tid.DS_AXIS_##d)
#define DS_GROUP(d) ((long long)ds_bid.DS_AXIS_##d)
#define DS_BARRIER() ds_barrier()
typedef signed char i8;
typedef unsigned char u8;
typedef short i16;
typedef unsigned short u16;
typedef int i32;
typedef unsigned int u32;
typedef long long i64;
typedef unsigned long long u64;
typedef unsigned short f16;
static inline float ds_h2f(unsigned short h) { _Float16 v; memcpy(&v, &h, 2); return (float)v; }
static inline unsigned short ds_f2h(float f) { _Float16 v = (_Float16)f; unsigned short h; memcpy(&h, &v, 2); return h; }
static inline unsigned short ds_f2h(double d) { _Float16 v = (_Float16)d; unsigned short h; memcpy(&h, &v, 2); return h; }
#define DS_LOAD_F16(p, i) ds_h2f((p)[i])
#define DS_STORE_F16(p, i, v) ((p)[i] = ds_f2h(v))
static inline float ds_as_f32(u32 x) { float f; memcpy(&f, &x, 4); return f; }
static inline u32 ds_as_u32(float x) { u32 u; memcpy(&u, &x, 4); return u; }
static inline float ds_d2f_rz(double x) {
    float f = (float)x;
    if (std::isfinite(x) && std::fabs((double)f) > std::fabs(x)) f = std::nextafter(f, 0.0f);
    return f;
}
#define ds_mulhi_u32(a, b) ((u32)(((u64)(u32)(a) * (u64)(u32)(b)) >> 32))
#define DS_SAT(T, F, lo, hi) \
    static inline T ds_sat_##T(F x) { \
        return std::isnan(x) ? (T)0 : x <= (F)(lo) ? (T)(lo) : x >= (F)(hi) ? (T)(hi) : (T)x; }
#define DS_SATS(T, lo, hi) DS_SAT(T, float, lo, hi) DS_SAT(T, double, lo, hi)
DS_SATS(i8, -128, 127)
DS_SATS(u8, 0, 255)
DS_SATS(i16, -32768, 32767)
DS_SATS(i32, -2147483647 - 1, 2147483647)
DS_SATS(i64, -9223372036854775807LL - 1, 9223372036854775807LL)
#define DS_INFINITY ds_as_f32(0x7f800000u)
#define DS_NAN ds_as_f32(0x7fc00000u)
using std::isnan;
using std::isinf;
"""

RUNNER = r"""
template <typename... A, std::size_t... I>
static void ds_call_(void (*f)(A...), void **p, std::index_sequence<I...>) {
    f(*static_cast<std::remove_cv_t<std::remove_reference_t<A>> *>(p[I])...);
}
template <typename... A>
static void ds_call(void (*f)(A...), void **p) { ds_call_(f, p, std::index_sequence_for<A...>{}); }
struct ds_job { void (*fn)(void **); void **p; ds_dim3 tid, bid; bool done; };
static ds_job *ds_jobs;
static void ds_fiber_main() {
    ds_job *j = &ds_jobs[ds_current];
    j->fn(j->p);
    j->done = true; /* returns to ds_sched through uc_link */
}
static void ds_run(void (*fn)(void **), const unsigned *grid, const unsigned *block, void **p, bool turns) {
    ds_gdim = {grid[0], grid[1], grid[2]};
    ds_bdim = {block[0], block[1], block[2]};
    unsigned nt = block[0] * block[1] * block[2];
    const size_t stack = 256 * 1024;
    std::vector<ds_job> jobs(nt);
    std::vector<ucontext_t> fibers(turns ? nt : 0);
    std::vector<char> stacks(turns ? nt * stack : 0);
    ds_jobs = jobs.data();
    ds_fiber = fibers.data();
    for (unsigned bz = 0; bz < grid[2]; bz++)
        for (unsigned by = 0; by < grid[1]; by++)
            for (unsigned bx = 0; bx < grid[0]; bx++) {
                unsigned k = 0;
                ds_bid = {bx, by, bz};
                for (unsigned tz = 0; tz < block[2]; tz++)
                    for (unsigned ty = 0; ty < block[1]; ty++)
                        for (unsigned tx = 0; tx < block[0]; tx++, k++)
                            jobs[k] = {fn, p, {tx, ty, tz}, {bx, by, bz}, false};
                if (!turns) {
                    for (k = 0; k < nt; k++) {
                        ds_tid = jobs[k].tid;
                        fn(p);
                    }
                    continue;
                }
                for (k = 0; k < nt; k++) {
                    getcontext(&fibers[k]);
                    fibers[k].uc_stack.ss_sp = &stacks[k * stack];
                    fibers[k].uc_stack.ss_size = stack;
                    fibers[k].uc_link = &ds_sched;
                    makecontext(&fibers[k], ds_fiber_main, 0);
                }
                for (bool left = true; left;) { /* rounds: every thread runs to its next barrier */
                    left = false;
                    for (k = 0; k < nt; k++)
                        if (!jobs[k].done) {
                            ds_current = (int)k;
                            ds_tid = jobs[k].tid;
                            swapcontext(&ds_sched, &fibers[k]);
                            left = left || !jobs[k].done;
                        }
                }
            }
}
"""


def kernels_of(body: str) -> dict:
    """Kernel name -> whether it waits at barriers."""
    starts = [(m.start(), m.group(1)) for m in re.finditer(r"DS_KERNEL(?:_WG\([^)]*\))?\s+(\w+)\s*\(", body)]
    out = {}
    for i, (at, name) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else len(body)
        text = body[at:end]
        # a kernel may also call helpers that wait; the helpers' names are checked too
        calls = set(re.findall(r"\b(\w+)\s*\(", text))
        helpers = [h for h in calls if re.search(rf"DS_FN[^;{{]*\b{h}\s*\([^{{]*\{{(?:[^}}]|\}}(?!\n))*DS_BARRIER", body)]
        out[name] = "DS_BARRIER" in text or bool(helpers)
    return out


def host_source(program: str, body: str = None) -> str:
    """The host rendering of dtype ``program``'s kernels, or of ``body`` (a generated kernel,
    deepseek.backends.kernels.fused) when given."""
    from deepseek.backends import kernels

    if body is None:
        body = kernels.program_body(program, True)
    lines = [PRELUDE, body, RUNNER]
    for name, threads in kernels_of(body).items():
        lines.append(f'extern "C" void ds_tramp_{name}(void **p) {{ ds_call({name}, p); }}\n'
                     f'extern "C" void ds_launch_{name}(const unsigned *g, const unsigned *b, void **p) '
                     f'{{ ds_run(ds_tramp_{name}, g, b, p, {"true" if threads else "false"}); }}')
    return "\n".join(lines)


def fnv1a(data: bytes) -> str:
    """The fake driver's name for a PTX image: FNV-1a 64 of its text (up to the first NUL)."""
    h = 0xCBF29CE484222325
    for byte in data.split(b"\0")[0]:
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def build(program: str, ptx: bytes, out_dir: Path, body: str = None) -> Path:
    """Compiles program's host rendering (or ``body``'s) into out_dir/<hash of ptx>.so."""
    src = out_dir / f"{program if body is None else fnv1a(ptx)}.cpp"
    src.write_text(host_source(program, body))
    target = out_dir / f"{fnv1a(ptx)}.so"
    proc = subprocess.run(["c++", "-std=c++17", "-O1", "-ffp-contract=off", "-fPIC", "-shared", "-w", "-o",
                           str(target), str(src)], capture_output=True, text=True)
    assert proc.returncode == 0, f"building the host kernels of {program} failed:\n{proc.stderr[-6000:]}"
    return target
