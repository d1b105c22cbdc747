"""Field encryption, beacons and key management: PHI is sealed before any engine sees it."""

from carevault.crypto.beacons import BeaconIndex, beacon
from carevault.crypto.keyring import IndexKeys, Keyring
from carevault.crypto.providers import (
    AwsKmsKeyProvider,
    KeyProvider,
    LocalKeyProvider,
    PassphraseKeyProvider,
)

__all__ = [
    "AwsKmsKeyProvider",
    "BeaconIndex",
    "IndexKeys",
    "KeyProvider",
    "Keyring",
    "LocalKeyProvider",
    "PassphraseKeyProvider",
    "beacon",
]
