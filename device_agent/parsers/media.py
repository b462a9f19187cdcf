"""Media file ages: lines `<mtime seconds> <path>` from `find DIR -type f -exec stat -c '%Y %n' {} +`."""

from __future__ import annotations

from datetime import datetime, timezone

from device_agent.facts import MediaFile
from device_agent.parsers.text import note

MEDIA_ROOTS = (
    "/sdcard/WhatsApp/Media",
    "/sdcard/Android/media/com.whatsapp/WhatsApp/Media",
    "/sdcard/WhatsApp Business/Media",
    "/sdcard/Android/media/com.whatsapp.w4b/WhatsApp Business/Media",
)


def parse_media_listing(text: str, problems: list[str] | None = None) -> list[MediaFile] | None:
    if not isinstance(text, str):
        note(problems, "media files: output was not text")
        return None
    files: list[MediaFile] = []
    bad = 0
    for line in text.split("\n"):
        if not line.strip():
            continue
        stamp, _, path = line.partition(" ")
        if not stamp.isdigit() or not path.startswith(MEDIA_ROOTS) or len(stamp) > 12:
            bad += 1
            continue
        try:
            moment = datetime.fromtimestamp(int(stamp), timezone.utc)
        except (OverflowError, OSError, ValueError):
            bad += 1
            continue
        files.append(MediaFile(path=path[:1024], modified_at=moment))
    if bad:
        note(problems, f"media files: {bad} unreadable lines skipped")
    return files
