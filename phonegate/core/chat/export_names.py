"""Names of WhatsApp chat exports, without the chat's name in them.

WhatsApp names an export after its chat: "WhatsApp Chat with Sam Jones.txt" (Android), "WhatsApp Chat - Family
support.zip" (iOS). The chat's name is usually a person's, often a service user's, so evidence records an export
found on a phone by folder, kind and age, and its name with the chat's name withheld.
"""

from __future__ import annotations

import re

EXPORT_PREFIX = "WhatsApp Chat"
WITHHELD = "[name withheld]"
EXTENSIONS = (".txt", ".zip")
_NAME = re.compile(r"(WhatsApp Chat(?: with| -)?)(.*?)(\.txt|\.zip)", re.IGNORECASE | re.DOTALL)


def is_export_name(name: str) -> bool:
    """Whether a file name (no folder) is what WhatsApp calls a chat export."""
    return name.lower().startswith(EXPORT_PREFIX.lower()) and name.lower().endswith(EXTENSIONS)


def withheld_name(name: str) -> str:
    """"WhatsApp Chat with Sam Jones.txt" -> "WhatsApp Chat with [name withheld].txt"; anything else -> WITHHELD."""
    match = _NAME.fullmatch(name)
    if match is None:
        return WITHHELD
    return f"{match.group(1)} {WITHHELD}{match.group(3).lower()}"
