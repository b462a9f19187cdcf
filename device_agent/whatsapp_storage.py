"""What WhatsApp leaves in a phone's shared storage, for a spot check's evidence: names, sizes and ages, never content.

- Media per folder (WhatsApp Images, Video, Voice Notes, Documents...): counts and ages, from the media listing the
  fact collection already made (DeviceFacts.media_files).
- Chat backups: WhatsApp's local backups, `msgstore*.db.crypt*` under its Databases folder (old and Android 11+
  locations, WhatsApp and WhatsApp Business), with their age. Whether a Google Drive backup is set up is kept in
  WhatsApp's private settings, which ADB cannot read without root: only whether a Google account is on the phone
  (a Drive backup needs one) is reported.
- Exported chats left in Download or Documents ("WhatsApp Chat with ... .txt" or .zip), by folder, age and size,
  with the chat's name withheld (phonegate.core.chat.export_names).

One shell round trip: STORAGE probes between nonce markers, as device_agent.collect does, so a file named like a
marker cannot pose as a section boundary. Every line the phone prints is untrusted; what cannot be read is skipped
and counted in `problems`.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import PurePosixPath
from typing import Any

from device_agent.collect import split_sections
from device_agent.facts import DeviceFacts
from device_agent.parsers import decode_output
from device_agent.parsers.media import MEDIA_ROOTS
from device_agent.parsers.text import note
from phonegate.core.chat.export_names import is_export_name, withheld_name

SHARED = "/sdcard"
BACKUP_FOLDERS = (
    "/sdcard/WhatsApp/Databases",
    "/sdcard/Android/media/com.whatsapp/WhatsApp/Databases",
    "/sdcard/WhatsApp Business/Databases",
    "/sdcard/Android/media/com.whatsapp.w4b/WhatsApp Business/Databases",
)
EXPORT_FOLDERS = ("/sdcard/Download", "/sdcard/Documents")
BACKUP_PREFIX = "msgstore"
MAX_ENTRIES = 200  # per list: a phone with more is reported as "200 or more" by the cut itself
_STAT = "-type f -exec stat -c '%Y %s %n' {} + 2>/dev/null"


@dataclass(frozen=True)
class StoredFile:
    folder: str  # relative to shared storage: "WhatsApp/Databases", "Download"
    name: str
    age_days: int | None
    size_bytes: int | None

    def to_json(self) -> dict[str, Any]:
        return {"folder": self.folder, "name": self.name, "age_days": self.age_days, "size_bytes": self.size_bytes}


@dataclass(frozen=True)
class MediaFolder:
    folder: str  # "WhatsApp/Media/WhatsApp Images"
    files: int
    oldest_age_days: int | None
    newest_age_days: int | None
    older_than_limit: int

    def to_json(self) -> dict[str, Any]:
        return {"folder": self.folder, "files": self.files, "oldest_age_days": self.oldest_age_days,
                "newest_age_days": self.newest_age_days, "older_than_limit": self.older_than_limit}


@dataclass
class WhatsAppStorage:
    media: list[MediaFolder] = field(default_factory=list)
    media_limit_days: int | None = None
    backups: list[StoredFile] = field(default_factory=list)
    exports: list[StoredFile] = field(default_factory=list)
    google_account_present: bool | None = None
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"media": [m.to_json() for m in self.media], "media_limit_days": self.media_limit_days,
                "backups": [b.to_json() for b in self.backups], "exports": [e.to_json() for e in self.exports],
                "google_account_present": self.google_account_present}


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def storage_script(nonce: str | None = None) -> tuple[str, str]:
    """(script, nonce): the backups and exports listings, each `<mtime> <size> <path>` per file."""
    nonce = nonce or secrets.token_hex(8)
    backups = "find " + " ".join(_quote(folder) for folder in BACKUP_FOLDERS) + f" -name '{BACKUP_PREFIX}*' {_STAT}"
    exports = "find " + " ".join(_quote(folder) for folder in EXPORT_FOLDERS) + f" -name 'WhatsApp Chat*' {_STAT}"
    probes = [("backups", backups), ("exports", exports), ("end", "true")]
    return "; ".join(f"echo '<<PG:{nonce}:{name}>>'; {command}" for name, command in probes), nonce


async def read_storage(session: Any, facts: DeviceFacts, media_limit_days: int | None, *, timeout_s: float = 30) -> WhatsAppStorage:
    """Run the storage script on a connected phone (device_agent.adb.PhoneSession) and summarise it with `facts`."""
    script, nonce = storage_script()
    output = await session.shell(script, timeout_s=timeout_s)
    now = facts.collected_at or datetime.now(timezone.utc)
    return summarise(output, facts, media_limit_days, now, nonce=nonce)


def summarise(output: str | bytes, facts: DeviceFacts, media_limit_days: int | None, now: datetime, *,
              nonce: str | None = None) -> WhatsAppStorage:
    """Pure: the storage script's output and the phone's facts -> WhatsAppStorage. Never raises."""
    storage = WhatsAppStorage(media_limit_days=media_limit_days)
    sections = split_sections(decode_output(output if isinstance(output, (str, bytes)) else b""), nonce)
    if "end" not in sections:
        note(storage.problems, "storage: output ended early (no end marker)")
    storage.backups = _files(sections.get("backups"), BACKUP_FOLDERS, now, storage.problems, "backups",
                             lambda name: name.startswith(BACKUP_PREFIX), lambda name: name)
    storage.exports = _files(sections.get("exports"), EXPORT_FOLDERS, now, storage.problems, "exports",
                             is_export_name, withheld_name)
    storage.media = media_folders(facts, media_limit_days, now)
    if facts.account_types is not None:
        storage.google_account_present = "com.google" in facts.account_types
    return storage


def _files(text: str | None, folders: tuple[str, ...], now: datetime, problems: list[str], what: str,
           wanted, shown_name) -> list[StoredFile]:  # type: ignore[no-untyped-def]
    if text is None:
        note(problems, f"storage: {what} section missing")
        return []
    found: list[StoredFile] = []
    bad = 0
    for line in text.split("\n"):
        if not line.strip():
            continue
        stamp, _, rest = line.partition(" ")
        size, _, path = rest.partition(" ")
        folder = next((f for f in folders if path.startswith(f + "/")), None)
        name = path.rsplit("/", 1)[-1]
        if not (stamp.isdigit() and len(stamp) <= 12 and size.isdigit() and len(size) <= 15) or folder is None:
            bad += 1
            continue
        if not wanted(name):
            continue
        found.append(StoredFile(folder=_relative(folder), name=shown_name(name)[:255],
                                age_days=_age_days(int(stamp), now), size_bytes=int(size)))
    if bad:
        note(problems, f"storage: {bad} unreadable {what} lines skipped")
    found.sort(key=lambda f: (f.folder, f.age_days if f.age_days is not None else -1, f.name))
    return found[:MAX_ENTRIES]


def media_folders(facts: DeviceFacts, limit_days: int | None, now: datetime) -> list[MediaFolder]:
    """Counts and ages of WhatsApp media per folder (WhatsApp Images, Video, ...), from the fact collection."""
    ages: dict[str, list[int]] = defaultdict(list)
    for media in facts.media_files or []:
        root = next((r for r in MEDIA_ROOTS if media.path.startswith(r + "/")), None)
        if root is None:
            continue
        top = media.path[len(root) + 1:].split("/", 1)[0]
        moment = media.modified_at if media.modified_at.tzinfo else media.modified_at.replace(tzinfo=timezone.utc)
        ages[f"{_relative(root)}/{top}"].append(max(0, (now - moment).days))
    return [MediaFolder(folder=folder[:200], files=len(days), oldest_age_days=max(days), newest_age_days=min(days),
                        older_than_limit=sum(1 for age in days if limit_days is not None and age > limit_days))
            for folder, days in sorted(ages.items())][:MAX_ENTRIES]


def _relative(folder: str) -> str:
    return str(PurePosixPath(folder).relative_to(SHARED)) if folder.startswith(SHARED + "/") else folder


def _age_days(stamp: int, now: datetime) -> int | None:
    try:
        moment = datetime.fromtimestamp(stamp, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
    return max(0, (now - moment).days)
