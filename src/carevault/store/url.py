"""Opening a store from its URL.

    sqlite:///relative/path.db   sqlite:////absolute/path.db   [?synchronous=full|normal]
    postgresql://user[:password]@host:port/db   [?schema=carevault&pool_max=10&timeout=10]
    dynamodb://TABLE   [?region=us-east-1&endpoint=http://127.0.0.1:8000&timeout=10]

Unknown parameters are refused, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from carevault.errors import ConfigurationError
from carevault.store.base import Store

TABLE_RE = re.compile(r"[A-Za-z0-9_.-]{3,255}")
PG_OWN = {"schema", "pool_min", "pool_max", "timeout"}


def _params(query: str, allowed: set[str], passthrough: bool = False) -> dict[str, str]:
    params = dict(parse_qsl(query, keep_blank_values=True))
    unknown = set(params) - allowed
    if unknown and not passthrough:
        raise ConfigurationError(f"store URL: unknown parameter {sorted(unknown)[0]!r}")
    return params


def _number(
    params: dict[str, str], name: str, default: float, cast: Callable[[str], float]
) -> float:
    if name not in params:
        return default
    try:
        value = cast(params[name])
    except ValueError:
        raise ConfigurationError(f"store URL: {name} must be a number") from None
    if value <= 0:
        raise ConfigurationError(f"store URL: {name} must be positive")
    return value


def redact(url: str) -> str:
    """The URL without any password, for display."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def open_store(url: str) -> Store:
    """A store for ``url``; the engine is chosen by the scheme."""
    if not isinstance(url, str) or "://" not in url:
        raise ConfigurationError(
            "store URL: must look like sqlite:///path, postgresql://… or dynamodb://TABLE"
        )
    scheme = url.split("://", 1)[0].lower()
    opener = _OPENERS.get(scheme)
    if opener is not None:
        store = opener(url)
        store.url = url
        return store
    raise ConfigurationError(f"store URL: unknown engine {scheme!r} (sqlite, postgresql, dynamodb)")


def _sqlite(url: str) -> Store:
    from carevault.store.sqlite import SYNCHRONOUS, SqliteStore

    rest = url[len("sqlite://") :]
    path, _, query = rest.partition("?")
    if not path.startswith("/") or len(path) < 2:
        raise ConfigurationError("store URL: sqlite needs a file, as sqlite:///path/to/file.db")
    path = path[1:]
    params = _params(query, {"synchronous", "busy_timeout"})
    synchronous = params.get("synchronous", "full").upper()
    if synchronous not in SYNCHRONOUS:
        raise ConfigurationError("store URL: synchronous must be off, normal, full or extra")
    busy = _number(params, "busy_timeout", 30.0, float)
    return SqliteStore(path, synchronous=synchronous, busy_timeout=busy)


def _postgres(url: str) -> Store:
    from carevault.store.postgres import PostgresStore

    parts = urlsplit(url)
    params = _params(parts.query, PG_OWN, passthrough=True)
    driver = {k: v for k, v in params.items() if k not in PG_OWN}
    conninfo = urlunsplit(
        parts._replace(scheme="postgresql", query=urlencode(driver, quote_via=quote))
    )
    return PostgresStore(
        conninfo,
        schema=params.get("schema", "carevault"),
        pool_min=int(_number(params, "pool_min", 1, int)),
        pool_max=int(_number(params, "pool_max", 10, int)),
        timeout=_number(params, "timeout", 10.0, float),
    )


def _dynamodb(url: str) -> Store:
    from carevault.store.dynamodb import DynamoStore

    parts = urlsplit(url)
    table = parts.netloc
    if not TABLE_RE.fullmatch(table) or parts.path not in ("", "/"):
        raise ConfigurationError(
            "store URL: dynamodb needs a table name of 3-255 letters, digits, '_', '-' or '.'"
        )
    params = _params(parts.query, {"region", "endpoint", "timeout"})
    endpoint = params.get("endpoint") or None
    if endpoint is not None and not endpoint.startswith(("http://", "https://")):
        raise ConfigurationError("store URL: endpoint must be an http:// or https:// URL")
    return DynamoStore(
        table,
        region=params.get("region", "us-east-1"),
        endpoint=endpoint,
        timeout=_number(params, "timeout", 10.0, float),
    )


_OPENERS = {
    "sqlite": _sqlite,
    "postgresql": _postgres,
    "postgres": _postgres,
    "dynamodb": _dynamodb,
}
