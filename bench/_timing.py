"""Interleaved side-by-side timing the benchmark scripts share (standard library only)."""
import statistics


def _calibrate(fn, clock, warmup, min_sample_s=0.02):
    """Calls per sample so that one sample lasts at least min_sample_s (after `warmup` calls)."""
    for _ in range(warmup):
        fn()
    inner = 1
    while True:
        t0 = clock()
        for _ in range(inner):
            fn()
        dt = clock() - t0
        if dt >= min_sample_s or inner >= 1 << 16:
            return inner
        inner *= 2 if dt <= 0 else max(2, min(64, int(min_sample_s / dt) + 1))


def interleaved(fns, repeats, clock, warmup=2):
    """Median seconds per call of each fn, by `clock` (time.perf_counter, or time.process_time
    for one thread on a busy box); their samples alternate, so a busy spell on a shared machine
    slows all of them alike instead of one."""
    inners = [_calibrate(f, clock, warmup) for f in fns]
    samples = [[] for _ in fns]
    for _ in range(repeats):
        for f, inner, out in zip(fns, inners, samples):
            t0 = clock()
            for _ in range(inner):
                f()
            out.append((clock() - t0) / inner)
    return [statistics.median(s) for s in samples]
