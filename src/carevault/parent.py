"""A child process's tie to its parent: it ends when the parent does, however it ends."""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time

_PR_SET_PDEATHSIG = 1


def die_with(parent: int) -> None:
    """End this process when ``parent`` does, even while its main thread is blocked: the
    kernel's parent-death signal, and a watchdog thread on the parent's pipe."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the signal was set
        os._exit(0)
    me = multiprocessing.parent_process()
    sentinel = me.sentinel if me is not None else None

    def watch() -> None:
        while os.getppid() == parent:
            if sentinel is not None and multiprocessing.connection.wait([sentinel], timeout=1.0):
                break
            if sentinel is None:
                time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()
