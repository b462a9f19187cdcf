"""Conversation reviews: the record that a manager reviewed a WhatsApp chat export, and what they found.

Only the record is kept: counts of findings by kind, who reviewed and when, the outcome and follow-ups. The file,
its text and the findings themselves are never stored (server.services.conversation_reviews).
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.extensions import db
from server.models.devices import Device
from server.models.org import Team
from server.models.people import StaffMember, User
from server.models.types import UTCDateTime, utcnow


class ReviewOutcome(str, enum.Enum):
    NO_CONCERNS = "no_concerns"
    DISCUSSED = "discussed_with_staff"
    INCIDENT = "incident_reported"


_OUTCOMES = ", ".join(f"'{outcome.value}'" for outcome in ReviewOutcome)


class ConversationReview(db.Model):
    __tablename__ = "conversation_reviews"
    __table_args__ = (
        CheckConstraint(f"outcome IS NULL OR outcome IN ({_OUTCOMES})", name="outcome_known"),
        CheckConstraint("(outcome IS NULL) = (outcome_at IS NULL)", name="outcome_has_time"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"), index=True)
    reviewed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    staff_member_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id", ondelete="RESTRICT"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="RESTRICT"))
    messages: Mapped[int] = mapped_column(Integer)
    findings: Mapped[int] = mapped_column(Integer)
    counts: Mapped[str] = mapped_column(Text)  # JSON {kind: count}, every kind the scanner knows
    outcome: Mapped[str | None] = mapped_column(String(24))
    outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    notes: Mapped[str | None] = mapped_column(String(2000))

    team: Mapped[Team] = relationship()
    reviewed_by: Mapped[User] = relationship()
    staff_member: Mapped[StaffMember | None] = relationship()
    device: Mapped[Device | None] = relationship()
