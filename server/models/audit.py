"""The append-only, hash-chained audit log.

Each entry stores the SHA-256 of the previous entry (prev_hash) and its own (entry_hash) over a canonical
serialisation of its fields. prev_hash is unique, so two writers racing to append after the same entry cannot
both succeed: the loser retries on the new head. `phonegate audit verify` recomputes the chain.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.extensions import db
from server.models.types import UTCDateTime, utcnow

GENESIS_HASH = "0" * 64


class AuditEntry(db.Model):
    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_target", "target_type", "target_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    actor: Mapped[str] = mapped_column(String(64))  # "user:3", "token:5", "system", "cli:alice@bench-pc"
    action: Mapped[str] = mapped_column(String(64), index=True)  # e.g. enrolment.approved
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[str] = mapped_column(Text, default="{}")  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)
