"""Sweep results that the server has not acknowledged yet, kept on disk so none are lost.

Every batch is written here BEFORE it is sent (write-ahead), and its file is deleted only after the server
answered 2xx. A crash, a dead server or a lost connection therefore leaves the batch on disk, and the next
sweep delivers it first. Re-sending is harmless: the server stores each (sweep, device, rule) once.

One file per batch, `<outbox>/<time_ns>-<batch_id>.jsonl`, JSON lines:
    {"outbox": 1, "kind": "results" | "finish", "batch_id", "sweep_id", "source", "created_at"}   header
    {"result": {...}}   one per check result (kind results)
    {"device": {...}}   one per phone seen (kind results)
Files are written under a `.part` name, fsynced, then renamed, so a file with the final name is complete.
A file that cannot be read is moved to `<outbox>/unreadable/`, one the server refuses for good to
`<outbox>/refused/` (with the reason beside it): kept for a person to look at, never deleted silently.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from phonegate.core.files import open_private, private_folder

FORMAT = 1
SUFFIX = ".jsonl"


@dataclass
class OutboxBatch:
    sweep_id: str
    kind: str  # "results" or "finish"
    batch_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    source: str = "cli"
    results: list[dict[str, Any]] = field(default_factory=list)
    devices: list[dict[str, Any]] = field(default_factory=list)
    path: Path | None = None


class OutboxUnreadable(Exception):
    """A batch file is damaged (not written by us, or cut short by something outside our control)."""


class Outbox:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def put(self, batch: OutboxBatch) -> OutboxBatch:
        """Write the batch durably and return it with its path; only then may it be sent."""
        private_folder(self.folder)  # results name phones and what is wrong with them: this account's only
        final = self.folder / f"{time.time_ns():020d}-{batch.batch_id}{SUFFIX}"
        partial = final.with_suffix(".part")
        header = {
            "outbox": FORMAT,
            "kind": batch.kind,
            "batch_id": batch.batch_id,
            "sweep_id": batch.sweep_id,
            "source": batch.source,
            "created_at": datetime.now(timezone.utc).isoformat(),
        }
        lines = [header, *({"result": r} for r in batch.results), *({"device": d} for d in batch.devices)]
        with os.fdopen(open_private(partial), "w", encoding="utf-8") as handle:
            for line in lines:
                handle.write(json.dumps(line, separators=(",", ":"), default=str) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, final)
        _fsync_folder(self.folder)
        batch.path = final
        return batch

    def pending(self) -> list[Path]:
        """Complete batch files, oldest first (the names start with the time they were written)."""
        if not self.folder.is_dir():
            return []
        return sorted(path for path in self.folder.iterdir() if path.is_file() and path.name.endswith(SUFFIX))

    def read(self, path: Path) -> OutboxBatch:
        try:
            with open(path, encoding="utf-8") as handle:
                rows = [json.loads(line) for line in handle if line.strip()]
        except FileNotFoundError:
            raise  # delivered and removed meanwhile by another agent sharing this outbox
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise OutboxUnreadable(f"{path.name}: {exc}") from None
        if not rows or not isinstance(rows[0], dict) or rows[0].get("outbox") != FORMAT:
            raise OutboxUnreadable(f"{path.name}: no outbox header")
        header = rows[0]
        if header.get("kind") not in ("results", "finish") or not isinstance(header.get("sweep_id"), str):
            raise OutboxUnreadable(f"{path.name}: bad header")
        batch = OutboxBatch(
            sweep_id=header["sweep_id"], kind=header["kind"], batch_id=str(header.get("batch_id")), source=str(header.get("source") or "cli"), path=path
        )
        for row in rows[1:]:
            if isinstance(row, dict) and isinstance(row.get("result"), dict):
                batch.results.append(row["result"])
            elif isinstance(row, dict) and isinstance(row.get("device"), dict):
                batch.devices.append(row["device"])
            else:
                raise OutboxUnreadable(f"{path.name}: unexpected line")
        return batch

    def acknowledged(self, batch: OutboxBatch) -> None:
        """The server stored this batch: now, and only now, its file goes."""
        if batch.path is not None:
            batch.path.unlink(missing_ok=True)
            _fsync_folder(self.folder)

    def set_aside(self, path: Path, where: str, reason: str) -> Path:
        """Move a batch the server refused for good (or that cannot be read) out of the delivery queue."""
        target_folder = self.folder / where
        private_folder(target_folder)
        target = target_folder / path.name
        try:
            os.replace(path, target)
        except FileNotFoundError:
            return target  # another agent sharing this outbox dealt with it first
        with os.fdopen(open_private(target.with_suffix(".reason.txt")), "w", encoding="utf-8") as handle:
            handle.write(reason + "\n")
        _fsync_folder(self.folder)
        return target

    def count(self) -> int:
        return len(self.pending())


def batches_of(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _fsync_folder(folder: Path) -> None:
    """Make the rename/unlink itself durable (POSIX: the directory entry lives in the folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
