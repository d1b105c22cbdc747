"""``carevault serve``: the REST API on uvicorn."""

from __future__ import annotations

import os
import socket
from typing import Annotated, Any

import typer

from carevault.cli.common import StoreOption, console

HostOption = Annotated[
    str, typer.Option("--host", envvar="CAREVAULT_HOST", help="Address to listen on")
]
PortOption = Annotated[
    int, typer.Option("--port", envvar="CAREVAULT_PORT", min=1, max=65535, help="Port")
]
WorkersOption = Annotated[
    int, typer.Option("--workers", envvar="CAREVAULT_WORKERS", min=1, max=64, help="Processes")
]


UVICORN: dict[str, Any] = {
    "log_config": None,  # carevault's JSON logging (PHI-masked) stays in charge
    "access_log": False,  # carevault logs each request itself: its route, never its path
    "server_header": False,
    "proxy_headers": False,
}
"""How carevault runs uvicorn (the command and the tests' server use the same)."""


def port_free(host: str, port: int) -> bool:
    """Whether ``host:port`` can be listened on now (a busy port is told before serving)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def serve_command(
    store: StoreOption = None,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    workers: WorkersOption = 1,
) -> None:
    """Serve the REST API (docs at /, /api/v1/docs and /api/v1/redoc)."""
    import uvicorn  # noqa: PLC0415 (only this command needs the server)

    if not port_free(host, port):
        console.print(
            f"[red]error:[/red] port {port} on {host} is in use; "
            "choose another with --port or CAREVAULT_PORT",
            soft_wrap=True,  # one line, whatever the terminal's width
        )
        raise typer.Exit(1)
    if store:
        os.environ["CAREVAULT_STORE"] = store  # every worker process opens the same store
    base = f"http://{host}:{port}"
    console.print(
        f"carevault API on {base}/api/v1 — docs: {base}/api/v1/docs (ReDoc: /api/v1/redoc)",
        soft_wrap=True,  # one line in a log too, whatever the terminal's width
    )
    if workers > 1:  # each worker on its own socket of the port (carevault.cli.workers)
        from carevault.cli.workers import Supervisor  # noqa: PLC0415

        status = Supervisor(host, port, workers).run()
        if status:
            console.print("[red]error:[/red] a worker could not start; see its log above")
        raise typer.Exit(status)
    uvicorn.run("carevault.api.app:serve_app", factory=True, host=host, port=port, **UVICORN)
