"""A Python client generated from the live OpenAPI document (by openapi-python-client, as an
integrator would make one) drives a newcomer's first day: sign in, register a patient,
book, read the schedule, write and sign a note, invoice and take the payment.

Every call goes through the generated models, so a response that does not match its
declared schema fails to parse here; money travels as decimal strings.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pyotp
import pytest

from carevault.api.app import PREFIX, create_app
from carevault.domain.clinic import Role
from tests.api.conftest import PASSWORD, Api
from tests.api.served import Served

GENERATOR = Path(sys.prefix) / "tools" / "openapi-python-client" / "bin" / "openapi-python-client"
PACKAGE = "carevault_generated_client"


def _generate(served: Served, where: Path) -> ModuleType:
    """The client package generated from the document the server serves."""
    if not GENERATOR.exists():
        pytest.fail(f"{GENERATOR} is missing: `make test` installs it (make opc)")
    document = where / "openapi.json"
    document.write_bytes(httpx.get(f"{served.url}{PREFIX}/openapi.json", timeout=30).content)
    made = subprocess.run(
        [
            *(str(GENERATOR), "generate", "--path", str(document), "--meta", "none"),
            *("--output-path", str(where / PACKAGE)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    # every operation and model made it into the client (the one JSON Lines export aside)
    said = (made.stdout + made.stderr).splitlines()
    skipped = [line for line in said if line.startswith(("WARNING", "Unable"))]
    assert skipped == ["WARNING parsing GET /api/v1/audit/export within audit."], said
    sys.path.insert(0, str(where))
    return importlib.import_module(PACKAGE)


def _module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


def _signed_in(client_pkg: ModuleType, api: Api, role: Role, url: str) -> Any:
    """An authenticated client of ``role``, signed in through the generated operations."""
    sessions = "api.sessions"
    models = _module("models")
    anonymous = client_pkg.Client(base_url=url, raise_on_unexpected_status=True)
    user = api.user(role)
    sent = _module(f"{sessions}.sign_in").sync_detailed(
        client=anonymous, body=models.Login(email=user.email, password=PASSWORD)
    )
    if sent.status_code == 202:  # this role signs in with a one-time code
        assert isinstance(sent.parsed, models.MfaTicket)
        secret = api.rt.auth.enroll_totp(api.world.tenant, user.id)
        code = pyotp.TOTP(secret).now()
        sent = _module(f"{sessions}.finish_sign_in").sync_detailed(
            client=anonymous, body=models.Mfa(mfa_ticket=sent.parsed.mfa_ticket, code=code)
        )
    assert sent.status_code == 201, sent.content
    tokens = sent.parsed
    assert isinstance(tokens, models.TokenPair) and tokens.token_type == "Bearer"
    return client_pkg.AuthenticatedClient(
        base_url=url, token=tokens.access_token, raise_on_unexpected_status=True
    )


def test_a_generated_client_drives_the_newcomer_path(sqlite_api: Api, tmp_path: Path) -> None:
    api = sqlite_api
    with Served(create_app(api.rt)) as served:
        pkg = _generate(served, tmp_path)
        m = _module("models")
        staff = _signed_in(pkg, api, Role.STAFF, served.url)
        doctor = _signed_in(pkg, api, Role.DOCTOR, served.url)
        billing = _signed_in(pkg, api, Role.BILLING, served.url)
        provider = api.world.doctor.id

        # the front desk registers a patient and books the first free time
        made = _module("api.patients.register_patient").sync_detailed(
            client=staff,
            body=m.NewPatient(
                mrn="MRN-GEN-1",
                first_name="Ana",
                last_name="Lopez",
                date_of_birth=date(1984, 3, 2),
                gender=m.Gender("FEMALE"),
                phone="+1 415 555 0142",
            ),
        )
        assert made.status_code == 201
        patient = made.parsed
        assert isinstance(patient, m.Patient) and patient.last_name == "Lopez"
        assert made.headers["location"].endswith(f"/patients/{patient.id}")
        read = _module("api.patients.read_patient").sync(patient.id, client=staff)
        assert isinstance(read, m.Patient) and read.date_of_birth == date(1984, 3, 2)

        availability = _module("api.users_and_providers.provider_availability")
        day, slots = api.world.practice.local_date(api.world.practice.now()), []
        for _ in range(14):
            day += timedelta(days=1)
            slots = availability.sync(provider, client=staff, day=day).items
            if slots:
                break
        assert slots, "the doctor has a free time within two weeks"
        booked = _module("api.appointments.book_appointment").sync(
            client=staff,
            body=m.Booking(
                patient_id=patient.id,
                provider_id=provider,
                start=slots[0].start,
                end=slots[0].end,
                reason="First visit",
            ),
        )
        assert isinstance(booked, m.Appointment) and booked.start == slots[0].start
        schedule = _module("api.appointments.clinic_schedule").sync(client=staff, day=day)
        assert isinstance(schedule, m.AppointmentPage)
        assert booked.id in [a.id for a in schedule.items]

        # the doctor writes the visit's note and signs it
        note = _module("api.care.draft_note").sync(
            client=doctor,
            body=m.NewClinicalNote(
                patient_id=patient.id, provider_id=provider, assessment="Tension headache"
            ),
        )
        assert isinstance(note, m.ClinicalNote) and note.status == m.NoteStatus("DRAFT")
        signed = _module("api.care.sign_note").sync(
            note.id, client=doctor, if_match=f'"{note.version}"'
        )
        assert isinstance(signed, m.ClinicalNote) and signed.status == m.NoteStatus("SIGNED")

        # billing invoices the visit in dollars and takes the whole amount by card
        invoice = _module("api.invoices.create_invoice").sync(
            client=billing,
            body=m.NewInvoice(
                patient_id=patient.id,
                line_items=[m.NewLineItem(description="Consultation", unit_price="150.00")],
            ),
        )
        assert isinstance(invoice, m.Invoice)
        assert (invoice.total, invoice.currency) == ("150.00", "USD")
        issued = _module("api.invoices.issue_invoice").sync(
            invoice.id, client=billing, if_match=f'"{invoice.version}"'
        )
        assert isinstance(issued, m.Invoice) and issued.status == m.InvoiceStatus("ISSUED")
        paid = _module("api.invoices.pay_invoice").sync(
            invoice.id,
            client=billing,
            if_match=f'"{issued.version}"',
            body=m.NewPayment(amount="150.00", method=m.PaymentMethod("CARD")),
        )
        assert isinstance(paid, m.Invoice)
        assert (paid.status, paid.balance, paid.paid) == (m.InvoiceStatus("PAID"), "0.00", "150.00")

        # a rule broken is a typed problem naming the field, not a crash of the client
        wrong = _module("api.invoices.pay_invoice").sync_detailed(
            invoice.id,
            client=billing,
            if_match=f'"{paid.version}"',
            body=m.NewPayment(amount="1.00", method=m.PaymentMethod("CARD")),
        )
        assert wrong.status_code == 409 and isinstance(wrong.parsed, m.Problem)
