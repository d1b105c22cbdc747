"""Signed digests of a tenant's trail: every chain's length, head hash and Merkle root.

A digest is what an auditor keeps (or a witness log keeps for them): a later trail must
*extend* it — every chain at least as long, the same head hash and Merkle root at the
digest's length — so deleting, rolling back or restoring an older copy of the trail shows.
Its signature covers ``carevault digest|`` and the canonical JSON of the unsigned fields.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticError

from carevault.audit.signing import HeadSigner
from carevault.errors import ValidationError

Hex32 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class ChainState(BaseModel):
    """One chain as a digest saw it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    shard: int = Field(ge=0, lt=1024)
    size: int = Field(ge=0)
    head: Hex32  # the chain hash of its last event (zeros when empty)
    root: Hex32  # the Merkle root of its events (RFC 6962)


class Digest(BaseModel):
    """A signed statement of a tenant's trail at a moment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: str = Field(default="carevault-digest-v1", pattern=r"^carevault-digest-v1$")
    tenant: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    at: str = Field(pattern=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
    chains: tuple[ChainState, ...]
    kid: int = Field(default=0, ge=0)
    sig: str = Field(default="", pattern=r"^([0-9a-f]{128})?$")
    public_key: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")

    def message(self) -> bytes:
        """The bytes the signature covers."""
        body = self.model_dump(mode="json", include={"format", "tenant", "at", "chains"})
        return b"carevault digest|" + orjson.dumps(body, option=orjson.OPT_SORT_KEYS)

    def chain(self, shard: int) -> ChainState | None:
        return next((c for c in self.chains if c.shard == shard), None)

    def signed_by(self, signer: HeadSigner) -> bool:
        try:
            return signer.verify(self.kid, self.message(), bytes.fromhex(self.sig))
        except ValueError:
            return False

    def data(self) -> dict[str, Any]:
        """The digest as JSON types (what ``line`` writes)."""
        return self.model_dump(mode="json", exclude_none=True)

    def line(self) -> bytes:
        """The digest as one line of JSON."""
        return orjson.dumps(self.data())


def sign(tenant: str, chains: list[ChainState], signer: HeadSigner) -> Digest:
    """A digest of ``chains`` now, signed by the tenant's current audit key."""
    at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    unsigned = Digest(tenant=tenant, at=at, chains=tuple(sorted(chains, key=lambda c: c.shard)))
    kid, signature = signer.sign(unsigned.message())
    return unsigned.model_copy(update={"kid": kid, "sig": signature.hex()})


def parse(data: bytes | str | dict[str, Any], where: str = "digest") -> Digest:
    """A digest from its JSON; ValidationError naming the field and the rule otherwise."""
    try:
        raw = data if isinstance(data, dict) else orjson.loads(data)
        return Digest.model_validate(raw)
    except orjson.JSONDecodeError:
        raise ValidationError(where, "must be a JSON digest") from None
    except PydanticError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or where
        raise ValidationError(f"{where}.{field}", str(first["msg"]).lower()) from None
