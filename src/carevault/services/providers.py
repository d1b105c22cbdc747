"""The clinic's provider directory: every provider, or those of one specialization."""

from __future__ import annotations

from carevault.domain.clinic import ProviderProfile
from carevault.repo.unit import Listing
from carevault.services.practice import Practice


def directory(
    *, practice: Practice, specialty: str | None = None, limit: int = 50, cursor: str | None = None
) -> Listing[ProviderProfile]:
    """Providers' profiles by id, of one specialization when given (one query)."""
    repository = practice.uow[ProviderProfile]
    if specialty is None:
        return repository.query("gsi1", "PROVIDER", limit=limit, cursor=cursor)
    partition = f"PROVIDER#SPECIALTY#{specialty}"
    return repository.query("gsi5", partition, limit=limit, cursor=cursor)
