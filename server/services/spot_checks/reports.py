"""A report per team: spot checks started, completed and with concerns, per quarter.

A spot check counts in the quarter it was completed (or, for "started", the quarter it began). A Broadcast
phone's spot checks belong to its service and are reported on a row of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from sqlalchemy import or_
from sqlalchemy.orm import Session

from phonegate.core.spot_check_rules import quarter_of
from server.models import Service, SpotCheck, SpotCheckOutcome, Team, User
from server.services import access


@dataclass
class QuarterFigures:
    started: int = 0
    from_sample: int = 0
    completed: int = 0
    with_concerns: int = 0


@dataclass
class TeamRow:
    name: str  # the team, or "Broadcast phone – <service>"
    team_id: int | None
    quarters: dict[str, QuarterFigures] = field(default_factory=dict)


def last_quarters(today: date, count: int = 4) -> list[str]:
    """The labels of the `count` quarters up to today's, oldest first ("2026-Q1" ... "2026-Q4")."""
    year, quarter = today.year, (today.month - 1) // 3 + 1
    labels = []
    for _ in range(count):
        labels.append(f"{year}-Q{quarter}")
        quarter -= 1
        if quarter == 0:
            year, quarter = year - 1, 4
    return list(reversed(labels))


def per_team_per_quarter(session: Session, user: User, today: date, count: int = 4) -> tuple[list[str], list[TeamRow]]:
    quarters = last_quarters(today, count)
    first_year, first_quarter = (int(part) for part in quarters[0].split("-Q"))
    since = date(first_year, 3 * (first_quarter - 1) + 1, 1)
    rows: dict[tuple[str, int], TeamRow] = {}
    for team in session.scalars(access.teams_query(user)):
        rows[("team", team.id)] = TeamRow(team.name, team.id, {label: QuarterFigures() for label in quarters})
    service_names = dict(session.execute(access.services_query(user).with_only_columns(Service.id, Service.name)).all())
    window = or_(SpotCheck.started_at >= _midnight(since), SpotCheck.completed_at >= _midnight(since))
    for check in session.scalars(access.spot_checks_query(user).where(window)):
        key = ("team", check.team_id) if check.team_id is not None else ("service", check.service_id or 0)
        if key not in rows:
            name = (f"Broadcast phone – {service_names.get(check.service_id, 'service')}" if key[0] == "service"
                    else _team_name(session, check.team_id))
            rows[key] = TeamRow(name, check.team_id, {label: QuarterFigures() for label in quarters})
        figures = rows[key].quarters
        started = quarter_of(check.started_at.date())
        if started in figures:
            figures[started].started += 1
            figures[started].from_sample += check.sample_id is not None
        if check.completed_at is not None and (done := quarter_of(check.completed_at.date())) in figures:
            figures[done].completed += 1
            figures[done].with_concerns += check.outcome != SpotCheckOutcome.NO_CONCERNS.value
    return quarters, sorted(rows.values(), key=lambda row: (row.team_id is None, row.name))


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def _team_name(session: Session, team_id: int | None) -> str:
    team = session.get(Team, team_id) if team_id is not None else None
    return team.name if team else "No team"
