"""Running test work on several threads at once."""

from __future__ import annotations

import threading
from collections.abc import Callable


def concurrently(work: Callable[[int], None], count: int) -> list[BaseException]:
    """Run ``work(0)`` … ``work(count - 1)`` on threads of their own; what they raised."""
    failures: list[BaseException] = []

    def run(k: int) -> None:
        try:
            work(k)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return failures
