"""Compliance: the versioned rule document, sweeps, raw results, per-rule state (grace) and daily summaries.

Raw results are pruned after a retention period; ComplianceDaily summaries and DeviceRuleState are kept, so
history and "failing since" survive pruning.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from server.extensions import db
from server.models.types import UTCDateTime, utcnow

OUTCOMES = ("pass", "fail", "error", "not_applicable")


class ComplianceRulesVersion(db.Model):
    """One version of the compliance rules as a YAML document; every version is kept.

    (The acceptable-use *policy* is PolicyVersion; these are the compliance *rules*.)"""

    __tablename__ = "compliance_rules_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    document: Mapped[str] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(String(500))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Sweep(db.Model):
    """One compliance sweep. The id is chosen by whoever starts it (a UUID), so a retried upload is idempotent."""

    __tablename__ = "sweeps"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    source: Mapped[str] = mapped_column(String(32))  # cli, scheduler, celery
    rules_version_id: Mapped[int | None] = mapped_column(ForeignKey("compliance_rules_versions.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    device_count: Mapped[int] = mapped_column(Integer, default=0)
    non_compliant_count: Mapped[int] = mapped_column(Integer, default=0)


class SweepClaim(db.Model):
    """A phone taken by one worker in one sweep; the primary key stops a second worker checking it again."""

    __tablename__ = "sweep_claims"

    sweep_id: Mapped[str] = mapped_column(ForeignKey("sweeps.id", ondelete="CASCADE"), primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True)
    claimed_by: Mapped[str] = mapped_column(String(128))
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ComplianceResult(db.Model):
    __tablename__ = "compliance_results"
    __table_args__ = (
        CheckConstraint("outcome IN ('pass', 'fail', 'error', 'not_applicable')", name="outcome_known"),
        UniqueConstraint("sweep_id", "device_id", "rule", name="uq_result_sweep_device_rule"),
        Index("ix_results_device_checked", "device_id", "checked_at"),
        Index("ix_results_checked", "checked_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sweep_id: Mapped[str] = mapped_column(ForeignKey("sweeps.id", ondelete="CASCADE"))
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16), default="medium")
    observed: Mapped[str | None] = mapped_column(Text)
    evidence: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DeviceRuleState(db.Model):
    """Where each rule stands for each phone now: failing since when, grace end, notifications sent."""

    __tablename__ = "device_rule_states"
    __table_args__ = (
        Index("ix_rule_state_failing", "rule", "failing_since"),
        # Pages list what is failing: a partial index holds only the failing rows (a few percent of all).
        Index("ix_rule_state_failing_device", "device_id", sqlite_where=text("failing_since IS NOT NULL"),
              postgresql_where=text("failing_since IS NOT NULL")),
    )

    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True)
    rule: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_outcome: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16), default="medium")
    observed: Mapped[str | None] = mapped_column(Text)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    grace_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_checked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DevicePrecheck(db.Model):
    """The rules as checked on the phone itself by `provision` (before approval, and again after installing):
    one row per rule, replaced on every run, so the request and check pages show the phone's latest facts.

    Kept apart from sweep results: a phone that is not enrolled yet has no compliance state to change, and a
    pre-check must never mark, mail or suspend anyone (server.services.precheck).
    """

    __tablename__ = "device_prechecks"
    __table_args__ = (
        CheckConstraint("outcome IN ('pass', 'fail', 'error', 'not_applicable')", name="outcome_known"),
    )

    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True)
    rule: Mapped[str] = mapped_column(String(64), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16), default="medium")
    observed: Mapped[str | None] = mapped_column(Text)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The phone's state when it was checked: "registered"/"pending_approval" is the gate's pre-check,
    # "provisioned" the first check straight after the install.
    device_state: Mapped[str] = mapped_column(String(24))
    rules_version: Mapped[int | None] = mapped_column(Integer)


class ComplianceDaily(db.Model):
    """One summary per phone per day: kept after raw results are pruned; the trend chart reads it."""

    __tablename__ = "compliance_daily"
    __table_args__ = (
        # Covering indexes for the trend: phones per state per day, for a team or for everyone, read from the
        # index alone (a year of a 5,000-phone team is 1.8 million rows; the chart samples ~53 days of them).
        Index("ix_daily_team_day_state", "team_id", "day", "state"),
        Index("ix_daily_day_state_device", "day", "state", "device_id"),
    )

    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    # The phone's team on that day (a phone that moves team keeps its history with the team it was in).
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(16))
    failing_rules: Mapped[str] = mapped_column(Text, default="")  # comma-separated rule ids


class HolderNotice(db.Model):
    """A phone's holder was told what to do about a failing rule (the rule's remedy, e.g. media retention).

    Keyed by when the failure began, so a holder hears once per failure, not once per sweep; a rule that passes and
    fails again is a new failure and a new notice.
    """

    __tablename__ = "holder_notices"

    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True)
    rule: Mapped[str] = mapped_column(String(64), primary_key=True)
    failing_since: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    staff_member_id: Mapped[int] = mapped_column(ForeignKey("staff_members.id", ondelete="CASCADE"))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
