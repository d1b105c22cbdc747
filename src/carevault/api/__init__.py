"""The REST API (``/api/v1``): FastAPI routers over the guarded services."""
