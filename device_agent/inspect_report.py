"""What `phonegate inspect` prints: a readable summary, or JSON (DeviceFacts.to_json()).

Everything in it comes from the phone, so both are printable before they leave: the summary line by line, the
JSON as printable ASCII (phonegate.core.text).
"""

from __future__ import annotations

from datetime import datetime, timezone

from device_agent.facts import DeviceFacts
from phonegate.core.text import printable, printable_json


def _yes_no(value: bool | None, yes: str = "yes", no: str = "no") -> str:
    return "unknown" if value is None else (yes if value else no)


def render_summary(facts: DeviceFacts, catalogue: list[str]) -> str:
    root = facts.root
    rooted_signs = [sign for sign, present in (
        ("su binary", bool(root.su_paths)), ("test-keys build", root.test_keys), ("debuggable build", root.debuggable),
        ("unlocked bootloader", root.bootloader_locked is False),
        (f"verified boot {root.verified_boot_state}", root.verified_boot_state not in (None, "green")),
    ) if present]
    lines = [
        f"Phone        {facts.manufacturer or '?'} {facts.model or '?'} (serial {facts.serial or 'unknown'})",
        f"Android      {facts.android_release or '?'} (SDK {facts.sdk if facts.sdk is not None else '?'}), "
        f"security patch {facts.security_patch.isoformat() if facts.security_patch else 'unknown'}",
        f"Build        {facts.build_fingerprint or 'unknown'}",
        f"Encrypted    {_yes_no(facts.encrypted)}",
        f"Screen lock  {_yes_no(facts.secure_lock, 'secure (PIN, password or pattern)', 'none or swipe')}",
        f"Root signs   {', '.join(rooted_signs) if rooted_signs else 'none found'}",
        f"Accounts     {', '.join(facts.account_types) if facts.account_types else ('none' if facts.account_types == [] else 'unknown')}",
        f"Packages     {len(facts.packages)} installed",
    ]
    for name in catalogue:
        app = facts.apps.get(name)
        if app is None:
            lines.append(f"App          {name}: not installed")
            continue
        signer = app.signer_sha256[0] if app.signer_sha256 else f"unverified (hash {', '.join(app.signer_hashcodes) or '?'})"
        lines.append(f"App          {name} {app.version_name or '?'} (code {app.version_code}), installer "
                     f"{app.installer or 'none'}, signer {signer}")
    if facts.media_files is not None:
        now = facts.collected_at or datetime.now(timezone.utc)
        oldest = max(((now - m.modified_at).days for m in facts.media_files), default=None)
        lines.append(f"Media        {len(facts.media_files)} WhatsApp media files"
                     + (f", oldest {oldest} days" if oldest is not None else ""))
    for problem in facts.problems:
        lines.append(f"Note         {problem}")
    return "\n".join(printable(line) for line in lines)


def render_json(facts: DeviceFacts) -> str:
    return printable_json(facts.to_json(), sort_keys=True)
