"""Daily summaries (kept for the trend and history) and pruning of raw results (kept only for a while).

Raw ComplianceResult rows carry evidence and grow by phones x rules every sweep; a year of four-hourly sweeps
of 5,000 phones would be ~100 million rows. The daily summary (one row per phone per day, the day's last
state) is what history and the trend need, so raw rows older than the retention period are deleted.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from server.models import ComplianceDaily, ComplianceResult, Device
from server.services.compliance.ingest import CHUNK, dialect_insert
from server.services.compliance.state import PhoneState


def update_daily(session: Session, states: dict[int, PhoneState], now: datetime) -> int:
    """Upsert today's summary for each phone: the last sweep of the day wins."""
    day = now.date()
    ids = sorted(states)
    teams: dict[int, int | None] = {}
    for start in range(0, len(ids), CHUNK):
        teams.update(session.execute(select(Device.id, Device.team_id).where(Device.id.in_(ids[start:start + CHUNK]))).all())
    rows = [{"device_id": device_id, "day": day, "team_id": teams.get(device_id), "state": states[device_id].state,
             "failing_rules": ",".join(states[device_id].failing_rules)} for device_id in ids]
    if rows:
        stmt = dialect_insert(session, ComplianceDaily.__table__)
        stmt = stmt.on_conflict_do_update(index_elements=["device_id", "day"],
                                          set_={"state": stmt.excluded.state, "failing_rules": stmt.excluded.failing_rules,
                                                "team_id": stmt.excluded.team_id})
        session.execute(stmt, rows)
    return len(rows)


def prune_results(session: Session, now: datetime, retention_days: int) -> int:
    """Delete raw results older than the retention period; summaries and rule states stay. Returns rows deleted."""
    if retention_days < 1:
        raise ValueError("retention must be at least one day")
    cutoff = now - timedelta(days=retention_days)
    result = session.execute(delete(ComplianceResult).where(ComplianceResult.checked_at < cutoff)
                             .execution_options(synchronize_session=False))
    return result.rowcount or 0
