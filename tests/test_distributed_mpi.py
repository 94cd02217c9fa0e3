"""deepseek.distributed on 2 MPI processes (``mpirun -np 2``): every collective against NumPy,
DistributedDataParallel against single-process training, and faults ending the job.

Each test is one job of tests/distributed_worker.py under a wall-clock bound, so a hang fails
the test instead of stalling CI. Skipped without mpirun or mpi4py (``make test`` installs both;
DEEPSEEK_REQUIRE_MPI=1 turns the skip into a failure).
"""
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "distributed_worker.py")


def _missing():
    if shutil.which("mpirun") is None:
        return "mpirun not found (make system-deps installs Open MPI)"
    if importlib.util.find_spec("mpi4py") is None:
        return "mpi4py not installed (pip install 'deepseek[distributed]')"
    return None


if _missing() and os.environ.get("DEEPSEEK_REQUIRE_MPI") == "1":
    raise RuntimeError(f"DEEPSEEK_REQUIRE_MPI=1 but {_missing()}")
pytestmark = pytest.mark.skipif(_missing() is not None, reason=str(_missing()))


def run_job(argv, env, bound):
    """Runs a job in its own session; killed (and the test failed) once ``bound`` seconds pass."""
    p = subprocess.Popen(argv, env=env, cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         start_new_session=True)
    try:
        out, _ = p.communicate(timeout=bound)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        pytest.fail(f"job hung for {bound} s: {argv}\n{out[-4000:]}")
    return p.returncode, out


def mpirun(case, bound):
    from deepseek.distributed.run import mpirun_command

    argv, env = mpirun_command(2, [WORKER, case])
    return run_job(argv, env, bound)


@pytest.mark.parametrize("case,mode", [("collectives", "threaded"), ("collectives_polled", "polled")])
def test_collectives_match_numpy_on_two_ranks(case, mode):
    rc, out = mpirun(case, 120)
    assert rc == 0, out[-6000:]
    # (mpirun may interleave the ranks' lines, so the reports are found by pattern)
    done = re.findall(r"collectives ok: (\d+) checks, (threaded|polled)", out)
    assert len(done) == 2, out[-3000:]
    assert all(int(n) > 1000 and m == mode for n, m in done), done


def test_ddp_equals_single_process_through_the_launcher():
    env = dict(os.environ)
    rc, out = run_job([sys.executable, "-m", "deepseek.distributed.run", "--nproc", "2", WORKER, "ddp"], env, 120)
    assert rc == 0, out[-6000:]
    assert len(re.findall(r"ddp ok: \d+ checks", out)) == 2, out[-3000:]


def test_plain_python_is_a_world_of_one():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMIX_"))}
    rc, out = run_job([sys.executable, WORKER, "single"], env, 60)
    assert rc == 0 and "single ok" in out, out[-3000:]


@pytest.mark.parametrize("case,message", [("fail", "ValueError: rank 1 fails on purpose"),
                                          ("exit", "rank 1 exits with status 3; aborting the job")])
def test_failing_rank_aborts_the_job_with_its_error(case, message):
    rc, out = mpirun(case, 60)
    assert rc != 0
    assert message in out, out[-3000:]
    assert "unreachable" not in out


def test_rank_that_never_arrives_times_out():
    rc, out = mpirun("timeout", 60)
    assert rc != 0
    assert "all_reduce: timed out after 2 s" in out, out[-3000:]
    assert "unreachable" not in out
