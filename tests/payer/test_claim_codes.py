"""The shipped code sets: formats checked as the standards define them, tables whose
entries keep the shapes their standards give them."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from carevault.domain.claim_codes import (
    CARC,
    PLACES_OF_SERVICE,
    RARC,
    diagnosis_valid,
    npi_valid,
    procedure_valid,
)

# 1234567893 is the worked example of the NPI check digit in CMS's NPI standard; the other
# two are billing providers' NPIs of the 5010 implementation guides' sample claims
KNOWN_NPIS = ("1234567893", "1112223338", "1122334455")


def test_published_npis_are_valid_and_near_misses_are_not() -> None:
    for npi in KNOWN_NPIS:
        assert npi_valid(npi), npi
    wide = "".join(chr(0xFF10 + int(c)) for c in KNOWN_NPIS[0])  # full-width digits
    for bad in ("1234567890", "123456789", "12345678933", "123456789X", wide):
        assert not npi_valid(bad), bad


@given(st.sampled_from(KNOWN_NPIS), st.integers(0, 9), st.integers(1, 9))
def test_any_single_digit_changed_breaks_the_check_digit(npi: str, at: int, by: int) -> None:
    digits = list(npi)
    digits[at] = str((int(digits[at]) + by) % 10)
    assert not npi_valid("".join(digits))  # Luhn catches every single-digit error


@given(st.sampled_from(KNOWN_NPIS), st.integers(0, 8))
def test_swapping_two_adjacent_different_digits_breaks_it(npi: str, at: int) -> None:
    digits = list(npi)
    a, b = digits[at], digits[at + 1]
    if a == b or {a, b} == {"0", "9"}:  # the one transposition Luhn cannot see
        return
    digits[at], digits[at + 1] = b, a
    assert not npi_valid("".join(digits))


def test_diagnosis_and_procedure_shapes() -> None:
    for code in ("E11.9", "E119", "S72.001A", "Z00.00", "J45.909", "M54.5", "e11.9"):
        assert diagnosis_valid(code), code
    for code in ("U07.1", "E1", "11.9", "E11.99999", "E11-9", ""):
        assert not diagnosis_valid(code), code
    for code in ("99213", "0001F", "0042T", "J1100", "G0438", "A0428"):
        assert procedure_valid(code), code
    for code in ("9921", "992133", "D0120", "I1100", "99213-25", ""):
        assert not procedure_valid(code), code


def test_code_tables_hold_codes_of_their_standards_shape_each_with_a_meaning() -> None:
    assert all(re.fullmatch(r"[0-9]{2}", c) for c in PLACES_OF_SERVICE)
    assert all(re.fullmatch(r"[0-9]{1,3}|[A-Z][0-9]", c) for c in CARC)
    assert all(re.fullmatch(r"[A-Z]{1,2}[0-9]{1,3}", c) for c in RARC)
    for table in (PLACES_OF_SERVICE, CARC, RARC):
        assert all(meaning.strip() and meaning[0].isupper() for meaning in table.values())
    # the reasons the adjudication rules of seed 004 need are there
    assert {"1", "2", "3", "18", "29", "45", "27", "197", "242"} <= set(CARC)
