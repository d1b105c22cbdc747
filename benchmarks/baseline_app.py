"""The HTTP bench's baseline: a plain FastAPI + SQLAlchemy app on SQLite, no carevault.

It serves the same four operations the bench drives against carevault, as a typical app
would write them: patients in plaintext, no authentication, no audit trail, and a naive
check-then-insert booking (a conflict check, then an insert; no guard against a race).

Run as ``python -m benchmarks.baseline_app DIR PORT [PATIENTS]``: it seeds DIR/plain.db,
prints one JSON line (patient ids, a provider id) and serves on 127.0.0.1:PORT.
"""

from __future__ import annotations

import json
import sys
import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel
from sqlalchemy import String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker


class Base(DeclarativeBase):
    pass


class Patient(Base):
    __tablename__ = "patients"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    mrn: Mapped[str] = mapped_column(String(40), unique=True)
    first_name: Mapped[str]
    last_name: Mapped[str]
    date_of_birth: Mapped[date]
    email: Mapped[str | None]
    phone: Mapped[str | None]
    ssn: Mapped[str | None]
    status: Mapped[str] = mapped_column(default="ACTIVE")


class Appointment(Base):
    __tablename__ = "appointments"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    patient_id: Mapped[str] = mapped_column(index=True)
    provider_id: Mapped[str] = mapped_column(index=True)
    start: Mapped[datetime] = mapped_column(index=True)
    end: Mapped[datetime]
    status: Mapped[str] = mapped_column(default="scheduled")
    reason: Mapped[str | None]


class Booking(BaseModel):
    patient_id: str
    provider_id: str
    start: datetime
    end: datetime
    reason: str | None = None


def _patient(row: Patient) -> dict[str, Any]:
    return {
        "id": row.id,
        "mrn": row.mrn,
        "first_name": row.first_name,
        "last_name": row.last_name,
        "date_of_birth": row.date_of_birth.isoformat(),
        "email": row.email,
        "phone": row.phone,
        "ssn": row.ssn,
        "status": row.status,
    }


def _appointment(row: Appointment) -> dict[str, Any]:
    return {
        "id": row.id,
        "patient_id": row.patient_id,
        "provider_id": row.provider_id,
        "start": row.start.isoformat(),
        "end": row.end.isoformat(),
        "status": row.status,
        "reason": row.reason,
    }


def make_app(sessions: sessionmaker[Session]) -> FastAPI:
    app = FastAPI()

    @app.get("/bench/bare")
    def bare() -> dict[str, object]:
        return {"status": "ok", "items": [1, 2, 3]}

    @app.get("/patients/{patient_id}")
    def read_patient(patient_id: str) -> dict[str, Any]:
        with sessions() as db:
            row = db.get(Patient, patient_id)
            if row is None:
                raise HTTPException(404)
            return _patient(row)

    @app.post("/appointments", status_code=201)
    def book(body: Booking) -> dict[str, Any]:
        start, end = body.start.replace(tzinfo=None), body.end.replace(tzinfo=None)
        with sessions() as db:
            clash = db.scalar(
                select(Appointment.id).where(
                    Appointment.provider_id == body.provider_id,
                    Appointment.start < end,
                    Appointment.end > start,
                )
            )
            if clash is not None:
                raise HTTPException(409, "the provider is booked then")
            row = Appointment(
                id=str(uuid.uuid4()),
                patient_id=body.patient_id,
                provider_id=body.provider_id,
                start=start,
                end=end,
                reason=body.reason,
            )
            db.add(row)
            db.commit()
            return _appointment(row)

    @app.get("/providers/{provider_id}/timeline")
    def timeline(provider_id: str, start: datetime, end: datetime) -> dict[str, Any]:
        low, high = start.replace(tzinfo=None), end.replace(tzinfo=None)
        with sessions() as db:
            rows = db.scalars(
                select(Appointment)
                .where(
                    Appointment.provider_id == provider_id,
                    Appointment.start < high,
                    Appointment.end > low,
                )
                .order_by(Appointment.start)
            ).all()
            return {"appointments": [_appointment(r) for r in rows], "blocks": []}

    return app


def main() -> None:
    tmp, port = Path(sys.argv[1]), int(sys.argv[2])
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    engine = create_engine(f"sqlite:///{tmp}/plain.db", connect_args={"check_same_thread": False})
    Base.metadata.create_all(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)
    ids = []
    with sessions() as db:
        for i in range(count):
            row = Patient(
                id=str(uuid.uuid4()),
                mrn=f"MRN-{i:05d}",
                first_name="Ana",
                last_name=f"Lopez{i}",
                date_of_birth=date(1984, 3, 2),
                email=f"ana{i}@example.org",
                phone="+1 415 555 0100",
                ssn="123-45-6789",
            )
            db.add(row)
            ids.append(row.id)
        db.commit()
    print(json.dumps({"patients": ids, "doctor": str(uuid.uuid4())}), flush=True)
    uvicorn.run(make_app(sessions), host="127.0.0.1", port=port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
