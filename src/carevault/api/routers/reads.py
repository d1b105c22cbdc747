"""Read by id: one ``GET /{resources}/{id}`` for every resource a POST creates (an
invoice's read is audited with the purpose PAYMENT).

The repository's gate decides each read (role, care, the patient's own login) and masks
what the caller may not see; an unknown, foreign or malformed id is the same 404.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Response

from carevault.access.caller import Caller
from carevault.api.contract import shown
from carevault.api.deps import caller, payment_caller
from carevault.api.routers.shapes import with_etag
from carevault.api.routing import Route
from carevault.domain.base import Entity
from carevault.domain.billing import Invoice
from carevault.domain.clinical import ClinicalNote, Document, MedicalRecord, TreatmentRecord
from carevault.domain.intake import Consent, InsuranceVerification, Registration
from carevault.domain.scheduling import Appointment, TimeBlock

router = APIRouter(route_class=Route, tags=["read by id"])

READ: dict[str, tuple[type[Entity], str]] = {
    "appointments": (Appointment, "appointment_id"),
    "time-blocks": (TimeBlock, "block_id"),
    "notes": (ClinicalNote, "note_id"),
    "records": (MedicalRecord, "record_id"),
    "documents": (Document, "document_id"),
    "treatment-records": (TreatmentRecord, "treatment_id"),
    "consents": (Consent, "consent_id"),
    "insurance-verifications": (InsuranceVerification, "verification_id"),
    "invoices": (Invoice, "invoice_id"),
    "registrations": (Registration, "registration_id"),
}
"""Each collection path, the entity it holds and the name of its id in the path."""


def _reader(path: str, entity: type[Entity], name: str) -> None:
    what = path[:-1].replace("-", " ")

    def read(
        entity_id: str = Path(alias=name, min_length=1, max_length=64),
        c: Caller = Depends(payment_caller if entity is Invoice else caller),  # noqa: B008
    ) -> Response:
        return with_etag(c.practice.uow[entity].require(entity_id))

    router.add_api_route(
        f"/{path}/{{{name}}}",
        read,
        methods=["GET"],
        response_model=shown(entity),
        summary=f"Read a {what} (masked for the caller)",
        operation_id=f"read_{path.replace('-', '_')[:-1]}",
    )


for _path, (_entity, _name) in READ.items():
    _reader(_path, _entity, _name)
