"""Access tokens: short-lived JWTs signed with Ed25519 (EdDSA), naming their key (``kid``).

The signing keys live wrapped in the key table (platform scope) and rotate: a new key
signs from then on, and tokens signed by an older one still verify until they expire.
Only EdDSA is accepted: ``alg=none``, HMAC and any other algorithm are refused.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt

from carevault.audit.signing import Signer
from carevault.crypto.keyring import Keyring
from carevault.domain.ids import new_id
from carevault.errors import InvalidToken
from carevault.repo.records import PLATFORM

ISSUER = "carevault"
ACCESS_TTL = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Claims:
    """What a verified access token says."""

    subject: str
    tenant: str
    role: str
    session: str
    purpose: str
    expires: int
    scopes: tuple[str, ...] = ()  # an API client's permissions (users get their role's)
    jti: str = ""  # the token's own id (an MFA ticket's state is kept under it)


class TokenKeys:
    """Issues and verifies the platform's JWTs."""

    VERIFIED = 4096  # signatures remembered (a token is checked once per process, not per use)

    def __init__(self, ring: Keyring) -> None:
        ring.ensure_tenant(PLATFORM)
        self.signer = Signer(ring, PLATFORM)
        self._verified: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def issue(
        self,
        *,
        subject: str,
        tenant: str,
        role: str,
        session: str,
        now: datetime,
        purpose: str = "access",
        ttl: timedelta = ACCESS_TTL,
        scopes: tuple[str, ...] = (),
        jti: str | None = None,
    ) -> str:
        """A signed token for ``subject``."""
        version, key = self.signer.private_key()
        claims = {
            "iss": ISSUER,
            "sub": subject,
            "ten": tenant,
            "role": role,
            "sid": session,
            "pur": purpose,
            "iat": int(now.timestamp()),
            "exp": int((now + ttl).timestamp()),
            "jti": jti or new_id(),
        }
        if scopes:
            claims["scp"] = list(scopes)
        return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": str(version)})

    def verify(self, token: str, *, purpose: str = "access", now: datetime | None = None) -> Claims:
        """The claims of a genuine, unexpired token for ``purpose``; InvalidToken if not."""
        claims = self._genuine(token, check_expiry=now is None)
        if now is not None and claims["exp"] <= int(now.timestamp()):
            raise InvalidToken("token: expired")
        if now is not None and int(claims["iat"]) > int(now.timestamp()) + 60:
            raise InvalidToken("token: not a valid token")
        if claims.get("pur") != purpose:
            raise InvalidToken(f"token: not a {purpose} token")
        return Claims(
            claims["sub"],
            claims["ten"],
            claims["role"],
            claims["sid"],
            claims["pur"],
            claims["exp"],
            tuple(str(s) for s in claims.get("scp", ())),
            str(claims.get("jti", "")),
        )

    def rotate(self) -> int:
        """Sign with a new key from now on; returns its version."""
        return self.signer.rotate()

    def _genuine(self, token: str, check_expiry: bool) -> dict[str, Any]:
        """A token's payload once its EdDSA signature, by a key still held, is verified.

        A signature verified once is remembered (the expiry and purpose are checked on
        every use by the caller); a token naming an unknown key is refused before that.
        """
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != "EdDSA":
                raise InvalidToken("token: only EdDSA-signed tokens are accepted")
            kid = int(str(header.get("kid", "")))
            key = self.signer.public_key(kid)
            if key is None:
                raise InvalidToken("token: signed with an unknown key")
            with self._lock:
                known = self._verified.get(token)
            if known is not None and not check_expiry:
                return known
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=["EdDSA"],
                issuer=ISSUER,
                options={
                    "require": ["exp", "iat", "sub", "iss"],
                    "verify_exp": check_expiry,
                    "verify_iat": check_expiry,  # with a clock of its own, checked by the caller
                },
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("token: expired") from None
        except (jwt.PyJWTError, ValueError):
            raise InvalidToken("token: not a valid token") from None
        with self._lock:
            self._verified[token] = claims
            while len(self._verified) > self.VERIFIED:
                self._verified.popitem(last=False)
        return claims
