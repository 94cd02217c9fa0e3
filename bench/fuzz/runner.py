"""Explores each op with hypothesis, classifies every call, and shrinks one reproducer per
(op, class).

Exploring runs hypothesis's generate phase only and records every call, so the counts are
counts of drawn calls. Shrinking then reruns the same seed with the shrink phase on, and a
test that fails only for the class being shrunk; the last failing call hypothesis tried is
the smallest it found. A wall-clock budget per shrink keeps a slow class (a crash restarts
the worker each time) from taking over a run.
"""
from __future__ import annotations

import time
import warnings
import zlib
from dataclasses import dataclass, field

from hypothesis import HealthCheck, Phase, given, seed as hseed, settings
from hypothesis.errors import Flaky, HypothesisException

from .case import render
from .expect import CLASSES, Expect, R, Raises, Skip, Verdict, classify

try:  # hypothesis >= 6.x names the flaky-failure error FlakyFailure
    from hypothesis.errors import FlakyFailure as _FlakyFailure
except ImportError:  # pragma: no cover
    _FlakyFailure = Flaky


@dataclass
class Finding:
    op: str
    cls: str
    count: int = 0
    reproducer: list = field(default_factory=list)
    detail: str = ""
    shrunk: bool = False


@dataclass
class OpResult:
    op: str
    calls: int = 0
    agreed: int = 0
    skipped: int = 0
    unavailable: int = 0
    ref_errors: int = 0
    ref_error: str = ""
    counts: dict = field(default_factory=dict)
    findings: dict = field(default_factory=dict)
    seconds: float = 0.0


class _Found(Exception):
    pass


class _RefError(Exception):
    """The reference itself failed: a bug of the fuzzer's table, not of deepseek."""


def _settings(n, phases):
    return settings(max_examples=n, phases=phases, database=None, deadline=None, derandomize=False,
                    suppress_health_check=list(HealthCheck), report_multiple_bugs=False, print_blob=False)


def _op_seed(op_name, seed):
    return zlib.crc32(op_name.encode()) ^ (seed * 0x9E3779B1 & 0xFFFFFFFF)


class Evaluator:
    """Runs a call in the deepseek worker and compares it with the reference (the NumPy
    table, or the same call in a torch worker)."""

    def __init__(self, spec, worker, torch_worker=None):
        self.spec, self.worker, self.torch_worker = spec, worker, torch_worker
        self.device = getattr(worker, "device", None)

    def expected(self, call):
        try:
            table = self.spec.reference(call)
        except (Raises, Skip) as e:
            table = e
        except Exception as e:  # noqa: BLE001 - a bug of the table, reported as such
            table = _RefError(f"{type(e).__name__}: {e}")
        if self.torch_worker is None:
            return table
        exp = _from_torch(self.torch_worker.run(call), call)
        if isinstance(exp, Expect) and isinstance(table, Expect):
            # PyTorch's values, with the table's tolerances (sums are compared relative to the
            # magnitudes summed) and its tie-tolerant index checks
            exp.result = _borrow(exp.result, table.result)
            exp.after = _borrow(exp.after, table.after)
        return exp

    def __call__(self, call):
        exp = self.expected(call)
        if isinstance(exp, _RefError):
            return "ref_error", Verdict(None, str(exp))
        if isinstance(exp, Skip):
            return "skipped", None
        got = self.worker.run(call)
        if got.status == "unavailable":
            return "unavailable", None
        return "done", classify(got, exp)


def _borrow(got, table):
    if isinstance(got, R) and isinstance(table, R) and got.values.shape == table.values.shape:
        got.ulps, got.scale, got.atol, got.indices_of = table.ulps, table.scale, table.atol, table.indices_of
        return got
    if isinstance(got, (tuple, list)) and isinstance(table, (tuple, list)) and len(got) == len(table):
        return type(got)(_borrow(g, t) for g, t in zip(got, table))
    return got


def _builtin_exception(names):
    """The most specific built-in exception among a class's MRO names (torch's own error
    classes derive from RuntimeError, ValueError...)."""
    import builtins

    for n in names:
        if isinstance(getattr(builtins, n, None), type) and issubclass(getattr(builtins, n), BaseException):
            return n
    return "Exception"


def _from_torch(outcome, call):
    if outcome.status == "unavailable":
        return Skip("torch has no such op")
    if outcome.status in ("crash", "hang"):
        return Skip(f"torch {outcome.status}")
    if outcome.status == "raised":
        return Raises(_builtin_exception(outcome.exc), why=f"torch: {outcome.message[:120]}")
    return Expect(_to_expected(outcome.value), after=_to_expected(outcome.after) if call.inplace else None)


def _to_expected(v):
    from .case import TV

    if isinstance(v, TV):
        return R(v.data.astype("float64") if v.dtype in ("float16", "bfloat16", "float32") else v.data, v.dtype,
                 ulps=8.0)
    if isinstance(v, list):
        return [_to_expected(x) for x in v]
    if isinstance(v, tuple):
        return tuple(_to_expected(x) for x in v)
    return v


def explore(spec, evaluate, n, seed, deadline=None):
    """Runs ``n`` drawn calls of one op; returns an :class:`OpResult`."""
    res = OpResult(spec.name)
    t0 = time.monotonic()

    @_settings(n, [Phase.generate])
    @hseed(_op_seed(spec.name, seed))
    @given(spec.strategy)
    def probe(call):
        if deadline is not None and time.monotonic() > deadline:
            return
        res.calls += 1
        status, verdict = evaluate(call)
        if status == "skipped":
            res.skipped += 1
        elif status == "unavailable":
            res.unavailable += 1
        elif status == "ref_error":
            res.ref_errors += 1
            res.ref_error = res.ref_error or f"{verdict.detail} in {' / '.join(render(call))}"[:400]
        elif verdict.cls is None:
            res.agreed += 1
        else:
            res.counts[verdict.cls] = res.counts.get(verdict.cls, 0) + 1
            if verdict.cls not in res.findings:
                res.findings[verdict.cls] = Finding(spec.name, verdict.cls, 0, render(call, device=evaluate.device),
                                                    verdict.detail)

    try:
        probe()
    except HypothesisException:
        pass  # e.g. Unsatisfiable: the op's strategy could not draw enough calls
    except Exception as e:  # noqa: BLE001 - a bug of the op's strategy: reported, not fatal
        res.ref_errors += 1
        res.ref_error = res.ref_error or f"drawing calls: {type(e).__name__}: {e}"[:300]
    for cls, f in res.findings.items():
        f.count = res.counts[cls]
    res.seconds = time.monotonic() - t0
    return res


def shrink(spec, evaluate, cls, n, seed, budget_s=20.0):
    """The smallest call hypothesis finds for one mismatch class (or None)."""
    found = []
    stop = time.monotonic() + budget_s

    @_settings(n, [Phase.generate, Phase.shrink])
    @hseed(_op_seed(spec.name, seed))
    @given(spec.strategy)
    def probe(call):
        if time.monotonic() > stop:
            return
        status, verdict = evaluate(call)
        if status == "done" and verdict.cls == cls:
            found.append((call, verdict))
            raise _Found()

    try:
        probe()
    except (_Found, Flaky, _FlakyFailure, HypothesisException):
        pass  # found (and shrunk), or the budget ran out and the final replay passed
    except Exception:  # an exception group around the above, from some hypothesis versions
        if not found:
            raise
    if not found:
        return None
    call, verdict = found[-1]
    return render(call, device=evaluate.device), verdict.detail


def run(specs, worker, n=50, seed=0, shrink_classes=CLASSES, shrink_budget=20.0, torch_worker=None,
        progress=None, time_budget=None):
    """Explores every spec (and shrinks its findings); returns the list of OpResults."""
    results = []
    deadline = time.monotonic() + time_budget if time_budget else None
    warnings.filterwarnings("ignore", category=RuntimeWarning)  # the references compute with NaN and inf
    for i, spec in enumerate(specs):
        ev = Evaluator(spec, worker, torch_worker)
        r = explore(spec, ev, n, seed, deadline)
        for cls, f in r.findings.items():
            if cls in shrink_classes and cls != "hang":
                s = shrink(spec, ev, cls, n, seed, shrink_budget)
                if s is not None:
                    f.reproducer, f.detail = s
                    f.shrunk = True
        results.append(r)
        if progress:
            progress(i, len(specs), r)
    return results
