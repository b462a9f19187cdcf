"""Finishing a compliance sweep: server-side rules, per-rule and per-phone state, actions, daily summaries.

The pieces live beside it: ingest (create/claim/store), state (server rules and states), actions (mail,
escalation, suspension) and retention (summaries, pruning); this module puts them in order. Finishing twice runs the actions once: the second call only reports.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from server.models import ComplianceResult, ComplianceRulesVersion, Device, Sweep, utcnow
from server.services import audit
from server.services.actor import Actor
from server.services.compliance.actions import ActionReport, run_actions
from server.services.compliance.ingest import get_sweep
from server.services.compliance.retention import prune_results, update_daily
from server.services.compliance.rules import consequences, ensure_current_version
from server.services.compliance.state import (
    STATES,
    apply_results,
    compute_phone_states,
    evaluate_server_rules,
    scope_of,
    store_phone_states,
)
from server.settings import Settings, current_settings


def finish_sweep(session: Session, sweep_id: str, actor: Actor, *, now: datetime | None = None,
                 settings: Settings | None = None) -> dict[str, Any]:
    sweep = get_sweep(session, sweep_id)
    if sweep.finished_at is not None:
        return sweep_summary(session, sweep, already_finished=True)
    now = now or utcnow()
    settings = settings or current_settings()
    # Take the sweep first: of two finishes at once (two schedulers), the second waits on this row and then
    # finds it finished, so actions run (and e-mails go) once.
    taken = session.execute(update(Sweep).where(Sweep.id == sweep.id, Sweep.finished_at.is_(None))
                            .values(finished_at=now).returning(Sweep.id)).scalar()
    if taken is None:
        session.refresh(sweep)
        return sweep_summary(session, sweep, already_finished=True)
    version = session.get(ComplianceRulesVersion, sweep.rules_version_id) if sweep.rules_version_id else None
    version = version or ensure_current_version(session)
    rules = consequences(version.document)

    evaluate_server_rules(session, sweep, now, settings, rules)
    reached = apply_results(session, sweep, rules)
    scope = scope_of(session, reached)
    states = compute_phone_states(session, scope, now, settings, rules)
    store_phone_states(session, states, now, actor)
    report = run_actions(session, sweep.id, scope, rules, now, settings, actor)
    update_daily(session, states, now)
    # Also here, not only in the scheduler: a site that runs sweeps from the CLI alone still forgets old evidence.
    prune_results(session, now, settings.compliance_retention_days)

    sweep.finished_at = now
    sweep.device_count = len(states)
    sweep.non_compliant_count = sum(1 for phone in states.values() if phone.state == "non_compliant")
    audit.record(session, actor, "sweep.finished", target_type="sweep", target_id=sweep.id,
                 details={"devices": sweep.device_count, "non_compliant": sweep.non_compliant_count,
                          "suspended": len(report.suspended)})
    session.flush()
    return sweep_summary(session, sweep, report=report, scope=set(states))


def sweep_summary(session: Session, sweep: Sweep, *, report: ActionReport | None = None, scope: set[int] | None = None,
                  already_finished: bool = False) -> dict[str, Any]:
    """Counts of phones by state as they stand now (for the phones this sweep reached or decided about)."""
    query = select(Device.id, Device.serial, Device.compliance_state, Device.compliance_grace_until)
    if scope is None:
        query = query.where(Device.id.in_(select(ComplianceResult.device_id).where(ComplianceResult.sweep_id == sweep.id)))
    rows = [row for row in session.execute(query) if scope is None or row.id in scope]
    counts = {state: 0 for state in STATES}
    for row in rows:
        counts[row.compliance_state] = counts.get(row.compliance_state, 0) + 1
    version = session.scalar(select(ComplianceRulesVersion.version).where(ComplianceRulesVersion.id == sweep.rules_version_id))
    return {
        "sweep_id": sweep.id,
        "source": sweep.source,
        "started_at": sweep.started_at,
        "finished_at": sweep.finished_at,
        "rules_version": version,
        "device_count": sweep.device_count if sweep.finished_at else len(rows),
        "counts": counts,
        "non_compliant": sorted(row.serial for row in rows if row.compliance_state == "non_compliant"),
        "in_grace": [{"serial": row.serial, "until": row.compliance_grace_until}
                     for row in sorted(rows, key=lambda r: r.serial) if row.compliance_state == "in_grace"],
        "actions": (report or ActionReport()).to_json(),
        "already_finished": already_finished,
    }
