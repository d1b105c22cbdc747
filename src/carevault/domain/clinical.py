"""Clinical content: SOAP notes, medical records, documents and treatment records."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from carevault.domain.base import Entity, FieldClass, Id, Key, Search, Short, UtcDateTime
from carevault.domain.base import FieldClass as C
from carevault.errors import InvalidTransition, ValidationError

_ICD10 = re.compile(r"^[A-TV-Z][0-9][0-9AB](\.?[0-9A-TV-Z]{1,4})?$")


def _icd10(value: str) -> str:
    code = value.strip().upper()
    if not _ICD10.match(code):
        raise ValueError("must be an ICD-10 code such as I25.9")
    return code if "." in code or len(code) == 3 else f"{code[:3]}.{code[3:]}"


Icd10 = Annotated[str, AfterValidator(_icd10)]


class Severity(StrEnum):
    MILD = "MILD"
    MODERATE = "MODERATE"
    SEVERE = "SEVERE"


class Diagnosis(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    code: Icd10
    description: str | None = Field(default=None, max_length=300)
    severity: Severity | None = None


class Prescription(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    medication: Short
    dosage: Short
    frequency: Short
    duration: str | None = Field(default=None, max_length=60)


CLINICAL_SEARCHES = (
    Search(index="diagnosis", field="diagnosis_codes", normalizer="identifier", bits=24),
    Search(index="medication", field="medications", normalizer="name", bits=20),
)
"""A12: notes and records are found by diagnosis code and by medication, in one index each."""


class NoteStatus(StrEnum):
    DRAFT = "DRAFT"
    SIGNED = "SIGNED"
    AMENDED = "AMENDED"


class ClinicalNote(Entity):
    """A SOAP note: editable as a draft, locked when signed; an amendment is a new note."""

    TYPE: ClassVar[str] = "NOTE"
    SERVER_OWNED: ClassVar[frozenset[str]] = frozenset(
        {"status", "signed_at", "signed_by", "amends", "amended_by"}
    )
    RESOURCE: ClassVar[str | None] = "note"
    CLASSES: ClassVar[dict[str, FieldClass]] = {
        "assessment": C.CLINICAL,
        "diagnosis_codes": C.CLINICAL,
        "medications": C.CLINICAL,
        "objective": C.CLINICAL,
        "plan": C.CLINICAL,
        "subjective": C.CLINICAL,
    }
    PHI: ClassVar[frozenset[str]] = frozenset(
        {"subjective", "objective", "assessment", "plan", "diagnosis_codes", "medications"}
    )
    KEYS: ClassVar[tuple[Key, ...]] = (
        Key(index="gsi1", pk="{TYPE}", sk="{id}", purpose="every note of the clinic"),
        Key(
            index="gsi4",
            pk="PROVIDER#{provider_id}#NOTE#{status}",
            sk="{created_at}#{id}",
            purpose="a provider's notes by status (drafts to sign)",
        ),
    )
    LOOKUPS: ClassVar[tuple[Search, ...]] = CLINICAL_SEARCHES
    REFS: ClassVar[dict[str, str]] = {
        "patient_id": "PATIENT",
        "provider_id": "PROVIDER",
        "appointment_id": "APPT",
        "amends": "NOTE",
    }

    patient_id: Id
    provider_id: Id
    appointment_id: Id | None = None
    subjective: str = Field(default="", max_length=20_000)
    objective: str = Field(default="", max_length=20_000)
    assessment: str = Field(default="", max_length=20_000)
    plan: str = Field(default="", max_length=20_000)
    diagnosis_codes: list[Icd10] = Field(default_factory=list, max_length=30)
    medications: list[Short] = Field(default_factory=list, max_length=50)
    status: NoteStatus = NoteStatus.DRAFT
    signed_at: UtcDateTime | None = None
    signed_by: str | None = None
    amends: Id | None = None  # the signed note this one amends
    amended_by: Id | None = None  # set on the old note when an amendment is signed

    CONTENT: ClassVar[frozenset[str]] = frozenset(
        {"subjective", "objective", "assessment", "plan", "diagnosis_codes", "medications"}
    )

    def edited(self, **content: object) -> ClinicalNote:
        """The draft with new content; a signed note is locked."""
        if self.status is not NoteStatus.DRAFT:
            raise InvalidTransition("note.status", "a signed note is locked: amend it instead")
        unknown = set(content) - self.CONTENT
        if unknown:
            raise ValidationError(f"note.{sorted(unknown)[0]}", "is not note content")
        return self.changed(**content)

    def signed(self, at: datetime, by: str) -> ClinicalNote:
        """The note signed: its content is locked from now on."""
        if self.status is not NoteStatus.DRAFT:
            raise InvalidTransition("note.status", f"cannot sign a {self.status.value} note")
        return self.changed(
            status=NoteStatus.SIGNED, signed_at=at, signed_by=by, updated_at=at, updated_by=by
        )


class Vitals(BaseModel):
    """Vital signs; decimals are exact (stored sealed, never as floats)."""

    model_config = ConfigDict(extra="forbid")
    blood_pressure: str | None = Field(default=None, pattern=r"^\d{2,3}/\d{2,3}$")
    heart_rate: int | None = Field(default=None, ge=20, le=300)
    temperature_f: Decimal | None = Field(default=None, ge=80, le=115, decimal_places=1)
    weight_kg: Decimal | None = Field(default=None, gt=0, le=700, decimal_places=1)
    height_cm: Decimal | None = Field(default=None, gt=0, le=300, decimal_places=1)
    respiratory_rate: int | None = Field(default=None, ge=4, le=80)
    oxygen_saturation: int | None = Field(default=None, ge=50, le=100)


class Visit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = Field(default="REGULAR_CHECKUP", max_length=40)
    duration_minutes: int | None = Field(default=None, ge=1, le=1440)
    location: str | None = Field(default=None, max_length=200)


class FollowUp(BaseModel):
    model_config = ConfigDict(extra="forbid")
    required: bool = False
    timeframe: str | None = Field(default=None, max_length=60)
    notes: str | None = Field(default=None, max_length=2000)


class RecordType(StrEnum):
    CONSULTATION = "CONSULTATION"
    LAB_RESULT = "LAB_RESULT"
    IMAGING = "IMAGING"
    PROCEDURE = "PROCEDURE"
    IMMUNIZATION = "IMMUNIZATION"
    DISCHARGE = "DISCHARGE"


class RecordStatus(StrEnum):
    DRAFT = "DRAFT"
    COMPLETED = "COMPLETED"


class MedicalRecord(Entity):
    """A visit's clinical record: vitals, ICD-10 diagnoses, prescriptions and follow-up."""

    TYPE: ClassVar[str] = "RECORD"
    RESOURCE: ClassVar[str | None] = "record"
    CLASSES: ClassVar[dict[str, FieldClass]] = {
        "chief_complaint": C.CLINICAL,
        "diagnoses": C.CLINICAL,
        "diagnosis_codes": C.CLINICAL,
        "follow_up": C.CLINICAL,
        "medications": C.CLINICAL,
        "prescriptions": C.CLINICAL,
        "procedures": C.CLINICAL,
        "recommendations": C.CLINICAL,
        "symptoms": C.CLINICAL,
        "visit": C.CLINICAL,
        "vitals": C.CLINICAL,
        "attachments": C.CLINICAL,
    }
    PHI: ClassVar[frozenset[str]] = frozenset(
        {
            "visit",
            "chief_complaint",
            "symptoms",
            "vitals",
            "diagnoses",
            "diagnosis_codes",
            "prescriptions",
            "medications",
            "procedures",
            "recommendations",
            "follow_up",
        }
    )
    KEYS: ClassVar[tuple[Key, ...]] = (
        Key(index="gsi1", pk="{TYPE}", sk="{id}", purpose="every record of the clinic"),
        Key(
            index="gsi5",
            pk="RECORD#TYPE#{record_type}",
            sk="{visit_date}#{id}",
            purpose="records by record type (A11)",
        ),
    )
    WHEN: ClassVar[str] = "{visit_date}"
    LOOKUPS: ClassVar[tuple[Search, ...]] = CLINICAL_SEARCHES
    REFS: ClassVar[dict[str, str]] = {
        "patient_id": "PATIENT",
        "provider_id": "PROVIDER",
        "appointment_id": "APPT",
    }

    patient_id: Id
    provider_id: Id
    appointment_id: Id | None = None
    record_type: RecordType = RecordType.CONSULTATION
    visit_date: UtcDateTime
    visit: Visit = Field(default_factory=Visit)
    chief_complaint: str | None = Field(default=None, max_length=2000)
    symptoms: list[Short] = Field(default_factory=list, max_length=50)
    vitals: Vitals = Field(default_factory=Vitals)
    diagnoses: list[Diagnosis] = Field(default_factory=list, max_length=30)
    diagnosis_codes: list[str] = Field(default_factory=list)  # derived from diagnoses
    prescriptions: list[Prescription] = Field(default_factory=list, max_length=50)
    medications: list[str] = Field(default_factory=list)  # derived from prescriptions
    procedures: list[Short] = Field(default_factory=list, max_length=50)
    recommendations: list[Short] = Field(default_factory=list, max_length=50)
    follow_up: FollowUp = Field(default_factory=FollowUp)
    attachments: list[Id] = Field(default_factory=list, max_length=50)  # document ids
    status: RecordStatus = RecordStatus.COMPLETED

    def model_post_init(self, context: object, /) -> None:
        object.__setattr__(self, "diagnosis_codes", [d.code for d in self.diagnoses])
        object.__setattr__(self, "medications", [p.medication for p in self.prescriptions])


class DocumentType(StrEnum):
    ECG_REPORT = "ECG_REPORT"
    LAB_REPORT = "LAB_REPORT"
    IMAGING = "IMAGING"
    REFERRAL = "REFERRAL"
    CONSENT_FORM = "CONSENT_FORM"
    INSURANCE_CARD = "INSURANCE_CARD"
    OTHER = "OTHER"


MIME_TYPES = frozenset(
    {
        "application/pdf",
        "image/png",
        "image/jpeg",
        "image/tiff",
        "text/plain",
        "application/dicom",
        "application/xml",
        "application/json",
    }
)


def _mime(value: str) -> str:
    if value not in MIME_TYPES:
        raise ValueError(f"must be one of {', '.join(sorted(MIME_TYPES))}")
    return value


class Document(Entity):
    """A file's metadata; the file itself is sealed in the blob store under ``blob_key``."""

    TYPE: ClassVar[str] = "DOC"
    SERVER_OWNED: ClassVar[frozenset[str]] = frozenset({"blob_key", "size", "checksum"})
    RESOURCE: ClassVar[str | None] = "document"
    CLASSES: ClassVar[dict[str, FieldClass]] = {
        "checksum": C.CLINICAL,
        "description": C.CLINICAL,
        "file_name": C.CLINICAL,
        "title": C.CLINICAL,
    }
    PHI: ClassVar[frozenset[str]] = frozenset({"title", "description", "file_name", "checksum"})
    KEYS: ClassVar[tuple[Key, ...]] = (
        Key(
            index="gsi5",
            pk="DOC#TYPE#{doc_type}",
            sk="{created_at}#{id}",
            purpose="documents by document type (A11)",
        ),
    )
    REFS: ClassVar[dict[str, str]] = {
        "patient_id": "PATIENT",
        "provider_id": "PROVIDER",
        "record_id": "RECORD",
    }

    patient_id: Id
    provider_id: Id | None = None
    record_id: Id | None = None
    doc_type: DocumentType = DocumentType.OTHER
    category: str | None = Field(default=None, max_length=60)
    title: str = Field(min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=2000)
    file_name: str = Field(min_length=1, max_length=255)
    mime_type: Annotated[str, AfterValidator(_mime)]
    size: int = Field(ge=1)
    checksum: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    blob_key: str = Field(min_length=1, max_length=200)


class SessionType(StrEnum):
    INDIVIDUAL = "INDIVIDUAL"
    GROUP = "GROUP"
    FAMILY = "FAMILY"
    ASSESSMENT = "ASSESSMENT"


class Attendance(StrEnum):
    ATTENDED = "ATTENDED"
    LATE = "LATE"
    NO_SHOW = "NO_SHOW"
    CANCELLED = "CANCELLED"


class TreatmentPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")
    goals: list[Short] = Field(default_factory=list, max_length=30)
    interventions: list[Short] = Field(default_factory=list, max_length=30)
    progress: str | None = Field(default=None, max_length=5000)


class TreatmentRecord(Entity):
    """A therapy session's record: type, duration, therapist, sealed notes and plan."""

    TYPE: ClassVar[str] = "TREATMENT"
    RESOURCE: ClassVar[str | None] = "treatment"
    CLASSES: ClassVar[dict[str, FieldClass]] = {"notes": C.CLINICAL, "plan": C.CLINICAL}
    PHI: ClassVar[frozenset[str]] = frozenset({"notes", "plan"})
    KEYS: ClassVar[tuple[Key, ...]] = (
        Key(
            index="gsi3",
            pk="PROVIDER#{therapist_id}",
            sk="{session_date}#TREATMENT#{id}",
            purpose="a therapist's sessions",
        ),
    )
    WHEN: ClassVar[str] = "{session_date}"
    REFS: ClassVar[dict[str, str]] = {"patient_id": "PATIENT", "therapist_id": "PROVIDER"}

    patient_id: Id
    therapist_id: Id
    session_date: UtcDateTime
    session_type: SessionType = SessionType.INDIVIDUAL
    duration_minutes: int = Field(ge=5, le=480)
    notes: str = Field(default="", max_length=20_000)
    plan: TreatmentPlan = Field(default_factory=TreatmentPlan)
    attendance: Attendance = Attendance.ATTENDED
    next_session: UtcDateTime | None = None
