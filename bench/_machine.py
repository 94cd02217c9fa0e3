"""Machine facts the benchmark scripts share (standard library only)."""
import os


def physical_cores() -> int:
    """Physical core count from /proc/cpuinfo (distinct (physical id, core id) pairs); fallback 2."""
    try:
        pairs, phys, core = set(), None, None
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("physical id"):
                    phys = line.split(":")[1].strip()
                elif line.startswith("core id"):
                    core = line.split(":")[1].strip()
                elif not line.strip():
                    if core is not None:
                        pairs.add((phys, core))
                    phys, core = None, None
        if core is not None:
            pairs.add((phys, core))
        if pairs:
            return len(pairs)
    except OSError:
        pass
    return 2


_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "RAYON_NUM_THREADS")


def pin_threads(argv) -> int:
    """The ``--threads N`` of ``argv`` (default: the physical cores), exported to every thread
    pool's environment variable before NumPy, PyTorch or deepseek is imported, so all peers run
    on the same count; OMP_WAIT_POLICY=PASSIVE unless set (spinning OpenMP workers distort a
    side-by-side run on a busy box). Call it before those imports."""
    threads = physical_cores()
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            threads = int(argv[i + 1])
        elif arg.startswith("--threads="):
            threads = int(arg.split("=", 1)[1])
    for var in _THREAD_VARS:
        os.environ[var] = str(threads)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return threads
