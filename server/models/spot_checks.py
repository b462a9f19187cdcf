"""Manager spot checks: a phone called in (by a manager, or drawn in a team's random sample), the evidence
snapshot read from it when it is plugged in, and the checklist the manager completes
(follow-up actions: server.models.follow_ups).

The database keeps one open spot check per phone (a partial unique index), so two managers starting one at the
same moment get one, and one sample per team per period (a unique constraint), so a sample is never drawn twice.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.extensions import db
from server.models.devices import Device
from server.models.org import Service, Team
from server.models.people import StaffMember, User
from server.models.types import UTCDateTime, utcnow


class SpotCheckStatus(str, enum.Enum):
    REQUESTED = "requested"  # the holder was asked to bring the phone
    EVIDENCE_RECORDED = "evidence_recorded"  # the phone was plugged in and read
    COMPLETED = "completed"  # the manager completed the checklist


class SpotCheckOutcome(str, enum.Enum):
    NO_CONCERNS = "no_concerns"
    FOLLOW_UP = "follow_up"
    INCIDENT = "incident"


OPEN_SPOT_CHECK = (SpotCheckStatus.REQUESTED.value, SpotCheckStatus.EVIDENCE_RECORDED.value)
ANSWERS = ("yes", "no", "not_applicable")


class SpotCheckSample(db.Model):
    """One random draw of a team's phones for one period, with the seed that reproduces it."""

    __tablename__ = "spot_check_samples"
    __table_args__ = (UniqueConstraint("team_id", "period", name="uq_spot_check_samples_team_period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"))
    period: Mapped[str] = mapped_column(String(10))  # "2026-Q4", "2026-11" or "2026"
    rate_percent: Mapped[int] = mapped_column(Integer)
    population: Mapped[int] = mapped_column(Integer)  # enrolled phones the sample was drawn from
    seed: Mapped[int] = mapped_column(BigInteger)
    drawn_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    drawn_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    team: Mapped[Team] = relationship()


class SpotCheck(db.Model):
    __tablename__ = "spot_checks"
    __table_args__ = (
        CheckConstraint("status IN ('requested', 'evidence_recorded', 'completed')", name="status_known"),
        CheckConstraint("outcome IS NULL OR outcome IN ('no_concerns', 'follow_up', 'incident')", name="outcome_known"),
        CheckConstraint("role IN ('individual', 'broadcast')", name="role_known"),
        CheckConstraint("status <> 'completed' OR (completed_at IS NOT NULL AND outcome IS NOT NULL)",
                        name="completed_has_outcome"),
        Index("uq_spot_check_one_open_per_device", "device_id", unique=True,
              sqlite_where=text("status <> 'completed'"), postgresql_where=text("status <> 'completed'")),
        Index("ix_spot_checks_team_status", "team_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="RESTRICT"), index=True)
    # Who the phone belonged to when the check started (a phone may change hands later; the check does not).
    role: Mapped[str] = mapped_column(String(16))
    staff_member_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id", ondelete="RESTRICT"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"))
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id", ondelete="RESTRICT"))
    sample_id: Mapped[int | None] = mapped_column(ForeignKey("spot_check_samples.id", ondelete="RESTRICT"))
    started_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    bring_by: Mapped[date] = mapped_column(Date)
    holder_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(24), default=SpotCheckStatus.REQUESTED.value)
    # The snapshot read from the phone (JSON: facts summary, compliance results, WhatsApp storage): never content.
    evidence: Mapped[str | None] = mapped_column(Text)
    evidence_recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(16))
    notes: Mapped[str | None] = mapped_column(String(2000))  # the manager's own words: kept here, never in the audit log

    device: Mapped[Device] = relationship()
    staff_member: Mapped[StaffMember | None] = relationship()
    team: Mapped[Team | None] = relationship()
    service: Mapped[Service | None] = relationship()
    sample: Mapped[SpotCheckSample | None] = relationship()
    started_by: Mapped[User] = relationship(foreign_keys=[started_by_id])
    completed_by: Mapped[User | None] = relationship(foreign_keys=[completed_by_id])
    answers: Mapped[list[SpotCheckAnswer]] = relationship(order_by="SpotCheckAnswer.item", cascade="all, delete-orphan")

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_SPOT_CHECK


class SpotCheckAnswer(db.Model):
    """One answered item of a completed spot check's checklist (items: server.services.spot_checks.checklist)."""

    __tablename__ = "spot_check_answers"
    __table_args__ = (CheckConstraint("answer IN ('yes', 'no', 'not_applicable')", name="answer_known"),)

    spot_check_id: Mapped[int] = mapped_column(ForeignKey("spot_checks.id", ondelete="CASCADE"), primary_key=True)
    item: Mapped[str] = mapped_column(String(40), primary_key=True)
    answer: Mapped[str] = mapped_column(String(16))
