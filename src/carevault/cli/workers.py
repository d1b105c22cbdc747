"""``carevault serve --workers N``: N uvicorn processes, each on its own socket of one port.

uvicorn's own supervisor hands every worker one shared listening socket: whichever worker
wakes first accepts everything queued, so a burst of keep-alive connections (a proxy's, a
load generator's) lands on one worker while the others idle. Here each worker binds the
port with ``SO_REUSEPORT`` and the kernel spreads new connections over them. Workers are
spawned (never forked), die with the supervisor however it ends, and one that dies after
it started serving is started again; one that dies at once stops them all (a store that
cannot be opened would only die again).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import time
from multiprocessing.process import BaseProcess
from types import FrameType

from carevault.parent import die_with

SPAWN = multiprocessing.get_context("spawn")
STARTUP_SECONDS = 10.0  # a worker that dies sooner did not start: stop, do not loop
STOP_SECONDS = 30.0  # each worker's graceful shutdown, then it is killed
BACKLOG = 2048


def listening(host: str, port: int) -> socket.socket:
    """A socket listening on ``host:port`` beside the other workers' (``SO_REUSEPORT``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say so;
    # with it on, a response's last small write waits out the client's delayed ACK (40 ms)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    return sock


def _worker(host: str, port: int, parent: int) -> None:
    """One worker process: the app on its own socket of the port, until told to stop."""
    die_with(parent)
    import uvicorn  # noqa: PLC0415 (a fresh interpreter: imported where it runs)

    from carevault.cli.serve import UVICORN  # noqa: PLC0415

    config = uvicorn.Config("carevault.api.app:serve_app", factory=True, **UVICORN)
    uvicorn.Server(config).run(sockets=[listening(host, port)])


class Supervisor:
    """Starts the workers, restarts one that dies, stops them all on SIGTERM or SIGINT."""

    def __init__(self, host: str, port: int, workers: int) -> None:
        self.host, self.port, self.count = host, port, workers
        self.stopping = False
        self.failed = False
        self.workers: list[tuple[BaseProcess, float]] = []

    def _start(self) -> tuple[BaseProcess, float]:
        process = SPAWN.Process(
            target=_worker,
            args=(self.host, self.port, os.getpid()),
            name="carevault-worker",
            daemon=False,  # it runs a store's appender process of its own
        )
        process.start()
        return process, time.monotonic()

    def _stop_on(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def run(self) -> int:
        """Serve until told to stop; the exit status (1 if a worker could not start)."""
        signal.signal(signal.SIGTERM, self._stop_on)
        signal.signal(signal.SIGINT, self._stop_on)
        self.workers = [self._start() for _ in range(self.count)]
        while not self.stopping:
            sentinels = [p.sentinel for p, _ in self.workers]
            multiprocessing.connection.wait(sentinels, timeout=0.5)
            for i, (process, started) in enumerate(self.workers):
                if process.is_alive() or self.stopping:
                    continue
                if time.monotonic() - started < STARTUP_SECONDS:
                    self.failed = self.stopping = True  # it would only die again
                    break
                self.workers[i] = self._start()
        self._stop_all()
        return 1 if self.failed else 0

    def _stop_all(self) -> None:
        for process, _ in self.workers:
            if process.is_alive():
                process.terminate()  # uvicorn shuts down gracefully on SIGTERM
        give_up = time.monotonic() + STOP_SECONDS
        for process, _ in self.workers:
            process.join(timeout=max(give_up - time.monotonic(), 0.1))
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
