"""``carevault serve``: the REST API on uvicorn."""

from __future__ import annotations

import os
from typing import Annotated

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


def serve_command(
    store: StoreOption = None,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    workers: WorkersOption = 1,
) -> None:
    """Serve the REST API (interactive docs at /api/v1/docs)."""
    import uvicorn  # noqa: PLC0415 (only this command needs the server)

    if store:
        os.environ["CAREVAULT_STORE"] = store  # every worker process opens the same store
    console.print(f"carevault API on http://{host}:{port}/api/v1 — docs: /api/v1/docs")
    uvicorn.run(
        "carevault.api.app:serve_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,  # carevault's JSON logging (PHI-masked) stays in charge
        server_header=False,
        proxy_headers=False,
    )
