"""The machine a benchmark ran on: CPU model, logical and physical cores, load, OS, Python,
git revision (standard library only)."""
from __future__ import annotations

import datetime
import os
import platform
import subprocess


def _cpuinfo() -> list[dict]:
    """/proc/cpuinfo as one dict per logical CPU ([] where there is none)."""
    cpus, cur = [], {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    if cur:
                        cpus.append(cur)
                    cur = {}
                elif ":" in line:
                    k, v = line.split(":", 1)
                    cur[k.strip()] = v.strip()
    except OSError:
        return []
    if cur:
        cpus.append(cur)
    return cpus


def physical_cores() -> int:
    """Distinct (physical id, core id) pairs of /proc/cpuinfo; the logical count where unknown."""
    pairs = {(c.get("physical id"), c["core id"]) for c in _cpuinfo() if "core id" in c}
    return len(pairs) or os.cpu_count() or 1


def cpu_model() -> str:
    for c in _cpuinfo():
        if "model name" in c:
            return c["model name"]
    return platform.processor() or platform.machine()


def _git_head() -> str | None:
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(["git", "-C", here, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def environment() -> dict:
    """What the benchmark records about where it ran."""
    return {
        "time_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "machine": platform.machine(),
        "logical_cpus": os.cpu_count(),
        "physical_cores": physical_cores(),
        "loadavg_start": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "git_head": _git_head(),
    }
