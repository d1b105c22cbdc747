"""Field sealing, beacons and normalizers."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carevault.crypto import aead
from carevault.crypto.beacons import BeaconIndex, beacon
from carevault.crypto.normalize import (
    email,
    identifier,
    iso_date,
    name,
    phone,
    phone_in,
    prefix,
    sounds_like,
)
from carevault.errors import IntegrityError, ValidationError

KEY = bytes(range(32))
CIPHER = aead.cipher(KEY)
AAD = b"t1|PATIENT|p1|ssn|1"


@given(st.binary(max_size=2000))
def test_seal_round_trips(plaintext: bytes) -> None:
    blob = aead.seal(CIPHER, 1, plaintext, AAD)
    assert aead.open_sealed(CIPHER, blob, AAD) == plaintext
    assert aead.version_of(blob) == 1
    assert blob != aead.seal(CIPHER, 1, plaintext, AAD)  # fresh nonce every time


def test_tampered_wrong_context_wrong_version_and_truncated_all_fail() -> None:
    blob = aead.seal(CIPHER, 1, b"123-45-6789", AAD)
    flipped = bytearray(blob)
    flipped[-1] ^= 1
    other_version = aead.HEADER.pack(1, 2) + blob[aead.HEADER.size :]
    cases = {
        "tampered": (KEY, bytes(flipped), AAD),
        "other field": (KEY, blob, b"t1|PATIENT|p1|email|1"),
        "other record": (KEY, blob, b"t1|PATIENT|p2|ssn|1"),
        "other tenant": (KEY, blob, b"t2|PATIENT|p1|ssn|1"),
        "wrong key version": (KEY, other_version, AAD),
        "wrong key": (os.urandom(32), blob, AAD),
        "truncated": (KEY, blob[:20], AAD),
        "empty": (KEY, b"", AAD),
        "unknown format": (KEY, b"\x09" + blob[1:], AAD),
    }
    for label, (key, data, aad) in cases.items():
        with pytest.raises(IntegrityError) as caught:
            aead.open_sealed(aead.cipher(key), data, aad)
        assert "ciphertext" in str(caught.value), label
        assert "6789" not in str(caught.value)


EMAIL = BeaconIndex("email", email, 32)
LAST = BeaconIndex("last_name", name, 16)


def test_beacons_are_stable_across_processes() -> None:
    here = beacon(KEY, EMAIL, "Jane.Doe@Example.com")
    code = (
        "from carevault.crypto.beacons import BeaconIndex, beacon;"
        "from carevault.crypto.normalize import email;"
        "print(beacon(bytes(range(32)), BeaconIndex('email', email, 32),"
        " ' jane.doe@example.COM '))"
    )
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert there.stdout.strip() == here


def test_beacons_differ_across_tenants_and_indexes_and_have_fixed_width() -> None:
    other_tenant = bytes(reversed(range(32)))
    assert beacon(KEY, EMAIL, "a@b.org") != beacon(other_tenant, EMAIL, "a@b.org")
    assert beacon(KEY, BeaconIndex("email_alt", email, 32), "a@b.org") != beacon(
        KEY, EMAIL, "a@b.org"
    )
    codes = {beacon(KEY, LAST, f"name{i}") for i in range(50)}
    assert all(c is not None and len(c) == 4 for c in codes)
    assert beacon(KEY, EMAIL, "   ") is None


def test_beacon_index_rules() -> None:
    with pytest.raises(ValidationError):
        BeaconIndex("email", email, 3)
    with pytest.raises(ValidationError):
        BeaconIndex("not an id", email, 16)


@given(st.text(st.characters(categories=["L"]), min_size=1, max_size=12))
def test_name_folds_case_accents_and_spacing(word: str) -> None:
    assert name(word) == name(word.upper()) == name(f"  {word} ") or name(word) is None
    assert name(f"{word}-{word}") == name(f"{word} {word}") == name(f"{word}'{word}")


def test_normalizers_handle_real_variants() -> None:
    assert email(" Jane.Doe@EXAMPLE.com ") == email("jane.doe@example.com")
    fullwidth = "\uff4a\uff41\uff4e\uff45"  # "jane" in fullwidth letters: NFKC folds them
    assert email(f"{fullwidth}@example.com") == "jane@example.com"
    assert phone("(415) 555-0132") == phone("+1 415.555.0132") == "+14155550132"
    assert phone("020 7946 0958", region="GB") == "+442079460958"
    assert phone_in("GB")("020 7946 0958") == "+442079460958"  # default region configurable
    assert name("Müller") == name("MULLER") == name("muller")
    assert name("O'Brien") == name("obrien")
    assert name("Łódź") == "lodz"
    assert prefix(3)("Schmidt") == "sch" and prefix(3)("Al") is None
    assert sounds_like("Smith") == sounds_like("Smyth")
    assert iso_date("2026-03-01T10:00:00Z") == "2026-03-01" and iso_date("March 1") is None
    assert identifier("mrn-00 12") == identifier("MRN0012")


@given(st.emails())
def test_email_normalizer_is_idempotent(address: str) -> None:
    once = email(address)
    assert (
        once is not None
        and email(once) == once
        and email(address.upper()) == email(address.lower())
    )


@given(st.from_regex(r"\(?[2-9][0-9]{2}\)?[ .-]?[2-9][0-9]{2}[ .-]?[0-9]{4}", fullmatch=True))
def test_phone_formats_of_one_number_agree(text: str) -> None:
    digits = "".join(c for c in text if c.isdigit())
    assert phone(text) == phone(digits) == phone("+1 " + text)
