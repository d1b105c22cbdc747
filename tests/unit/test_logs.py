"""Structured logs mask anything that looks like PHI: messages, arguments, extras, tracebacks."""

from __future__ import annotations

import io
import logging

import orjson

from carevault.logs import MASK, configure, mask


def _logged(fn: object) -> dict[str, object]:
    stream = io.StringIO()
    handler = configure("DEBUG", stream)
    try:
        fn(logging.getLogger("carevault.test"))  # type: ignore[operator]
    finally:
        logging.getLogger().removeHandler(handler)
    line = stream.getvalue().strip().splitlines()[-1]
    return dict(orjson.loads(line))


def test_messages_and_arguments_are_masked() -> None:
    entry = _logged(
        lambda log: log.info("lookup for %s failed, ssn %s", "ann.lee@example.org", "987-65-4321")
    )
    assert entry["message"] == f"lookup for {MASK} failed, ssn {MASK}"
    assert entry["level"] == "INFO" and entry["logger"] == "carevault.test"


def test_extra_fields_are_masked_by_name_and_by_shape() -> None:
    entry = _logged(
        lambda log: log.warning(
            "request",
            extra={
                "email": "x",
                "path": "/patients?phone=+1 415 555 0132",
                "patient_id": "01J7ABC",
                "body": {"last_name": "Lee", "note": "born 1961-07-04, MRN-00412"},
            },
        )
    )
    assert entry["email"] == MASK
    assert entry["path"] == f"/patients?phone={MASK}"
    assert entry["patient_id"] == "01J7ABC"  # ids are not PHI
    assert entry["body"] == {"last_name": MASK, "note": f"born {MASK}, {MASK}"}


def test_tracebacks_are_masked() -> None:
    def fail(log: logging.Logger) -> None:
        try:
            raise ValueError("bad value ann.lee@example.org")
        except ValueError:
            log.exception("failed")

    entry = _logged(fail)
    assert "ann.lee@example.org" not in str(entry) and MASK in str(entry["exception"])


def test_timestamps_and_ids_survive() -> None:
    assert mask("at 2027-03-01T10:00:00Z id 01J7ABCDEF") == "at 2027-03-01T10:00:00Z id 01J7ABCDEF"
