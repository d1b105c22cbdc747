"""The record types carevault stores; index rotation and shredding sweep these."""

from __future__ import annotations

from carevault.repo.mapping import record_types
from carevault.repo.records import RecordType

RECORD_TYPES: tuple[RecordType, ...] = record_types()
