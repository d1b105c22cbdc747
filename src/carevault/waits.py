"""How long a read of PHI may wait for its audit event before it fails (never for ever)."""

from __future__ import annotations

import os

from carevault.errors import ConfigurationError

DEADLINE_VAR = "CAREVAULT_AUDIT_DEADLINE"  # seconds (default 5, 0.5 to 60)


def audit_deadline() -> float:
    """Seconds a read waits for its audit event (``CAREVAULT_AUDIT_DEADLINE``)."""
    text = os.environ.get(DEADLINE_VAR, "5")
    try:
        seconds = float(text)
    except ValueError:
        raise ConfigurationError(f"{DEADLINE_VAR}: must be a number of seconds") from None
    if not 0.5 <= seconds <= 60:
        raise ConfigurationError(f"{DEADLINE_VAR}: must be from 0.5 to 60 seconds")
    return seconds
