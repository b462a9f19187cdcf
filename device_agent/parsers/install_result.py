"""What `pm install` / `adb install` / `cmd package install` answered: success, or the failure code and detail."""

from __future__ import annotations

import re
from dataclasses import dataclass

_FAILURE = re.compile(r"Failure \[([A-Z0-9_]+)(?::\s*([^\]]*))?\]")


@dataclass
class InstallResult:
    success: bool
    code: str | None = None  # e.g. INSTALL_FAILED_UPDATE_INCOMPATIBLE; None on success or when unreadable
    detail: str | None = None


def parse_install_result(text: str) -> InstallResult:
    """Success only when a line says exactly `Success`; anything unreadable is a failure without a code."""
    if not isinstance(text, str):
        return InstallResult(success=False, detail="no readable answer")
    joined = " ".join(text.split("\n"))  # adb may break the line after "apk: "
    failure = _FAILURE.search(joined)
    if failure:
        return InstallResult(success=False, code=failure.group(1), detail=(failure.group(2) or "").strip()[:300] or None)
    if any(line.strip() == "Success" for line in text.split("\n")):
        return InstallResult(success=True)
    last = next((line.strip() for line in reversed(text.split("\n")) if line.strip()), "")
    return InstallResult(success=False, detail="".join(ch for ch in last if ch.isprintable())[:300] or "no answer")
