"""``carevault serve`` says where it serves in one line, even to a narrow log."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.e2e.processes import CLI, home_world, serve_env
from tests.engines import free_port


def test_the_banner_is_one_line_whatever_the_width(tmp_path: Path) -> None:
    env = {**serve_env(home_world(tmp_path)), "COLUMNS": "40"}
    port = free_port()
    server = subprocess.Popen(
        [str(CLI), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
    finally:
        server.terminate()
        server.wait(timeout=30)
    base = f"http://127.0.0.1:{port}"
    assert f"{base}/api/v1 " in first and f"{base}/api/v1/docs" in first, first
