"""Supervises a worker process: one case at a time, a time limit per case, and a fresh
worker after a crash or a hang (the outcome then says so, with the tail of its stderr)."""
from __future__ import annotations

import os
import pickle
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .case import Outcome
from .worker import _HEADER

_BENCH = str(Path(__file__).resolve().parent.parent)
_BOOT = ("import sys; sys.path.insert(0, {!r}); from fuzz.worker import main; "
         "main(sys.argv[1], sys.argv[2] or None)").format(_BENCH)


class WorkerStartError(RuntimeError):
    pass


class Worker:
    """A reusable worker for ``lib`` ("deepseek" or "torch"); ``run`` never raises for what
    the case does to the process."""

    def __init__(self, lib="deepseek", timeout=10.0, env=None, start_timeout=120.0, device=None):
        self.lib = lib
        self.device = device
        self.timeout = timeout
        self.start_timeout = start_timeout
        self.env = dict(os.environ if env is None else env)
        self.env.setdefault("RUST_BACKTRACE", "0")
        self.proc = None
        self.starts = 0

    def _start(self):
        self.err = tempfile.TemporaryFile(mode="a+b")
        self.proc = subprocess.Popen([sys.executable, "-c", _BOOT, self.lib, self.device or ""], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.err, env=self.env)
        self.starts += 1
        ready = self._read(self.start_timeout)
        if ready != "ready":
            tail = self._stderr_tail()
            self.close()
            raise WorkerStartError(f"the {self.lib} worker did not start: {ready!r}\n{tail}")

    def _stderr_tail(self, n=1500):
        try:
            self.err.flush()
            self.err.seek(0)
            data = self.err.read()
            return data[-n:].decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""

    def _read_exact(self, n, deadline):
        fd = self.proc.stdout.fileno()
        buf = bytearray()  # grows in place: a large result arrives in many pipe-sized chunks
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout"
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                return "timeout"
            chunk = os.read(fd, n - len(buf))
            if not chunk:
                return "eof"
            buf += chunk
        return bytes(buf)

    def _read(self, timeout):
        deadline = time.monotonic() + timeout
        head = self._read_exact(_HEADER.size, deadline)
        if isinstance(head, str):
            return head
        body = self._read_exact(_HEADER.unpack(head)[0], deadline)
        if isinstance(body, str):
            return body
        return pickle.loads(body)

    def run(self, call) -> Outcome:
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        self.err.seek(0)
        self.err.truncate()
        data = pickle.dumps(call, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self.proc.stdin.write(_HEADER.pack(len(data)) + data)
            self.proc.stdin.flush()
        except BrokenPipeError:
            return self._died()
        reply = self._read(self.timeout)
        if reply == "timeout":
            self.close()
            return Outcome("hang", message=f"no answer within {self.timeout:g} s")
        if reply == "eof":
            return self._died()
        return reply

    def _died(self):
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.close()
            rc = None
        how = f"killed by {signal.Signals(-rc).name}" if rc is not None and rc < 0 else f"exit status {rc}"
        tail = self._stderr_tail(600).strip().splitlines()
        self.proc = None
        return Outcome("crash", message=f"worker {how}; stderr: {' | '.join(tail[-4:])}"[:600])

    def close(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            for f in (self.proc.stdin, self.proc.stdout):
                try:
                    f.close()
                except OSError:
                    pass
            self.proc = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
