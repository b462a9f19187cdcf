"""Enrolment requests: asking a manager to let one phone have the approved app.

The database refuses a decision by the person who made the request, and a second open request for one phone.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.extensions import db
from server.models.devices import Device
from server.models.org import Service, Team
from server.models.people import StaffMember, User
from server.models.policy import Acknowledgement, PolicyVersion
from server.models.types import UTCDateTime, utcnow


class EnrolmentStatus(str, enum.Enum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class EnrolmentRequest(db.Model):
    __tablename__ = "enrolment_requests"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'rejected', 'cancelled')", name="status_known"),
        CheckConstraint("role IN ('individual', 'broadcast')", name="role_known"),
        CheckConstraint("role <> 'broadcast' OR staff_member_id IS NULL", name="broadcast_has_no_holder"),
        CheckConstraint("role <> 'individual' OR staff_member_id IS NOT NULL", name="individual_has_holder"),
        CheckConstraint("decided_by_id IS NULL OR decided_by_id <> requested_by_id", name="no_self_approval"),
        CheckConstraint("status = 'pending' OR decided_at IS NOT NULL", name="decision_has_time"),
        Index(
            "uq_enrolment_one_pending_per_device",
            "device_id",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_enrolment_team_status", "team_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="RESTRICT"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    staff_member_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id", ondelete="RESTRICT"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="RESTRICT"))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default=EnrolmentStatus.PENDING.value, index=True)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_reason: Mapped[str | None] = mapped_column(String(1000))
    # The policy version shown to the manager when they decided, and the acknowledgement it produced.
    policy_version_id: Mapped[int | None] = mapped_column(ForeignKey("policy_versions.id", ondelete="RESTRICT"))
    acknowledgement_id: Mapped[int | None] = mapped_column(ForeignKey("acknowledgements.id", ondelete="RESTRICT"))
    # A reassignment (`provision --reassign --reason`): who held the phone when it was asked for, and why it moves.
    # The reason is free text that may name people, so it stays here, not in the audit log.
    previous_staff_member_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id", ondelete="RESTRICT"))
    previous_service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id", ondelete="RESTRICT"))
    previous_role: Mapped[str | None] = mapped_column(String(16))
    reassign_reason: Mapped[str | None] = mapped_column(String(1000))

    device: Mapped[Device] = relationship()
    staff_member: Mapped[StaffMember | None] = relationship(foreign_keys=[staff_member_id])
    team: Mapped[Team | None] = relationship()
    service: Mapped[Service] = relationship(foreign_keys=[service_id])
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    policy_version: Mapped[PolicyVersion | None] = relationship()
    acknowledgement: Mapped[Acknowledgement | None] = relationship()
    previous_staff_member: Mapped[StaffMember | None] = relationship(foreign_keys=[previous_staff_member_id])
    previous_service: Mapped[Service | None] = relationship(foreign_keys=[previous_service_id])

    @property
    def is_reassignment(self) -> bool:
        return self.previous_role is not None
