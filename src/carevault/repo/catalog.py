"""The record types carevault stores; index rotation and shredding sweep these.

The practice-management domain registers its entities here as it is built; until then
the catalog is empty and a sweep has no records to visit.
"""

from __future__ import annotations

from carevault.repo.records import RecordType

RECORD_TYPES: tuple[RecordType, ...] = ()
