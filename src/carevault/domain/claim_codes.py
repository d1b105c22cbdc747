"""The code sets a payer checks claims against (seed 004), shipped with carevault.

Formats are checked here (an NPI's check digit, an ICD-10-CM code's shape, a CPT or HCPCS
code, a modifier); the tables hold the subsets the adjudication uses, each code with its
meaning: plan types, places of service, claim adjustment group codes, claim adjustment
reason codes (CARC) and remittance advice remark codes (RARC). ``REFERENCE_VERSION``
names the edition of the tables, so a stored decision can say which one it was made by.
"""

from __future__ import annotations

import re
from enum import StrEnum

REFERENCE_VERSION = "2026.1"


def npi_valid(value: str) -> bool:
    """Whether ``value`` is a National Provider Identifier: 10 digits whose last is the
    Luhn check digit of the other nine prefixed with 80840 (the card issuer prefix the
    NPI standard assigns)."""
    if len(value) != 10 or not value.isascii() or not value.isdigit():
        return False
    digits = [int(c) for c in "80840" + value[:9]]
    total = 0
    for i, digit in enumerate(reversed(digits)):  # double every other digit, from the right
        doubled = digit * 2 if i % 2 == 0 else digit
        total += doubled - 9 if doubled > 9 else doubled
    return (10 - total % 10) % 10 == int(value[9])


ICD10CM = re.compile(r"[A-TV-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?", re.ASCII)
"""An ICD-10-CM diagnosis code: a letter (not U), a digit, a character, then up to four
more after the (optional) dot: ``E11.9``, ``S72.001A``, ``Z0000``."""
CPT = re.compile(r"[0-9]{4}[0-9FTU]", re.ASCII)
"""A CPT code: five digits (category I), or four and F or T (categories II, III), or U."""
HCPCS = re.compile(r"[A-CEGHJ-MP-V][0-9]{4}", re.ASCII)
"""A HCPCS level II code: a letter and four digits (``J1100``, ``G0438``)."""
MODIFIER = re.compile(r"[0-9A-Z]{2}", re.ASCII)


def diagnosis_valid(code: str) -> bool:
    """Whether ``code`` has the shape of an ICD-10-CM code (dot optional)."""
    return ICD10CM.fullmatch(code.upper()) is not None


def procedure_valid(code: str) -> bool:
    """Whether ``code`` is shaped as a CPT or a HCPCS level II procedure code."""
    upper = code.upper()
    return CPT.fullmatch(upper) is not None or HCPCS.fullmatch(upper) is not None


class PlanType(StrEnum):
    HMO = "HMO"
    PPO = "PPO"
    EPO = "EPO"
    POS = "POS"
    MEDICARE_ADVANTAGE = "MEDICARE_ADVANTAGE"
    MEDICAID = "MEDICAID"


NEEDS_PCP = frozenset({PlanType.HMO, PlanType.POS, PlanType.MEDICAID})
"""Plan types whose members must have a primary care provider (and referrals from them)."""

PLACES_OF_SERVICE: dict[str, str] = {
    "02": "Telehealth other than in the patient's home",
    "10": "Telehealth in the patient's home",
    "11": "Office",
    "12": "Home",
    "19": "Off campus outpatient hospital",
    "20": "Urgent care facility",
    "21": "Inpatient hospital",
    "22": "On campus outpatient hospital",
    "23": "Emergency room, hospital",
    "24": "Ambulatory surgical center",
    "31": "Skilled nursing facility",
    "32": "Nursing facility",
    "41": "Ambulance, land",
    "49": "Independent clinic",
    "50": "Federally qualified health center",
    "61": "Comprehensive inpatient rehabilitation facility",
    "65": "End-stage renal disease treatment facility",
    "71": "Public health clinic",
    "72": "Rural health clinic",
    "81": "Independent laboratory",
}
"""CMS place-of-service codes (the subset carevault's adjudication distinguishes)."""


class AdjustmentGroup(StrEnum):
    """Who bears an adjustment (X12 CAS01)."""

    CONTRACTUAL = "CO"  # the provider: over the allowed amount, a denial they cannot bill
    PATIENT = "PR"  # the patient: deductible, coinsurance, copay
    OTHER = "OA"  # other adjustments (coordination of benefits)
    PAYER_INITIATED = "PI"  # the payer's reduction


CARC: dict[str, str] = {
    "1": "Deductible amount",
    "2": "Coinsurance amount",
    "3": "Co-payment amount",
    "4": "The procedure code is inconsistent with the modifier used",
    "5": "The procedure code/type of bill is inconsistent with the place of service",
    "11": "The diagnosis is inconsistent with the procedure",
    "16": "Claim/service lacks information or has submission/billing error(s)",
    "18": "Exact duplicate claim/service",
    "22": "This care may be covered by another payer per coordination of benefits",
    "23": "The impact of prior payer(s) adjudication including payments and/or adjustments",
    "26": "Expenses incurred prior to coverage",
    "27": "Expenses incurred after coverage terminated",
    "29": "The time limit for filing has expired",
    "31": "Patient cannot be identified as our insured",
    "45": "Charge exceeds fee schedule/maximum allowable or contracted/legislated fee arrangement",
    "96": "Non-covered charge(s)",
    "97": "The benefit for this service is included in the payment/allowance for another service",
    "119": "Benefit maximum for this time period or occurrence has been reached",
    "181": "Procedure code was invalid on the date of service",
    "197": "Precertification/authorization/notification/pre-treatment absent",
    "198": "Precertification/notification/authorization/pre-treatment exceeded",
    "204": "This service/equipment/drug is not covered under the patient's current benefit plan",
    "242": "Services not provided by network/primary care providers",
    "243": "Services not authorized by network/primary care providers",
}
"""Claim adjustment reason codes (the subset adjudication gives), with their meanings."""

RARC: dict[str, str] = {
    "M15": "Separately billed services/tests have been bundled as they are considered "
    "components of the same procedure",
    "M51": "Missing/incomplete/invalid procedure code(s)",
    "M76": "Missing/incomplete/invalid diagnosis or condition",
    "MA04": "Secondary payment cannot be considered without the identity of or payment "
    "information from the primary payer",
    "MA130": "Your claim contains incomplete and/or invalid information, and no appeal "
    "rights are afforded because the claim is unprocessable",
    "N20": "Service not payable with other service rendered on the same date",
    "N54": "Claim information is inconsistent with pre-certified/authorized services",
    "N130": "Consult plan benefit documents/guidelines for information about restrictions "
    "for this service",
    "N381": "Consult our contractual agreement for restrictions/billing/payment information "
    "related to these charges",
}
"""Remittance advice remark codes (the subset adjudication gives), with their meanings."""


class ClaimStatus(StrEnum):
    """Where a claim stands (the payer's own statuses; X12 277 category codes map to them)."""

    RECEIVED = "RECEIVED"
    PENDED = "PENDED"
    APPROVED = "APPROVED"
    DENIED = "DENIED"
    PAID = "PAID"
    REVERSED = "REVERSED"  # replaced or voided: its amounts no longer stand
