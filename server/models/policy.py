"""Acceptable-use policy versions and the acknowledgements managers confirm against them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.extensions import db
from server.models.people import StaffMember, User
from server.models.types import UTCDateTime, utcnow


class PolicyVersion(db.Model):
    """One published version of the acceptable-use paper. The newest published one is current."""

    __tablename__ = "policy_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(64), unique=True)
    text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))


class Acknowledgement(db.Model):
    """A manager's confirmation that a staff member knows this policy version and has current training."""

    __tablename__ = "acknowledgements"
    __table_args__ = (UniqueConstraint("staff_member_id", "policy_version_id", name="uq_ack_staff_policy"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_member_id: Mapped[int] = mapped_column(ForeignKey("staff_members.id", ondelete="RESTRICT"), index=True)
    policy_version_id: Mapped[int] = mapped_column(ForeignKey("policy_versions.id", ondelete="RESTRICT"), index=True)
    confirmed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    training_completed_on: Mapped[date] = mapped_column(Date)  # the date the manager checked
    confirmed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    staff_member: Mapped[StaffMember] = relationship()
    policy_version: Mapped[PolicyVersion] = relationship()
    confirmed_by: Mapped[User] = relationship()
