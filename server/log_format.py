"""PHONEGATE_LOG_FORMAT=json: one JSON object per log line, for the council's log collector.

{"time": "2026-12-01T21:40:18.813Z", "level": "INFO", "logger": "phonegate.requests", "message": "...", ...}
plus the fields a log call gave in `extra` (endpoint, method, status, duration_ms). What is logged stays what
it was (ids, never personal data); an exception adds its type and the traceback's frames, not its message,
which can carry a database row's values.
"""

from __future__ import annotations

import json
import logging
import traceback
from datetime import datetime, timezone

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        if record.exc_info and record.exc_info[0] is not None:
            line["exception"] = record.exc_info[0].__name__
            line["traceback"] = "".join(traceback.format_tb(record.exc_info[2]))
        return json.dumps(line, ensure_ascii=False)


def use_format(log_format: str, logger: logging.Logger | None = None) -> None:
    """Give every handler of `logger` (the root logger by default) the chosen format."""
    if log_format != "json":
        return
    target = logger or logging.getLogger()
    if not target.handlers:
        target.addHandler(logging.StreamHandler())
    for handler in target.handlers:
        handler.setFormatter(JsonFormatter())
