"""Application logs: one JSON object per line, with anything that looks like PHI masked.

carevault never logs stored values on purpose; the mask is the second wall for what a
message, an argument or an ``extra`` field carries by mistake (an email in an exception
from a library, a phone number in a request path).
"""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

MASK = "[masked]"
PATTERNS = (
    re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),  # email
    re.compile(r"\b\d{3}-\d{2}-\d{4}\b"),  # SSN
    re.compile(r"(?<![\w-])\+?\d[\d\s().-]{7,}\d(?![\dT])"),  # phones, long digit runs
    re.compile(r"\b(?:19|20)\d\d-[01]\d-[0-3]\d\b(?!T)"),  # calendar dates (birth dates)
    re.compile(r"\bMRN[\s:#-]*\w+", re.IGNORECASE),  # medical record numbers
)
SENSITIVE_KEYS = frozenset(
    {
        "first_name",
        "last_name",
        "name",
        "email",
        "phone",
        "ssn",
        "date_of_birth",
        "dob",
        "address",
        "mrn",
        "notes",
        "password",
        "token",
        "secret",
        "authorization",
    }
)
_RESERVED = frozenset(vars(logging.makeLogRecord({})))


MAX_TEXT = 2048  # a logged text is cut here before masking: the work per text is bounded
MAX_TRACEBACK = 16384


def mask(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` (its first ``limit`` characters) with every PHI-looking value masked."""
    if len(text) > limit:
        text = text[:limit] + f"…[{len(text) - limit} more characters not logged]"
    for pattern in PATTERNS:
        text = pattern.sub(MASK, text)
    return text


def _clean(key: str, value: Any) -> Any:
    if key.lower() in SENSITIVE_KEYS:
        return MASK
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {k: _clean(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(key, v) for v in value]
    return value


class PhiFilter(logging.Filter):
    """Masks PHI in a record's message, arguments and extra fields, in place."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask(record.getMessage())
        record.args = None
        for key, value in list(vars(record).items()):
            if key not in _RESERVED:
                setattr(record, key, _clean(key, value))
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = mask(
                logging.Formatter().formatException(record.exc_info), MAX_TRACEBACK
            )
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _RESERVED})
        if record.exc_text:
            entry["exception"] = record.exc_text
        return orjson.dumps(entry, default=str).decode()


def configure(level: str = "INFO", stream: Any = None) -> logging.Handler:
    """Send carevault's logs (and the root logger's) through the filter as JSON lines."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(PhiFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if not isinstance(h.formatter, JsonFormatter)]
    root.addHandler(handler)
    root.setLevel(level)
    return handler
