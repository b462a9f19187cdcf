"""Is a secure screen lock set? From `dumpsys lock_settings`.

Android 9+ prints `CredentialType: None|Pin|Password|Pattern|...` per user; older releases print only
`Quality: N` (0 = no password; 65536 pattern, 131072+ numeric/alphabetic). User 0 is the phone's owner.
"""

from __future__ import annotations

import re

from device_agent.parsers.text import note

_CREDENTIAL = re.compile(r"^\s*CredentialType:\s*(\S+)", re.M)
_QUALITY = re.compile(r"^\s*Quality:\s*(\d+)", re.M)
_NONE = {"none", "-1", "credential_type_none"}


def parse_lock_settings(text: str, problems: list[str] | None = None) -> bool | None:
    if not isinstance(text, str):
        return None
    credential = _CREDENTIAL.search(text)
    if credential:
        return credential.group(1).strip().lower() not in _NONE
    quality = _QUALITY.search(text)
    if quality:
        return int(quality.group(1)) >= 65536
    note(problems, "lock settings: no credential type in the output")
    return None
