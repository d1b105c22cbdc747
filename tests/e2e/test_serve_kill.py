"""``carevault serve`` killed under load leaves nothing behind: no process, a free port."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx

from carevault.domain.clinic import Role
from tests.api.conftest import make_api
from tests.e2e.processes import CLI, alive, descendants, home_world, port_free, serve_env
from tests.engines import free_port


def test_a_killed_server_leaves_no_process_and_frees_its_port(tmp_path: Path) -> None:
    world = home_world(tmp_path)
    people = [world.patient().id for _ in range(4)]
    token = make_api(world).tokens(Role.STAFF)["access_token"]
    env = serve_env(world)
    port = free_port()
    base = f"http://127.0.0.1:{port}/api/v1"
    headers = {"Authorization": f"Bearer {token}"}
    for round_ in range(11):  # ten kills, then the eleventh start must serve
        server = subprocess.Popen(
            [str(CLI), "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            give_up = time.monotonic() + 60
            while True:
                assert server.poll() is None, f"round {round_}: the server stopped"
                assert time.monotonic() < give_up, f"round {round_}: the server never served"
                try:
                    if httpx.get(f"{base}/patients/{people[0]}", headers=headers).status_code:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            if round_ == 10:
                break
            stop = threading.Event()

            def load(k: int, stop: threading.Event = stop) -> None:
                with httpx.Client(timeout=5) as client:
                    while not stop.is_set():
                        try:
                            answer = client.get(f"{base}/patients/{people[k % 4]}", headers=headers)
                            assert answer.status_code in (200, 503), answer.text
                        except httpx.TransportError:
                            return

            clients = [threading.Thread(target=load, args=(k,)) for k in range(8)]
            for c in clients:
                c.start()
            give_up = time.monotonic() + 30
            while len(descendants(server.pid)) < 2:  # the appender and its resource tracker
                assert time.monotonic() < give_up, f"round {round_}: no appender started"
                time.sleep(0.05)
            time.sleep(0.3)
            family = descendants(server.pid)
            os.kill(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
            stop.set()
            for c in clients:
                c.join(timeout=30)
            give_up = time.monotonic() + 10
            while any(alive(p) for p in family):
                left = sorted(p for p in family if alive(p))
                assert time.monotonic() < give_up, f"round {round_}: processes {left} outlived it"
                time.sleep(0.05)
            assert port_free(port), f"round {round_}: the port is still held"
        finally:
            if server.poll() is None:
                server.kill()
                server.wait(timeout=10)
