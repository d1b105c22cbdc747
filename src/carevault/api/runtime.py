"""What the API serves from: the store, the keyring, the blob store, the authenticator."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from carevault.access.auth import Authenticator
from carevault.api.protocol import RateLimiter
from carevault.blobs import BlobStore, open_blobs
from carevault.config import Settings
from carevault.crypto.keyring import Keyring
from carevault.errors import ConfigurationError
from carevault.store import Store


@dataclass(frozen=True)
class Limits:
    """Per-principal request rates and request sizes."""

    per_minute: int = 600  # requests of one user (or one address, before sign-in)
    login_per_minute: int = 20  # sign-in attempts of one address
    max_body: int = 25 * 1024 * 1024  # documents are the largest bodies

    @classmethod
    def from_env(cls) -> Limits:
        """The defaults, or ``CAREVAULT_RATE_PER_MINUTE``, ``CAREVAULT_LOGIN_PER_MINUTE``
        and ``CAREVAULT_MAX_BODY_BYTES`` where they are set (positive integers)."""
        given = {}
        for name, variable in ENV.items():
            raw = os.environ.get(variable)
            if raw is None:
                continue
            if not raw.isdigit() or int(raw) < 1:
                raise ConfigurationError(f"{variable}: must be a positive whole number")
            given[name] = int(raw)
        return cls(**given)


ENV = {
    "per_minute": "CAREVAULT_RATE_PER_MINUTE",
    "login_per_minute": "CAREVAULT_LOGIN_PER_MINUTE",
    "max_body": "CAREVAULT_MAX_BODY_BYTES",
}


@dataclass
class Runtime:
    store: Store
    ring: Keyring
    blobs: BlobStore | None = None
    limits: Limits = field(default_factory=Limits)
    auth: Authenticator = field(init=False)
    rates: RateLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.auth = Authenticator(self.store, self.ring)
        self.rates = RateLimiter(self.store)

    @classmethod
    def from_settings(cls, settings: Settings, limits: Limits | None = None) -> Runtime:
        """Open the store, keyring and blobs the settings name."""
        store, ring = settings.open()
        return cls(store, ring, open_blobs(settings.blobs_url), limits or Limits.from_env())

    def ready(self) -> None:
        """Raise unless the store answers and the root key unwraps the platform keys."""
        self.store.get("PLATFORM#READY", "#")
        self.auth.tokens.signer.private_key()
