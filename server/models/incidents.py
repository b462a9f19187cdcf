"""Information incidents: what happened, when, to which phone and person, reported to the information-security
mailbox at once; information governance moves them from reported to acknowledged to closed, with notes."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.extensions import db
from server.models.devices import Device
from server.models.org import Service, Team
from server.models.people import StaffMember, User
from server.models.types import UTCDateTime, utcnow


class IncidentKind(str, enum.Enum):
    LOST_OR_STOLEN = "lost_or_stolen"
    PERSONAL_DATA_SENT = "personal_data_sent"
    WRONG_RECIPIENT = "wrong_recipient"
    UNAPPROVED_APP = "unapproved_app"
    OTHER = "other"


class IncidentStatus(str, enum.Enum):
    REPORTED = "reported"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"


# Where each status may go next: acknowledged before closed, and a closed incident may be reopened (acknowledged).
INCIDENT_TRANSITIONS: dict[str, frozenset[str]] = {
    IncidentStatus.REPORTED.value: frozenset({IncidentStatus.ACKNOWLEDGED.value, IncidentStatus.CLOSED.value}),
    IncidentStatus.ACKNOWLEDGED.value: frozenset({IncidentStatus.CLOSED.value}),
    IncidentStatus.CLOSED.value: frozenset({IncidentStatus.ACKNOWLEDGED.value}),
}
REFERENCE_PREFIX = "INC-"

_KINDS = ", ".join(f"'{kind.value}'" for kind in IncidentKind)
_STATUSES = ", ".join(f"'{status.value}'" for status in IncidentStatus)


class Incident(db.Model):
    __tablename__ = "incidents"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_KINDS})", name="kind_known"),
        CheckConstraint(f"status IN ({_STATUSES})", name="status_known"),
        CheckConstraint("kind <> 'lost_or_stolen' OR device_id IS NOT NULL", name="lost_phone_named"),
        Index("ix_incidents_team_status", "team_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    # What happened, in the reporter's words (the form asks for no conversation content): kept here only.
    description: Mapped[str] = mapped_column(Text)
    occurred_on: Mapped[date] = mapped_column(Date)
    occurred_time: Mapped[str | None] = mapped_column(String(5))  # "HH:MM" as the reporter gave it, if they knew
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="RESTRICT"), index=True)
    staff_member_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id", ondelete="RESTRICT"))
    # Whose incident it is, for managers' lists: the phone's or the person's team (or the Broadcast phone's service).
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"))
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id", ondelete="RESTRICT"))
    reported_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default=IncidentStatus.REPORTED.value)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    mailbox_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    phone_suspended: Mapped[bool] = mapped_column(Boolean, default=False)  # this report suspended the phone

    device: Mapped[Device | None] = relationship()
    staff_member: Mapped[StaffMember | None] = relationship()
    team: Mapped[Team | None] = relationship()
    service: Mapped[Service | None] = relationship()
    reported_by: Mapped[User] = relationship()
    notes: Mapped[list[IncidentNote]] = relationship(order_by="IncidentNote.id", cascade="all, delete-orphan")

    @property
    def reference(self) -> str:
        """The number people quote (mailbox, phone calls): derived from the id, so it can never be duplicated."""
        return f"{REFERENCE_PREFIX}{self.id:06d}"


class IncidentNote(db.Model):
    """A status change and what information governance wrote about it."""

    __tablename__ = "incident_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    status_from: Mapped[str] = mapped_column(String(16))
    status_to: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(String(2000))

    by: Mapped[User] = relationship()
