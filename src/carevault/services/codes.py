"""Single-use codes sent by email (portal and staff invitations, password resets).

Only a code's digest is stored; a platform-wide pointer item under the digest names the
clinic and invitation, so a code alone finds its invitation (and nothing else does).
"""

from __future__ import annotations

import hashlib


def digest(code: str) -> str:
    """The stored form of a code: its SHA-256 (a code is random and single-use)."""
    return hashlib.sha256(code.encode()).hexdigest()


def pointer(kind: str, code_digest: str) -> tuple[str, str]:
    """The key of the item pointing from a code's digest to its invitation."""
    return f"{kind}#{code_digest}", "#"
