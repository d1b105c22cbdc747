"""Resource routers of ``/api/v1``."""
