"""Read-only compliance views for people: per-team counts, who is failing what, history, the trend, CSV rows.

Every query takes a `Select` of the devices the reader may see (server.services.access decides; managers see their
team), so access control is one filter applied in the database, and every figure is an aggregate query over
indexed columns: a team page must stay fast with 5,000 phones and a year of daily summaries.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from server.models import ComplianceDaily, ComplianceResult, Device, DeviceRuleState, StaffMember, Team
from server.services import counts
from server.services.compliance.state import STATES

FAILING_LIST_LIMIT = 100  # the page lists the oldest failures (a manager acts on those first); the CSV has all


@dataclass(frozen=True)
class FailingRow:
    device_id: int
    serial: str
    asset_tag: str | None
    model: str | None
    holder: str | None
    role: str
    compliance_state: str
    rule: str
    severity: str
    observed: str | None
    failing_since: datetime
    grace_until: datetime | None


@dataclass(frozen=True)
class TrendPoint:
    day: date
    counts: dict[str, int]


def visible_ids(devices: Select) -> Select:
    """The ids of the phones a reader may see, among phones that compliance covers (defined in services/counts)."""
    return counts.counted_phone_ids(devices)


def state_counts(session: Session, devices: Select) -> dict[str, int]:
    return counts.compliance_counts(session, devices)


def counts_by_team(session: Session, devices: Select) -> list[dict[str, Any]]:
    """One row per team the reader may see: its name and its phones by state."""
    query = (devices.with_only_columns(Device.team_id, Device.compliance_state, func.count())
             .where(Device.state.in_(counts.COUNTED_PHONE_STATES)).group_by(Device.team_id, Device.compliance_state).order_by(None))
    by_team: dict[int | None, dict[str, int]] = {}
    for team_id, state, count in session.execute(query):
        by_team.setdefault(team_id, {s: 0 for s in STATES})[state] = count
    names = dict(session.execute(select(Team.id, Team.name)).all())
    rows = [{"team_id": team_id, "name": names.get(team_id, "No team (Broadcast phones)") if team_id else "No team (Broadcast phones)",
             "counts": counts, "total": sum(counts.values())} for team_id, counts in by_team.items()]
    return sorted(rows, key=lambda row: row["name"])


def failing(session: Session, devices: Select, limit: int | None = FAILING_LIST_LIMIT) -> list[FailingRow]:
    """Who is failing what, oldest failure first."""
    query = (
        select(Device.id, Device.serial, Device.asset_tag, Device.model, StaffMember.name, Device.role,
               Device.compliance_state, DeviceRuleState.rule, DeviceRuleState.severity, DeviceRuleState.observed,
               DeviceRuleState.failing_since, DeviceRuleState.grace_until)
        .join(DeviceRuleState, DeviceRuleState.device_id == Device.id)
        .outerjoin(StaffMember, StaffMember.id == Device.staff_member_id)
        .where(Device.id.in_(visible_ids(devices)), DeviceRuleState.failing_since.is_not(None))
        .order_by(DeviceRuleState.failing_since, Device.serial, DeviceRuleState.rule)
    )
    if limit is not None:
        query = query.limit(limit)
    return [FailingRow(*row) for row in session.execute(query)]


def failing_count(session: Session, devices: Select) -> int:
    return session.scalar(select(func.count()).select_from(DeviceRuleState).where(
        DeviceRuleState.device_id.in_(visible_ids(devices)), DeviceRuleState.failing_since.is_not(None))) or 0


def trend(session: Session, devices: Select | None = None, *, team_id: int | None = None, days: int = 365,
          today: date) -> list[TrendPoint]:
    """Phones per state over time from the daily summaries: of one team (`team_id`, the team the phones were in
    on each day), of the phones in `devices`, or of every phone (neither given).

    At most ~60 points: daily up to 60 days, then every 2nd day, then weekly (a year: 53 points), so a year of
    a 5,000-phone team counts ~265,000 index entries instead of 1.8 million rows.
    """
    step = 1 if days <= 60 else 2 if days <= 120 else 7
    points = [today - timedelta(days=offset) for offset in range(0, days + 1, step)][::-1]
    query = (select(ComplianceDaily.day, ComplianceDaily.state, func.count()).where(ComplianceDaily.day.in_(points))
             .group_by(ComplianceDaily.day, ComplianceDaily.state))
    if team_id is not None:
        query = query.where(ComplianceDaily.team_id == team_id)
    elif devices is not None:
        query = query.where(ComplianceDaily.device_id.in_(visible_ids(devices)))
    by_day: dict[date, dict[str, int]] = {day: {state: 0 for state in STATES} for day in points}
    for day, state, count in session.execute(query):
        if day in by_day and state in by_day[day]:
            by_day[day][state] = count
    first_data = next((day for day in points if sum(by_day[day].values())), None)
    if first_data is None:
        return []
    return [TrendPoint(day, by_day[day]) for day in points if day >= first_data]


def device_history(session: Session, device_id: int, *, days: int = 365, today: date) -> list[ComplianceDaily]:
    return list(session.scalars(select(ComplianceDaily).where(
        ComplianceDaily.device_id == device_id, ComplianceDaily.day >= today - timedelta(days=days))
        .order_by(ComplianceDaily.day.desc())))


def device_rule_states(session: Session, device_id: int) -> list[DeviceRuleState]:
    return list(session.scalars(select(DeviceRuleState).where(DeviceRuleState.device_id == device_id)
                                .order_by(DeviceRuleState.failing_since.is_(None), DeviceRuleState.rule)))


def latest_results(session: Session, device_id: int) -> list[ComplianceResult]:
    """The most recent sweep's raw results for one phone (raw results are pruned after the retention period)."""
    last_sweep = session.scalar(select(ComplianceResult.sweep_id).where(ComplianceResult.device_id == device_id)
                                .order_by(ComplianceResult.checked_at.desc()).limit(1))
    if last_sweep is None:
        return []
    return list(session.scalars(select(ComplianceResult).where(
        ComplianceResult.device_id == device_id, ComplianceResult.sweep_id == last_sweep).order_by(ComplianceResult.rule)))


# --- CSV ------------------------------------------------------------------------------------------------------
CURRENT_HEADER = ("serial", "asset_tag", "model", "holder", "team", "role", "phone_state", "compliance_state",
                  "grace_until", "last_seen", "failing_rules")
HISTORY_HEADER = ("serial", "asset_tag", "team", "day", "compliance_state", "failing_rules")


def current_rows(session: Session, devices: Select) -> Iterator[tuple]:
    failing_by_device: dict[int, list[str]] = {}
    for device_id, rule, since in session.execute(
            select(DeviceRuleState.device_id, DeviceRuleState.rule, DeviceRuleState.failing_since)
            .where(DeviceRuleState.device_id.in_(visible_ids(devices)), DeviceRuleState.failing_since.is_not(None))
            .order_by(DeviceRuleState.device_id, DeviceRuleState.rule)):
        failing_by_device.setdefault(device_id, []).append(f"{rule} (since {since.date().isoformat()})")
    query = (
        select(Device.id, Device.serial, Device.asset_tag, Device.model, StaffMember.name, Team.name, Device.role,
               Device.state, Device.compliance_state, Device.compliance_grace_until, Device.last_seen_at)
        .outerjoin(StaffMember, StaffMember.id == Device.staff_member_id)
        .outerjoin(Team, Team.id == Device.team_id)
        .where(Device.id.in_(visible_ids(devices)))
        .order_by(Device.serial)
        .execution_options(yield_per=1000)
    )
    for row in session.execute(query):
        yield (row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8],
               row[9].date().isoformat() if row[9] else "", row[10].isoformat() if row[10] else "",
               "; ".join(failing_by_device.get(row[0], [])))


def history_rows(session: Session, devices: Select, *, since: date) -> Iterator[tuple]:
    query = (
        select(Device.serial, Device.asset_tag, Team.name, ComplianceDaily.day, ComplianceDaily.state,
               ComplianceDaily.failing_rules)
        .join(Device, Device.id == ComplianceDaily.device_id)
        .outerjoin(Team, Team.id == Device.team_id)
        .where(ComplianceDaily.device_id.in_(visible_ids(devices)), ComplianceDaily.day >= since)
        .order_by(Device.serial, ComplianceDaily.day)
        .execution_options(yield_per=2000)
    )
    for serial, asset_tag, team, day, state, rules in session.execute(query):
        yield serial, asset_tag, team, day.isoformat(), state, rules.replace(",", "; ")
