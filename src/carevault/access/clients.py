"""API clients (service accounts): a secret shown once, kept as an argon2id hash, and scopes.

A client authenticates with ``{clinic}.{client id}.{secret}``; its principal has exactly
the permissions of its scopes, nothing from any role.
"""

from __future__ import annotations

import secrets

from argon2.exceptions import InvalidHashError, VerificationError

from carevault.access.policy import Principal
from carevault.crypto.keyring import Keyring
from carevault.domain.clinic import ApiClient, Role
from carevault.domain.ids import check_id
from carevault.errors import AuthenticationFailed, CarevaultError, StaleVersion
from carevault.repo.credentials import HASHER
from carevault.repo.records import PLATFORM
from carevault.repo.unit import UnitOfWork
from carevault.store import Store


def create_client(*, uow: UnitOfWork, name: str, scopes: list[str]) -> tuple[ApiClient, str]:
    """A new API client of ``uow``'s clinic (or the platform) and its credential (shown once)."""
    secret = secrets.token_urlsafe(32)
    client = ApiClient.create(
        name=name,
        scopes=sorted(set(scopes)),
        secret_hash=HASHER.hash(secret),
        created_by=uow.actor,
    )
    saved = uow[ApiClient].add(client)
    uow.commit()
    return saved, f"{uow.tenant}.{client.id}.{secret}"


def clients(*, uow: UnitOfWork) -> list[ApiClient]:
    """Every API client of the clinic (hashes and all; callers show what they may)."""
    return list(uow[ApiClient].query_all("gsi1", "CLIENT"))


def deactivate_client(*, uow: UnitOfWork, client_id: str, version: int) -> ApiClient:
    """Stop a client: its credential and every token it holds stop working at once."""
    current = uow[ApiClient].for_change(client_id)
    if current.version != version:
        raise StaleVersion(f"api client: is at version {current.version}, not {version}")
    saved = uow[ApiClient].update(current.changed(active=False))
    uow.commit()
    return saved


def authenticate_client(*, store: Store, ring: Keyring, credential: str) -> Principal:
    """The principal of a valid, active client credential; AuthenticationFailed if not."""
    try:
        tenant, client_id, secret = credential.split(".", 2)
        if tenant != PLATFORM:
            check_id(tenant, "credential")
        client = UnitOfWork(store, ring, tenant)[ApiClient].get(client_id)
    except (ValueError, CarevaultError):  # malformed credentials name nothing
        HASHER.hash("x" * 43)
        raise AuthenticationFailed("client credential is not valid") from None
    if client is None or not client.active:
        HASHER.hash(secret)
        raise AuthenticationFailed("client credential is not valid")
    try:
        HASHER.verify(client.secret_hash, secret)
    except (VerificationError, InvalidHashError):
        raise AuthenticationFailed("client credential is not valid") from None
    return Principal.of(
        tenant, f"client:{client.id}", Role.SERVICE, permissions=frozenset(client.scopes)
    )
