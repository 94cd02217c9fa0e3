"""``python -m deepseek.distributed.run --nproc N script.py [args...]``: starts N processes of
``script.py`` under MPI's launcher (``mpirun``), each of which calls ``init_process_group``.

The command is ``mpirun -np N <this python> script.py args...`` plus, for Open MPI, what a
container or a small machine needs: ``--oversubscribe`` when N exceeds the cores, and running
as root allowed. ``-m module`` runs a module instead of a script; ``--hostfile`` spreads the
processes over machines; ``--mpirun-args`` passes anything else to mpirun. The exit status is
mpirun's: nonzero when any process failed (an uncaught exception aborts the whole job).
"""
from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys


def _open_mpi(mpirun: str) -> bool:
    try:
        out = subprocess.run([mpirun, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "Open MPI" in out.stdout + out.stderr or "OpenRTE" in out.stdout + out.stderr


def mpirun_command(nproc: int, program: list, hostfile=None, extra=(), mpirun=None) -> tuple:
    """(argv, environment) that start ``nproc`` copies of ``program`` (argv after the python
    interpreter) under mpirun."""
    mpirun = mpirun or os.environ.get("MPIRUN") or shutil.which("mpirun") or shutil.which("mpiexec")
    if mpirun is None:
        raise RuntimeError("deepseek.distributed.run: no mpirun found; install Open MPI (openmpi-bin) or set MPIRUN")
    argv, env = [mpirun, "-np", str(nproc)], dict(os.environ)
    if _open_mpi(mpirun):
        if hostfile is None and nproc > (os.cpu_count() or 1):
            argv.append("--oversubscribe")
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            # Open MPI refuses root unless told twice (flag for mpirun 5, variables for 4)
            argv.append("--allow-run-as-root")
            env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    if hostfile is not None:
        argv += ["--hostfile", hostfile]
    argv += list(extra)
    # a RANK/WORLD_SIZE left from an outer launcher would contradict MPI's
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        env.pop(k, None)
    return argv + [sys.executable] + list(program), env


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m deepseek.distributed.run",
                                 description="Run a training script on N processes under MPI.")
    ap.add_argument("--nproc", "--nproc-per-node", "--nproc_per_node", dest="nproc", type=int, default=1,
                    help="number of processes (default 1)")
    ap.add_argument("--hostfile", default=None, help="MPI hostfile naming the machines")
    ap.add_argument("--mpirun-args", default="", help="more arguments for mpirun, as one string")
    ap.add_argument("-m", dest="module", default=None, help="run a module (python -m) instead of a script")
    ap.add_argument("script", nargs="?", help="the training script")
    ap.add_argument("args", nargs=argparse.REMAINDER, help="the script's arguments")
    a = ap.parse_args(argv)
    if a.nproc < 1:
        ap.error(f"--nproc must be at least 1, got {a.nproc}")
    if a.module is not None:
        program = ["-m", a.module] + ([a.script] if a.script else []) + a.args
    elif a.script is not None:
        program = [a.script] + a.args
    else:
        ap.error("a script (or -m module) is required")
    cmd, env = mpirun_command(a.nproc, program, a.hostfile, shlex.split(a.mpirun_args))
    return subprocess.call(cmd, env=env)


if __name__ == "__main__":
    sys.exit(main())
