"""Reading WhatsApp's storage for a spot check: backups and exported chats from the storage script's output, media
per folder from the fact collection; hostile output (fake markers, garbage lines) changes nothing it should not."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from device_agent.facts import DeviceFacts, MediaFile
from device_agent.whatsapp_storage import BACKUP_FOLDERS, storage_script, summarise
from phonegate.core.chat.export_names import is_export_name, withheld_name

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
NONCE = "0123456789abcdef"


def _stamp(days: float) -> int:
    return int((NOW - timedelta(days=days)).timestamp())


def _output(backups: list[str], exports: list[str], *, end: bool = True) -> str:
    lines = [f"<<PG:{NONCE}:backups>>", *backups, f"<<PG:{NONCE}:exports>>", *exports]
    if end:
        lines.append(f"<<PG:{NONCE}:end>>")
    return "\n".join(lines) + "\n"


def _facts(**kw) -> DeviceFacts:
    return DeviceFacts(**{"collected_at": NOW, "account_types": ["com.google"], "media_files": [], **kw})


def test_backups_and_exports_are_read_with_their_ages():
    out = _output([f"{_stamp(1)} 5000 {BACKUP_FOLDERS[1]}/msgstore.db.crypt14",
                   f"{_stamp(9)} 4000 {BACKUP_FOLDERS[0]}/msgstore-2026-11-22.1.db.crypt14"],
                  [f"{_stamp(3)} 900 /sdcard/Download/WhatsApp Chat with Sam Jones.txt"])
    storage = summarise(out, _facts(), 30, NOW, nonce=NONCE)
    assert [(b.folder, b.age_days) for b in storage.backups] == [
        ("Android/media/com.whatsapp/WhatsApp/Databases", 1), ("WhatsApp/Databases", 9)]
    assert [(e.folder, e.name, e.size_bytes) for e in storage.exports] == [
        ("Download", "WhatsApp Chat with [name withheld].txt", 900)]
    assert storage.problems == []


def test_a_file_name_posing_as_a_marker_does_not_start_a_section():
    fake = f"<<PG:{'f' * 16}:exports>>"
    out = _output([fake, f"{_stamp(1)} 10 {BACKUP_FOLDERS[0]}/msgstore.db.crypt14"], [])
    storage = summarise(out, _facts(), 30, NOW, nonce=NONCE)
    assert len(storage.backups) == 1
    assert storage.exports == []


def test_garbage_lines_and_files_elsewhere_are_skipped_and_noted():
    out = _output(["not a listing", f"{_stamp(1)} 10 /data/data/com.whatsapp/databases/msgstore.db",
                   f"{_stamp(1)} 10 {BACKUP_FOLDERS[0]}/wa.db"],
                  [f"{_stamp(1)} 10 /sdcard/Download/notes.txt", f"99999999999999 1 /sdcard/Download/WhatsApp Chat.txt"])
    storage = summarise(out, _facts(), 30, NOW, nonce=NONCE)
    assert storage.backups == []  # wa.db is not a chat backup; /data is not shared storage
    assert storage.exports == []  # a time stamp of 14 digits is not a time
    assert storage.problems == ["storage: 2 unreadable backups lines skipped", "storage: 1 unreadable exports lines skipped"]


def test_output_cut_short_is_noted():
    storage = summarise(_output([], [], end=False), _facts(), 30, NOW, nonce=NONCE)
    assert "storage: output ended early (no end marker)" in storage.problems


def test_media_is_counted_per_folder_against_the_limit():
    root = "/sdcard/Android/media/com.whatsapp/WhatsApp/Media"
    media = [MediaFile(f"{root}/WhatsApp Images/a.jpg", NOW - timedelta(days=40)),
             MediaFile(f"{root}/WhatsApp Images/Sent/b.jpg", NOW - timedelta(days=2)),
             MediaFile(f"{root}/WhatsApp Voice Notes/202648/c.opus", NOW - timedelta(days=5))]
    storage = summarise(_output([], []), _facts(media_files=media), 30, NOW, nonce=NONCE)
    folders = {m.folder: (m.files, m.oldest_age_days, m.newest_age_days, m.older_than_limit) for m in storage.media}
    assert folders == {"Android/media/com.whatsapp/WhatsApp/Media/WhatsApp Images": (2, 40, 2, 1),
                       "Android/media/com.whatsapp/WhatsApp/Media/WhatsApp Voice Notes": (1, 5, 5, 0)}


def test_a_google_account_is_reported_and_unknown_stays_unknown():
    assert summarise(_output([], []), _facts(), 30, NOW, nonce=NONCE).google_account_present is True
    unknown = DeviceFacts(collected_at=NOW, account_types=None)
    assert summarise(_output([], []), unknown, 30, NOW, nonce=NONCE).google_account_present is None


def test_the_script_quotes_folders_with_spaces():
    script, nonce = storage_script("a" * 16)
    assert "'/sdcard/WhatsApp Business/Databases'" in script
    assert nonce == "a" * 16


def test_export_names_lose_the_chats_name():
    assert withheld_name("WhatsApp Chat with Sam Jones (2).txt") == "WhatsApp Chat with [name withheld].txt"
    assert withheld_name("WhatsApp Chat - Family support.ZIP") == "WhatsApp Chat - [name withheld].zip"
    assert withheld_name("Sam Jones.txt") == "[name withheld]"
    assert is_export_name("WhatsApp Chat with X.zip")
    assert not is_export_name("WhatsApp Chat with X.pdf")
