"""`pm list packages [-f] [-i] [-U] [--show-versioncode]`: one `package:` line per package.

With -f the APK path comes first and ends at the last `=` (paths such as /data/app/~~abc==/x-y==/base.apk
contain `=` themselves). Extra fields: ` versionCode:N`, `  installer=NAME` (the text `null` means none),
` uid:N[,N]`.
"""

from __future__ import annotations

import re

from device_agent.facts import PackageEntry
from device_agent.parsers.text import note

_PACKAGE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,254}$")
_FIELDS = re.compile(r"\s+(versionCode:\S*|installer=\S*|uid:\S*)")


def parse_pm_list(text: str, problems: list[str] | None = None, system: bool | None = None) -> dict[str, PackageEntry]:
    """Packages by name. `system` marks every entry (True for `-s` output, False for `-3`), None leaves it unknown."""
    packages: dict[str, PackageEntry] = {}
    if not isinstance(text, str):
        note(problems, "pm list packages: output was not text")
        return packages
    bad = 0
    for line in text.split("\n"):
        line = line.strip()
        if not line.startswith("package:"):
            if line and "pm list packages" not in line:  # a captured prompt line is not a problem
                bad += 1
            continue
        body = line[len("package:"):]
        fields = _FIELDS.findall(body)
        head = _FIELDS.split(body, maxsplit=1)[0].strip()
        apk_path = None
        if head.startswith("/") and "=" in head:
            apk_path, _, head = head.rpartition("=")
        if not _PACKAGE_NAME.match(head):
            bad += 1
            continue
        entry = PackageEntry(name=head, apk_path=apk_path, system=system)
        for field in fields:
            if field.startswith("versionCode:"):
                value = field.split(":", 1)[1]
                entry.version_code = int(value) if value.isdigit() else None
            elif field.startswith("installer="):
                value = field.split("=", 1)[1]
                entry.installer = None if value in ("null", "") else value
        packages[head] = entry
    if bad:
        note(problems, f"pm list packages: {bad} unreadable lines skipped")
    return packages
