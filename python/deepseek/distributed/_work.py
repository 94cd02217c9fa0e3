"""Work handles of asynchronous collectives, waited for under a timeout."""
from __future__ import annotations

import datetime
import time


def seconds(timeout) -> float:
    """A ``timedelta`` or a number of seconds as seconds."""
    if isinstance(timeout, datetime.timedelta):
        return timeout.total_seconds()
    return float(timeout)


def _timed_out(what, timeout_s, where):
    return RuntimeError(f"{what}: timed out after {timeout_s:g} s waiting for the other ranks ({where}); a rank "
                        "stopped, crashed without aborting the job, or called a different collective")


def wait_for(pending, what: str, timeout_s: float, where: str):
    """Polls ``pending`` until it completes; RuntimeError after ``timeout_s`` seconds.

    An operation on a communicator's thread is waited for without polling. MPI progresses
    non-blocking operations inside the test calls, so for those the first 100 ms poll
    continuously (as a blocking MPI call would; a large all-reduce advances one step per test)
    and longer waits back off to spare the cores.
    """
    if pending.test():
        return
    start = time.monotonic()
    if hasattr(pending, "block"):  # running on a communicator's thread: sleep until it is done
        if not pending.block(timeout_s):
            raise _timed_out(what, timeout_s, where)
        pending.test()
        return
    while True:
        if pending.test():
            return
        waited = time.monotonic() - start
        if waited > timeout_s:
            raise _timed_out(what, timeout_s, where)
        if waited > 1.0:
            time.sleep(5e-4)
        elif waited > 0.1:
            time.sleep(5e-5)


class Work:
    """Handle of an operation started with ``async_op=True``, as ``torch.distributed.Work``.

    ``wait()`` blocks until the operation has completed (RuntimeError once the process group's
    timeout has passed); ``is_completed()`` asks without blocking.

    Example::

        >>> work = dist.all_reduce(t, async_op=True)
        >>> ...                      # overlap other work
        >>> work.wait()              # t now holds the sum over ranks
    """

    def __init__(self, pending, what: str, timeout_s: float, where: str, outputs=(), on_done=None):
        self._pending, self._what, self._timeout, self._where = pending, what, timeout_s, where
        self._outputs, self._on_done, self._exc = list(outputs), on_done, None

    def _finish(self):
        if self._on_done is not None:
            f, self._on_done = self._on_done, None
            f()

    def is_completed(self) -> bool:
        """Whether the operation has completed (without blocking)."""
        done = self._pending.test()
        if done:
            self._finish()
        return done

    def wait(self, timeout=None) -> bool:
        """wait(timeout=None): blocks until done; ``timeout`` (seconds or ``timedelta``) overrides
        the process group's. Returns True."""
        t = self._timeout if timeout is None else seconds(timeout)
        try:
            wait_for(self._pending, self._what, t, self._where)
        except RuntimeError as e:
            self._exc = e
            raise
        self._finish()
        return True

    def is_success(self) -> bool:
        return self._pending.done and self._exc is None

    def exception(self):
        return self._exc

    def result(self):
        """The operation's output tensors."""
        return self._outputs

    def _source_rank(self) -> int:
        """For a ``recv``/``irecv`` from any source: the rank the message came from."""
        return self._pending.status.Get_source() if self._pending.status is not None else -1
