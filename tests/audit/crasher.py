"""Writes and reads PHI forever, saying on stdout what returned, until it is killed."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from carevault.audit.recorder import AuditContext
from carevault.crypto import Keyring, LocalKeyProvider
from carevault.domain.patient import Patient
from carevault.services import patients
from carevault.services.practice import Practice
from carevault.store import open_store


def main(data: str, keys: str, root: str, tenant: str) -> None:
    store = open_store(f"sqlite:///{data}")
    ring = Keyring(open_store(f"sqlite:///{keys}"), LocalKeyProvider.load(Path(root)))
    n = 0
    while True:
        n += 1
        request = f"{os.getpid()}-{n}"
        context = AuditContext(actor="crasher", role="STAFF", request_id=request)
        practice = Practice.open(store, ring, tenant, audit=context)
        person = patients.register(
            practice=practice,
            mrn=f"K-{request}",
            first_name="Kill",
            last_name="Test",
            date_of_birth="1980-01-01",
            gender="OTHER",
        )
        print(f"W {request} {person.id}", flush=True)
        practice.uow[Patient].require(person.id)
        print(f"R {request} {person.id}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:5])
