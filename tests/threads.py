"""Running test work on several threads at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


def concurrently(
    work: Callable[[int], None], count: int, timeout: float = 300
) -> list[BaseException]:
    """Run ``work(0)`` … ``work(count - 1)`` on threads of their own; what they raised.

    A thread still running after ``timeout`` seconds counts as a failure (a hang).
    """
    failures: list[BaseException] = []

    def run(k: int) -> None:
        try:
            work(k)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(count)]
    for t in threads:
        t.start()
    give_up = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, give_up - time.monotonic()))
    hung = sum(t.is_alive() for t in threads)
    if hung:
        failures.append(TimeoutError(f"{hung} of {count} threads still running after {timeout} s"))
    return failures
