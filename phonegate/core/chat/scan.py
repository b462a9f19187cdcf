"""Scanning a chat: personal data in the messages people wrote, as findings a reviewer can act on.

Only text messages are scanned. System lines are WhatsApp's own words (who joined, the encryption notice), and
media lines are placeholders: what staff sent is in the text messages and their captions.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from phonegate.core.chat.detectors import KINDS, find_personal_data
from phonegate.core.chat.export_file import read_export
from phonegate.core.chat.messages import Chat, parse_chat
from phonegate.core.chat.redact import excerpt


@dataclass(frozen=True)
class Finding:
    kind: str
    line: int  # the line in the file where the value starts
    sender: str | None
    time: str  # ISO 8601, as the phone showed it (no time zone)
    excerpt: str  # redacted: never the whole value


@dataclass(frozen=True)
class ScanReport:
    messages: int
    findings: list[Finding]

    @property
    def counts(self) -> dict[str, int]:
        """Findings per kind, every kind listed (0 when none), so a review record has the same shape each time."""
        found = Counter(finding.kind for finding in self.findings)
        return {kind: found[kind] for kind in KINDS}

    def as_dict(self) -> dict[str, object]:
        return {"findings": [asdict(finding) for finding in self.findings], "messages": self.messages,
                "counts": self.counts}


def scan_chat(chat: Chat) -> ScanReport:
    findings: list[Finding] = []
    for message in chat.messages:
        if message.kind != "text":
            continue
        hits = find_personal_data(message.text, message.sent_at, chat.day_first)
        for hit in hits:
            findings.append(Finding(
                kind=hit.kind,
                line=message.line + message.text.count("\n", 0, hit.start),
                sender=message.sender,
                time=message.sent_at.isoformat(),
                excerpt=excerpt(message.text, hit, hits),
            ))
    return ScanReport(messages=len(chat.messages), findings=findings)


def scan_export(path: Path) -> ScanReport:
    """Read, parse and scan the export at `path` (NotAnExport when it is not one)."""
    return scan_chat(parse_chat(read_export(path), name=str(path)))
