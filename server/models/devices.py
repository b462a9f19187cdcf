"""Work phones and their lifecycle.

The states, the allowed moves and what each state means live in phonegate.core.lifecycle (shared with the agent);
server.services.lifecycle enforces the moves, and the database enforces the shapes (known states and roles, a
Broadcast phone has no individual holder).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from phonegate.core.lifecycle import ALLOWED_TRANSITIONS, ENROLLED, HOLDS_APPROVAL, DeviceRole, DeviceState
from server.extensions import db
from server.models.org import Service, Team
from server.models.people import StaffMember, User
from server.models.types import UTCDateTime, utcnow

__all__ = [
    "ALLOWED_TRANSITIONS", "ENROLLED", "HOLDS_APPROVAL", "BroadcastDesignation", "Device", "DeviceRole", "DeviceState",
    "PhoneAction",
]

_STATES = ", ".join(f"'{s.value}'" for s in DeviceState)


class Device(db.Model):
    __tablename__ = "devices"
    __table_args__ = (
        CheckConstraint(f"state IN ({_STATES})", name="state_known"),
        CheckConstraint("role IN ('individual', 'broadcast')", name="role_known"),
        CheckConstraint("role <> 'broadcast' OR staff_member_id IS NULL", name="broadcast_has_no_holder"),
        CheckConstraint(
            "compliance_state IN ('compliant', 'in_grace', 'non_compliant', 'unknown')", name="compliance_state_known"
        ),
        Index("ix_devices_team_state", "team_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    serial: Mapped[str] = mapped_column(String(128), unique=True)
    manufacturer: Mapped[str | None] = mapped_column(String(128))
    model: Mapped[str | None] = mapped_column(String(128))
    android_release: Mapped[str | None] = mapped_column(String(32))
    sdk: Mapped[int | None] = mapped_column(Integer)
    security_patch: Mapped[date | None] = mapped_column(Date)
    build_fingerprint: Mapped[str | None] = mapped_column(String(512))
    asset_tag: Mapped[str | None] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16), default=DeviceRole.INDIVIDUAL.value)
    staff_member_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id", ondelete="RESTRICT"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"))
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id", ondelete="RESTRICT"), index=True)
    state: Mapped[str] = mapped_column(String(24), default=DeviceState.REGISTERED.value, index=True)
    adb_endpoint: Mapped[str | None] = mapped_column(String(255))
    site: Mapped[str | None] = mapped_column(String(120), index=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Check-in stations (phonegate station): where and when the phone was last checked in, and the due date its
    # holder and manager were last reminded of (so the reminder goes once per due date).
    checked_in_site: Mapped[str | None] = mapped_column(String(120))
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    check_in_reminded_for: Mapped[date | None] = mapped_column(Date)
    # A lab or dock phone (phonegate device mark-lab): reached over the network on purpose, so the rule
    # no_network_adb does not apply to it. Who set it and why is in the audit log (device.lab_phone_marked).
    lab_phone: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    compliance_state: Mapped[str] = mapped_column(String(16), default="unknown", server_default=text("'unknown'"))
    compliance_grace_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    compliance_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    staff_member: Mapped[StaffMember | None] = relationship()
    team: Mapped[Team | None] = relationship()
    service: Mapped[Service | None] = relationship()


class BroadcastDesignation(db.Model):
    """Which phone is a service's one Broadcast phone, and since when.

    At most one active designation per service is a partial unique index, so a second designation fails in
    the database whatever the code does; a handover ends the old row and starts a new one, both audited.
    """

    __tablename__ = "broadcast_designations"
    __table_args__ = (
        Index(
            "uq_broadcast_one_active_per_service",
            "service_id",
            unique=True,
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
        Index(
            "uq_broadcast_one_active_per_device",
            "device_id",
            unique=True,
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="RESTRICT"))
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="RESTRICT"))
    designated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    designated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    end_reason: Mapped[str | None] = mapped_column(String(500))

    service: Mapped[Service] = relationship()
    device: Mapped[Device] = relationship()
    designated_by: Mapped[User | None] = relationship(foreign_keys=[designated_by_id])


class PhoneAction(db.Model):
    """A person retiring or reinstating a phone, with the reason they gave.

    The reason is free text a person typed (it may name people), so it stays on this row, which only people who
    may see the phone read; the audit entries name the row by id (as incidents keep their notes).
    """

    __tablename__ = "phone_actions"
    __table_args__ = (CheckConstraint("kind IN ('retired', 'reinstated')", name="kind_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    from_state: Mapped[str] = mapped_column(String(24))
    to_state: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str] = mapped_column(String(1000))
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))  # None: the command line
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    device: Mapped[Device] = relationship()
    by: Mapped[User | None] = relationship()
