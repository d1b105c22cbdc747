"""Entities of the practice-management and payer domains (pure: no storage, no crypto)."""

from carevault.domain.audit import AuditEvent
from carevault.domain.base import Entity, Key, Search
from carevault.domain.billing import Invoice
from carevault.domain.clinic import ApiClient, Clinic, ProviderProfile, User
from carevault.domain.clinical import ClinicalNote, Document, MedicalRecord, TreatmentRecord
from carevault.domain.intake import (
    Consent,
    InsuranceVerification,
    Invitation,
    Message,
    Registration,
    Session,
)
from carevault.domain.members import Enrollment, Member
from carevault.domain.patient import Patient
from carevault.domain.scheduling import Appointment, TimeBlock
from carevault.domain.staffing import StaffInvitation, StaffMessage

ENTITIES: tuple[type[Entity], ...] = (
    Clinic,
    User,
    ProviderProfile,
    Patient,
    Appointment,
    TimeBlock,
    ClinicalNote,
    MedicalRecord,
    Document,
    Invoice,
    TreatmentRecord,
    Consent,
    InsuranceVerification,
    Registration,
    Invitation,
    Message,
    StaffInvitation,
    StaffMessage,
    Session,
    ApiClient,
    Member,
    Enrollment,
    AuditEvent,
)
"""Every stored entity; the data-model table in docs/data-model.md is generated from it."""

__all__ = [
    "ENTITIES",
    "ApiClient",
    "Appointment",
    "AuditEvent",
    "Clinic",
    "ClinicalNote",
    "Consent",
    "Document",
    "Enrollment",
    "Entity",
    "InsuranceVerification",
    "Invitation",
    "Invoice",
    "Key",
    "MedicalRecord",
    "Member",
    "Message",
    "Patient",
    "ProviderProfile",
    "Registration",
    "Search",
    "Session",
    "StaffInvitation",
    "StaffMessage",
    "TimeBlock",
    "TreatmentRecord",
    "User",
]
