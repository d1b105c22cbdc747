"""A clinic seeded where ``carevault serve`` finds it; the processes of the running
server, read from /proc, and its port."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

from carevault.store import Store, open_store
from tests.domain.world import World, make_world

CLI = Path(sys.executable).with_name("carevault")


def home_world(home: Path) -> World:
    """A clinic in the stores ``CAREVAULT_HOME=home carevault serve`` opens (data, keys)."""

    def make() -> Store:
        name = "carevault" if not (home / "carevault.db").exists() else "carevault-keys"
        store = open_store(f"sqlite:///{home}/{name}.db")
        store.create_table()
        return store

    return make_world(make, home)


def serve_env(world: World) -> dict[str, str]:
    """Closes the world's stores (the server opens its own) and names their home only."""
    world.store.close()
    world.ring.keys.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREVAULT_")}
    env["CAREVAULT_HOME"] = str(world.tmp)
    return env


def children() -> dict[int, list[int]]:
    """Every live process's children, by parent pid (from /proc)."""
    found: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z":
            found.setdefault(int(fields[1]), []).append(int(entry))
    return found


def descendants(pid: int) -> set[int]:
    tree, found, todo = children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def port_free(port: int) -> bool:
    """Whether a server could listen on ``port`` now (as uvicorn does, with SO_REUSEADDR)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            s.listen()
        except OSError:
            return False
    return True
