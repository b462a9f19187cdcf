"""What people do to a phone after its enrolment: retire it, reinstate it, report it lost or stolen.

Each action has a reason and runs in the caller's transaction with its audit entries. Who may do which is
access.phone_action_problem (reporting a phone missing is an incident: access.incident_report_problem); a refused
action is audited on its own transaction (refusals.refuse) and changes nothing.

- Retire (any state but retired -> retired): its approval ends, an open enrolment request is cancelled, unused
  install grants are revoked and a Broadcast designation ends. Nothing leaves "retired" (ALLOWED_TRANSITIONS), so
  a retired phone is never provisioned again.
- Reinstate (suspended -> approved), only while none of its blocking rules fails in its latest facts. Approved,
  not provisioned: a suspended phone must not carry the app (approved_app_state counts it as an unauthorised
  install), so a phone fit to be reinstated has none, and IT's next `provision` installs it with a new grant.
  A reinstated Broadcast phone is not the service's Broadcast phone again until a manager designates it.
- Report lost or stolen: an incident (incidents.report_incident), which suspends the phone in the same transaction.

The reasons are free text (they may name people): they stay on the PhoneAction row, the audit names it by id.
Two people acting on one phone at once: each locks the phone's row first (database.lock_row), so the second
waits, then sees what the first did and is told "nothing was changed".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.database import lock_row
from server.models import (
    AuditEntry,
    Device,
    DeviceRole,
    DeviceState,
    EnrolmentRequest,
    EnrolmentStatus,
    Incident,
    IncidentKind,
    InstallGrant,
    PhoneAction,
    User,
    utcnow,
)
from server.services import access, audit, broadcast, incidents, lifecycle, precheck
from server.services.actor import COMMAND_LINE_PREFIX, Actor
from server.services.compliance.server_rules import KNOWN_RULES
from server.services.errors import Conflict, Forbidden, InvalidInput, PolicyRefused
from server.services.refusals import refuse
from server.settings import Settings

REASON_MAX = 1000
REINSTATED_TO = DeviceState.APPROVED  # see the module docstring: a suspended phone fit to return carries no app

def rule_title(rule: str) -> str:
    spec = KNOWN_RULES.get(rule)
    return spec.title if spec is not None else rule


def blocking_titles(session: Session, device: Device) -> list[str]:
    """What stops `device` being reinstated now, by rule title (empty: nothing blocks)."""
    return [fact.title for fact in precheck.blocking_failures(session, device)]


def clean_reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Give a reason.", errors={"reason": ["Enter the reason"]})
    if len(reason) > REASON_MAX:
        raise InvalidInput("The reason is too long.", errors={"reason": [f"Keep the reason under {REASON_MAX} characters"]})
    return reason


def check_allowed(session: Session, actor: Actor, device: Device, action: str) -> None:
    """Refuse (audited, Forbidden) unless `actor` may `action` ("retire" or "reinstate") `device`."""
    # A server command run without --as: recorded as its operating-system account ("cli:alice@bench-pc").
    at_command_line = actor.user is None and actor.label.startswith(COMMAND_LINE_PREFIX)
    problem = access.phone_action_problem(actor.user, device, action, at_command_line=at_command_line)
    if problem is not None:
        raise refuse(session, actor, f"device.{action}_refused", Forbidden(problem), target=device)


def _record(session: Session, device: Device, actor: Actor, kind: str, from_state: str, reason: str) -> PhoneAction:
    entry = PhoneAction(device_id=device.id, kind=kind, from_state=from_state, to_state=device.state, reason=reason,
                        by_id=actor.user_id)
    session.add(entry)
    session.flush()
    return entry


def _check_unchanged(session: Session, actor: Actor, device: Device, action: str, expected_state: str | None) -> None:
    """The page sends the state its person saw: acting on a phone that changed since (someone reinstated the phone
    this person is retiring) is refused rather than done on a phone they never saw."""
    if expected_state is not None and device.state != expected_state:
        raise refuse(session, actor, f"device.{action}_refused", Conflict(
            f"This phone became {device.state.replace('_', ' ')} while you were looking at it; nothing was changed. "
            "Look at the page again."), target=device, details={"state": device.state, "seen": expected_state})


def retire(session: Session, device: Device, actor: Actor, *, reason: str | None,
           expected_state: str | None = None) -> PhoneAction:
    """Retire `device` for good (see the module docstring for what ends with it).

    `expected_state`: the state the person's page showed (None from the command line)."""
    check_allowed(session, actor, device, "retire")  # before the input: a refusal is audited whatever was typed
    reason = clean_reason(reason)
    if device.role == DeviceRole.BROADCAST.value and device.service is not None:
        lock_row(session, device.service)  # the order every Broadcast change takes: service, then phone
    device = lock_row(session, device)
    if device.state == DeviceState.RETIRED.value:
        raise refuse(session, actor, "device.retire_refused", Conflict(
            "This phone is already retired; nothing was changed."), target=device)
    _check_unchanged(session, actor, device, "retire", expected_state)
    from_state = device.state
    lifecycle.transition(session, device, DeviceState.RETIRED, actor, reason="retired on a person's request")
    entry = _record(session, device, actor, "retired", from_state, reason)
    ended = broadcast.end_for_phone(session, device, actor, reason=reason)
    cancelled = _cancel_open_request(session, device, actor, entry)
    revoked = _revoke_unused_grants(session, device, actor)
    details: dict = {"from": from_state, "phone_action_id": entry.id}
    if ended is not None:
        details["broadcast_designation_id"] = ended.id
    if cancelled is not None:
        details["request_id"] = cancelled.id
    if revoked:
        details["grants_revoked"] = revoked
    audit.record(session, actor, "device.retired", target=device, details=details)
    return entry


def _cancel_open_request(session: Session, device: Device, actor: Actor, entry: PhoneAction) -> EnrolmentRequest | None:
    request = session.scalar(select(EnrolmentRequest).where(
        EnrolmentRequest.device_id == device.id, EnrolmentRequest.status == EnrolmentStatus.PENDING.value))
    if request is None:
        return None
    request.status = EnrolmentStatus.CANCELLED.value
    request.decided_at = utcnow()  # decided_by stays empty: retiring is not a manager's decision on the request
    request.decision_reason = f"The phone was retired (phone action {entry.id})."
    audit.record(session, actor, "enrolment.cancelled", target=request, details={"device_id": device.id, "why": "phone retired"})
    return request


def _revoke_unused_grants(session: Session, device: Device, actor: Actor) -> int:
    now = utcnow()
    grants = session.scalars(select(InstallGrant).where(
        InstallGrant.device_id == device.id, InstallGrant.used_at.is_(None), InstallGrant.revoked_at.is_(None))).all()
    for grant in grants:
        grant.revoked_at = now
        audit.record(session, actor, "grant.revoked", target=grant, details={"device_id": device.id, "why": "phone retired"})
    return len(grants)


def reinstate(session: Session, device: Device, actor: Actor, *, reason: str | None,
              expected_state: str | None = None) -> PhoneAction:
    """Give a suspended phone its approval back, if none of its blocking rules fails now (`expected_state`: as
    for retire)."""
    check_allowed(session, actor, device, "reinstate")  # before the input: a refusal is audited whatever was typed
    reason = clean_reason(reason)
    device = lock_row(session, device)
    if device.state != DeviceState.SUSPENDED.value:
        raise refuse(session, actor, "device.reinstate_refused", Conflict(
            f"Only a suspended phone can be reinstated; this one is {device.state.replace('_', ' ')}. "
            "Nothing was changed."), target=device, details={"state": device.state})
    _check_unchanged(session, actor, device, "reinstate", expected_state)
    failing = precheck.blocking_failures(session, device)
    if failing:
        titles = "; ".join(fact.title for fact in failing)
        raise refuse(session, actor, "device.reinstate_refused", PolicyRefused(
            f"This phone cannot be reinstated while these rules fail: {titles}. IT must fix the phone and check it "
            "again; nothing was changed."), target=device, details={"failing_rules": [fact.rule for fact in failing]})
    lifecycle.transition(session, device, REINSTATED_TO, actor, reason="reinstated on a person's request")
    entry = _record(session, device, actor, "reinstated", DeviceState.SUSPENDED.value, reason)
    audit.record(session, actor, "device.reinstated", target=device,
                 details={"from": DeviceState.SUSPENDED.value, "to": device.state, "phone_action_id": entry.id})
    return entry


def report_lost(session: Session, device: Device, actor: Actor, settings: Settings, *, reason: str | None,
                occurred_on: date | None = None) -> Incident:
    """Report `device` lost or stolen: the incident service records it, suspends the phone and mails the mailbox."""
    reason = clean_reason(reason)
    report = incidents.IncidentReport(kind=IncidentKind.LOST_OR_STOLEN.value, description=reason,
                                      occurred_on=occurred_on or utcnow().date(), device=device)
    return incidents.report_incident(session, actor, settings, report)


# --- what the phone's page says ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Suspension:
    """Why and when a phone was suspended, from the audit entry that suspended it."""

    at: datetime
    by: str  # the person's email, or the actor's label ("system": a compliance sweep)
    reason: str
    incident: Incident | None = None
    rules: list[str] = field(default_factory=list)  # titles of the rules that suspended it (compliance)


_COMPLIANCE_REASON = re.compile(r"^compliance: (?P<rules>[a-z0-9_, ]+) failing past grace$")


def why_suspended(session: Session, device: Device) -> Suspension | None:
    """The latest suspension of a suspended phone, in words; None when it is not suspended (or no entry says why)."""
    if device.state != DeviceState.SUSPENDED.value:
        return None
    entries = session.execute(
        select(AuditEntry, User.email).outerjoin(User, User.id == AuditEntry.actor_user_id)
        .where(AuditEntry.action == "device.state_changed", AuditEntry.target_type == "device",
               AuditEntry.target_id == str(device.id))
        .order_by(AuditEntry.id.desc()).limit(20)).all()
    for entry, email in entries:
        details = _details(entry.details)
        if details.get("to") != DeviceState.SUSPENDED.value:
            continue
        reason = str(details.get("reason") or "no reason was recorded")
        by = email or entry.actor
        rules = _compliance_rules(reason)
        if rules:
            return Suspension(entry.at, by, "Compliance rules failed past their grace period", rules=rules)
        if "lost or stolen" in reason:
            incident = session.scalar(select(Incident).where(
                Incident.device_id == device.id, Incident.kind == IncidentKind.LOST_OR_STOLEN.value,
                Incident.phone_suspended.is_(True)).order_by(Incident.id.desc()).limit(1))
            return Suspension(entry.at, by, "Reported lost or stolen", incident=incident)
        return Suspension(entry.at, by, reason[:1].upper() + reason[1:])
    return None


def _compliance_rules(reason: str) -> list[str]:
    match = _COMPLIANCE_REASON.match(reason)
    if match is None:
        return []
    return [rule_title(rule.strip()) for rule in match.group("rules").split(",") if rule.strip()]


def _details(text: str) -> dict:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def history(session: Session, device: Device) -> list[PhoneAction]:
    """The phone's retire and reinstate actions with their reasons, newest first."""
    return list(session.scalars(select(PhoneAction).where(PhoneAction.device_id == device.id)
                                .order_by(PhoneAction.id.desc())))
