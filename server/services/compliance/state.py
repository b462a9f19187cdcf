"""Where each phone stands: server-side rules, per-rule state with grace, and the phone's overall state.

Per rule (DeviceRuleState): a fail starts the clock (failing_since = when it was first seen failing) and the
grace ends failing_since + the rule's grace_days; a pass clears it; an "error" (the check could not see)
changes nothing, so a phone that hides a fact neither starts nor escapes a failure.
Per phone: unknown when never reached or not reached within N days; otherwise non_compliant when any rule's
grace is over, in_grace (until the earliest grace end) when something fails within grace, else compliant.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from server.models import ENROLLED, Acknowledgement, ComplianceResult, Device, DeviceRuleState, StaffMember, Sweep
from server.services import audit
from server.services.actor import Actor
from server.services.compliance.ingest import CHUNK, dialect_insert, insert_results
from server.services.compliance.rules import RuleConsequences
from server.services.compliance.check_in import NOT_CHECKED_IN, CheckInDue, due_of
from server.services.compliance.check_in import params_of as check_in_params
from server.services.compliance.server_rules import ACKNOWLEDGEMENT_CURRENT, CHECKED_IN, SEEN_RECENTLY, TRAINING_CURRENT
from server.services.policy import current_policy
from server.services.training import is_current
from server.settings import Settings

STATES = ("compliant", "in_grace", "non_compliant", "unknown")


@dataclass(frozen=True)
class PhoneState:
    device_id: int
    state: str
    grace_until: datetime | None
    failing_rules: tuple[str, ...]


def seen_within_days(rules: dict[str, RuleConsequences], settings: Settings) -> int:
    """How long a phone may go unreached before its state is unknown: the document's seen_recently.max_days,
    or PHONEGATE_COMPLIANCE_SEEN_DAYS when the rule is switched off."""
    rule = rules.get(SEEN_RECENTLY.rule)
    return int(rule.params["max_days"]) if rule else settings.compliance_seen_days


def evaluate_server_rules(session: Session, sweep: Sweep, now: datetime, settings: Settings,
                          rules: dict[str, RuleConsequences]) -> int:
    """Record this sweep's results for the rules the server checks from its own records. Returns rows stored."""
    enabled = [spec.rule for spec in (ACKNOWLEDGEMENT_CURRENT, TRAINING_CURRENT, SEEN_RECENTLY, CHECKED_IN) if spec.rule in rules]
    if not enabled:
        return 0
    paper = current_policy(session)
    acknowledged: set[int] = set()
    if paper is not None and ACKNOWLEDGEMENT_CURRENT.rule in rules:
        acknowledged = set(session.scalars(select(Acknowledgement.staff_member_id).where(
            Acknowledgement.policy_version_id == paper.id)))
    seen_cutoff = now - timedelta(days=seen_within_days(rules, settings))
    query = (
        select(Device.id, Device.role, Device.staff_member_id, Device.last_seen_at, StaffMember.training_completed_on,
               Device.created_at)
        .outerjoin(StaffMember, StaffMember.id == Device.staff_member_id)
        .where(Device.state.in_(ENROLLED))
    )
    rows: list[dict[str, Any]] = []
    check_in = check_in_params(rules)
    for device_id, role, holder_id, last_seen, trained_on, enrolled in session.execute(query):
        for rule in enabled:
            if role not in rules[rule].roles:
                outcome, observed = "not_applicable", f"rule does not apply to {role} phones"
            elif rule == ACKNOWLEDGEMENT_CURRENT.rule:
                outcome, observed = _acknowledgement(holder_id, paper, acknowledged)
            elif rule == TRAINING_CURRENT.rule:
                outcome, observed = _training(holder_id, trained_on, now.date(), settings.training_valid_days)
            elif rule == CHECKED_IN.rule:
                outcome, observed = _checked_in(due_of(last_seen, enrolled, check_in), now.date())
            else:
                outcome, observed = _seen(last_seen, seen_cutoff)
            rows.append({"sweep_id": sweep.id, "device_id": device_id, "rule": rule, "outcome": outcome,
                         "severity": rules[rule].severity, "observed": observed, "evidence": "{}", "checked_at": now})
    return insert_results(session, rows)


def _acknowledgement(holder_id, paper, acknowledged) -> tuple[str, str]:
    if holder_id is None:
        return "fail", "no holder recorded"
    if paper is None:
        return "error", "no acceptable-use policy published"
    if holder_id in acknowledged:
        return "pass", f"acknowledged version {paper.label}"
    return "fail", f"not acknowledged: current version is {paper.label}"


def _training(holder_id, trained_on: date | None, today: date, valid_days: int) -> tuple[str, str]:
    if holder_id is None:
        return "fail", "no holder recorded"
    if trained_on is None:
        return "fail", "no training recorded"
    if not is_current(trained_on, today, valid_days):
        return "fail", f"training completed {trained_on.isoformat()}: out of date"
    return "pass", f"training completed {trained_on.isoformat()}"


def _checked_in(due: CheckInDue, today: date) -> tuple[str, str]:
    if due.status(today) == NOT_CHECKED_IN:
        return "fail", due.observed()
    return "pass", f"due by {due.due.isoformat()}"


def _seen(last_seen: datetime | None, cutoff: datetime) -> tuple[str, str]:
    if last_seen is None:
        return "fail", "never reached by a sweep"
    if last_seen < cutoff:
        return "fail", f"last reached {last_seen.date().isoformat()}"
    return "pass", f"last reached {last_seen.date().isoformat()}"


def apply_results(session: Session, sweep: Sweep, rules: dict[str, RuleConsequences]) -> set[int]:
    """Fold this sweep's results into DeviceRuleState. Returns the ids of phones that had results."""
    latest: dict[tuple[int, str], tuple] = {}
    query = select(ComplianceResult.device_id, ComplianceResult.rule, ComplianceResult.outcome,
                   ComplianceResult.severity, ComplianceResult.observed, ComplianceResult.checked_at).where(
        ComplianceResult.sweep_id == sweep.id)
    for row in session.execute(query):
        latest[(row.device_id, row.rule)] = row
    device_ids = {device_id for device_id, _ in latest}
    existing = _rule_states(session, device_ids)
    upserts: list[dict[str, Any]] = []
    for key, row in latest.items():
        before = existing.get(key)
        failing_since = before["failing_since"] if before else None
        grace_until = before["grace_until"] if before else None
        notified_at = before["notified_at"] if before else None
        escalated_at = before["escalated_at"] if before else None
        if row.outcome == "fail":
            if failing_since is None:
                failing_since = row.checked_at
                rule = rules.get(row.rule)
                grace_until = failing_since + timedelta(days=rule.grace_days if rule else 0)
        elif row.outcome in ("pass", "not_applicable"):
            failing_since = grace_until = notified_at = escalated_at = None
        upserts.append({"device_id": key[0], "rule": key[1], "last_outcome": row.outcome, "severity": row.severity,
                        "observed": row.observed, "failing_since": failing_since, "grace_until": grace_until,
                        "last_checked_at": row.checked_at, "notified_at": notified_at, "escalated_at": escalated_at})
    if upserts and session.get_bind().dialect.name == "postgresql":
        _upsert_rule_states_postgresql(session, upserts)
    elif upserts:
        # One statement, many parameter sets: compiled once, sent as multi-row pages (see insert_results).
        stmt = dialect_insert(session, DeviceRuleState.__table__)
        stmt = stmt.on_conflict_do_update(index_elements=["device_id", "rule"], set_={
            name: stmt.excluded[name] for name in ("last_outcome", "severity", "observed", "failing_since", "grace_until",
                                                   "last_checked_at", "notified_at", "escalated_at")})
        session.execute(stmt, upserts)
    return device_ids


_RULE_STATE_TYPES = {"device_id": "integer", "rule": "varchar", "last_outcome": "varchar", "severity": "varchar",
                     "observed": "text", "failing_since": "timestamptz", "grace_until": "timestamptz",
                     "last_checked_at": "timestamptz", "notified_at": "timestamptz", "escalated_at": "timestamptz"}
_UPSERT_RULE_STATES = text(
    f"INSERT INTO device_rule_states ({', '.join(_RULE_STATE_TYPES)}) SELECT * FROM unnest("
    + ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in _RULE_STATE_TYPES.items())
    + ") ON CONFLICT (device_id, rule) DO UPDATE SET "
    + ", ".join(f"{name} = EXCLUDED.{name}" for name in _RULE_STATE_TYPES if name not in ("device_id", "rule"))
)


def _upsert_rule_states_postgresql(session: Session, rows: list[dict[str, Any]]) -> None:
    """As column arrays unnested on the server: one statement per 5,000 rules instead of one per rule."""
    for start in range(0, len(rows), 5000):
        chunk = rows[start:start + 5000]
        session.execute(_UPSERT_RULE_STATES, {name: [row[name] for row in chunk] for name in _RULE_STATE_TYPES})


def _rule_states(session: Session, device_ids: set[int]) -> dict[tuple[int, str], dict[str, Any]]:
    """The failing rule states of these phones (a passing state carries nothing the next sweep needs)."""
    found: dict[tuple[int, str], dict[str, Any]] = {}
    ids = sorted(device_ids)
    for start in range(0, len(ids), CHUNK):
        query = select(DeviceRuleState.device_id, DeviceRuleState.rule, DeviceRuleState.failing_since,
                       DeviceRuleState.grace_until, DeviceRuleState.notified_at, DeviceRuleState.escalated_at).where(
            DeviceRuleState.device_id.in_(ids[start:start + CHUNK]), DeviceRuleState.failing_since.is_not(None))
        for row in session.execute(query).mappings():
            found[(row["device_id"], row["rule"])] = dict(row)
    return found


def compute_phone_states(session: Session, device_ids: set[int], now: datetime, settings: Settings,
                         rules: dict[str, RuleConsequences]) -> dict[int, PhoneState]:
    seen_cutoff = now - timedelta(days=seen_within_days(rules, settings))
    failing: dict[int, list[tuple[str, datetime]]] = defaultdict(list)
    ids = sorted(device_ids)
    last_seen: dict[int, datetime | None] = {}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        last_seen.update(session.execute(select(Device.id, Device.last_seen_at).where(Device.id.in_(chunk))).all())
        for device_id, rule, grace_until in session.execute(select(
                DeviceRuleState.device_id, DeviceRuleState.rule, DeviceRuleState.grace_until).where(
                DeviceRuleState.device_id.in_(chunk), DeviceRuleState.failing_since.is_not(None))):
            # Only rules in force that "mark" decide the state (a rule left out of the document, or with
            # mark: false, may still e-mail, but does not make the phone non-compliant).
            if rule in rules and "mark" in rules[rule].actions:
                failing[device_id].append((rule, grace_until))
    states: dict[int, PhoneState] = {}
    for device_id in ids:
        marked = sorted(failing.get(device_id, []))
        names = tuple(rule for rule, _ in marked)
        seen = last_seen.get(device_id)
        if seen is None or seen < seen_cutoff:
            states[device_id] = PhoneState(device_id, "unknown", None, names)
        elif any(grace <= now for _, grace in marked):
            states[device_id] = PhoneState(device_id, "non_compliant", None, names)
        elif marked:
            states[device_id] = PhoneState(device_id, "in_grace", min(grace for _, grace in marked), names)
        else:
            states[device_id] = PhoneState(device_id, "compliant", None, ())
    return states


def store_phone_states(session: Session, states: dict[int, PhoneState], now: datetime, actor: Actor) -> int:
    """Write each phone's state; every change of state (or of grace end) is audited. Returns changes."""
    ids = sorted(states)
    before: dict[int, tuple[str, datetime | None]] = {}
    for start in range(0, len(ids), CHUNK):
        for device_id, state, grace in session.execute(select(
                Device.id, Device.compliance_state, Device.compliance_grace_until).where(Device.id.in_(ids[start:start + CHUNK]))):
            before[device_id] = (state, grace)
    changed = []
    updates = []
    for device_id, phone in sorted(states.items()):
        updates.append({"id": device_id, "compliance_state": phone.state, "compliance_grace_until": phone.grace_until,
                        "compliance_checked_at": now})
        old_state, old_grace = before.get(device_id, ("unknown", None))
        if (old_state, old_grace) != (phone.state, phone.grace_until):
            changed.append(("device", device_id, {"from": old_state, "to": phone.state,
                                                  "grace_until": phone.grace_until.isoformat() if phone.grace_until else None,
                                                  "failing_rules": list(phone.failing_rules)}))
    # One audit entry per changed phone, appended to the chain in one go.
    changes = audit.record_many(session, actor, "device.compliance_changed", changed)
    if updates:
        session.execute(Device.__table__.update().where(Device.__table__.c.id == bindparam("b_id")).values(
            compliance_state=bindparam("b_state"), compliance_grace_until=bindparam("b_grace"), compliance_checked_at=bindparam("b_checked")),
            [{"b_id": u["id"], "b_state": u["compliance_state"], "b_grace": u["compliance_grace_until"],
              "b_checked": u["compliance_checked_at"]} for u in updates])
    return changes


def scope_of(session: Session, reached: set[int]) -> set[int]:
    """Phones a finished sweep decides about: every enrolled phone, and any other phone it reached."""
    enrolled = set(session.scalars(select(Device.id).where(Device.state.in_(ENROLLED))))
    return enrolled | reached
