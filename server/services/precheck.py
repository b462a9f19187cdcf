"""The gate sees the phone: the rules as last checked on the phone itself, which of them block approval, and
what else the manager should know before deciding (the holder already has another phone).

`provision` checks the phone against the current compliance rules on every run and sends the outcomes
(record_precheck); a sweep's results for an enrolled phone are newer facts about the same rules. Whichever is
newer per rule is the phone's latest fact (latest_outcomes). A rule marked `blocks_approval` in the rules
document that fails there stops approval (refuse_if_blocked, called by decisions.approve_enrolment) and stops a
suspended phone being reinstated (blocking_failures).

A pre-check never marks, mails or suspends: that is what sweeps do, for phones that are enrolled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from phonegate.core.lifecycle import ENROLLED, DeviceRole
from phonegate.core.rules import RulesDocument
from phonegate.core.text import printable
from server.models import (
    BroadcastDesignation,
    Device,
    DevicePrecheck,
    DeviceRuleState,
    EnrolmentRequest,
    utcnow,
)
from server.services import audit
from server.services.actor import Actor
from server.services.compliance import rules as rules_service
from server.services.compliance.server_rules import KNOWN_RULES
from server.services.errors import InvalidInput, PolicyRefused
from server.services.refusals import refuse

OBSERVED_MAX = 500
MAX_RESULTS = len(KNOWN_RULES)


@dataclass(frozen=True)
class RuleFact:
    """One rule's latest outcome on one phone, as the pages show it."""

    rule: str
    title: str
    outcome: str
    observed: str | None
    checked_at: datetime
    source: str  # "provision" (the pre-check or first check) or "sweep"
    blocks_approval: bool

    @property
    def blocking(self) -> bool:
        return self.blocks_approval and self.outcome == "fail"


@dataclass(frozen=True)
class Precheck:
    """What the request and check pages show above the decision."""

    facts: list[RuleFact]
    checked_at: datetime | None
    other_phones: list[Device]  # phones the same holder (or service, as its Broadcast phone) already has

    @property
    def blocking(self) -> list[RuleFact]:
        return [fact for fact in self.facts if fact.blocking]

    @property
    def other_failing(self) -> list[RuleFact]:
        return [fact for fact in self.facts if fact.outcome in ("fail", "error") and not fact.blocking]

    @property
    def passing(self) -> list[RuleFact]:
        return [fact for fact in self.facts if fact.outcome == "pass"]


def current_rules(session: Session) -> RulesDocument:
    """The rules in force, read only: before the first sweep has published version 1, the packaged default it will
    publish. (Publishing here would write inside a decision's transaction, which holds the request's row lock, and
    wait for the audit log's lock: two decisions at once deadlocked on PostgreSQL.)"""
    row = rules_service.current_version(session)
    return rules_service.parse_document(row.document if row is not None else rules_service.default_document())


def record_precheck(session: Session, device: Device, actor: Actor, results: list[dict[str, Any]], *,
                    rules_version: int | None, now: datetime | None = None) -> list[DevicePrecheck]:
    """Replace the phone's pre-check with `results` ({rule, outcome, severity?, observed?}); audited.

    The outcomes come from a provisioning token's holder (IT), whose tool ran the checks on the phone; what the
    phone said is untrusted text, so `observed` is made printable and bounded here, where it is stored."""
    now = now or utcnow()
    seen: set[str] = set()
    rows: list[DevicePrecheck] = []
    for index, result in enumerate(results):
        rule, outcome = result["rule"], result["outcome"]
        if rule not in KNOWN_RULES or KNOWN_RULES[rule].evaluated_by != "device":
            raise InvalidInput("A pre-check result names a rule that is not checked on phones.",
                               errors={f"results.{index}.rule": [f"Unknown device rule {printable(rule)[:64]!r}."]})
        if rule in seen:
            raise InvalidInput("A pre-check names one rule twice.", errors={f"results.{index}.rule": ["Given twice."]})
        seen.add(rule)
        observed = result.get("observed")
        rows.append(DevicePrecheck(
            device_id=device.id, rule=rule, outcome=outcome, severity=result.get("severity") or "medium",
            observed=printable(observed)[:OBSERVED_MAX] if observed else None, checked_at=now,
            device_state=device.state, rules_version=rules_version))
    session.execute(delete(DevicePrecheck).where(DevicePrecheck.device_id == device.id))
    session.add_all(rows)
    session.flush()
    failing = sorted(row.rule for row in rows if row.outcome == "fail")
    audit.record(session, actor, "device.prechecked", target=device, details={
        "device_state": device.state, "rules_version": rules_version, "checked": len(rows), "failing": failing})
    return rows


def latest_outcomes(session: Session, device: Device, rules: RulesDocument | None = None) -> list[RuleFact]:
    """Per device rule, the newest of the phone's pre-check and its sweep state, in the rules document's order."""
    rules = rules or current_rules(session)
    newest: dict[str, RuleFact] = {}

    def offer(rule: str, outcome: str, observed: str | None, checked_at: datetime, source: str) -> None:
        config = rules.rules.get(rule)
        if config is None or config.evaluated_by != "device" or not config.enabled:
            return
        known = newest.get(rule)
        if known is None or checked_at > known.checked_at:
            newest[rule] = RuleFact(rule, KNOWN_RULES[rule].title, outcome, observed, checked_at, source,
                                    config.blocks_approval)

    for row in session.scalars(select(DevicePrecheck).where(DevicePrecheck.device_id == device.id)):
        offer(row.rule, row.outcome, row.observed, row.checked_at, "provision")
    for row in session.scalars(select(DeviceRuleState).where(DeviceRuleState.device_id == device.id)):
        offer(row.rule, row.last_outcome, row.observed, row.last_checked_at, "sweep")
    order = list(rules.rules)
    return sorted(newest.values(), key=lambda fact: order.index(fact.rule))


def blocking_failures(session: Session, device: Device) -> list[RuleFact]:
    """The rules that block approval and fail in the phone's latest facts (empty: nothing blocks)."""
    return [fact for fact in latest_outcomes(session, device) if fact.blocking]


def for_request(session: Session, request: EnrolmentRequest) -> Precheck:
    facts = latest_outcomes(session, request.device)
    checked = max((fact.checked_at for fact in facts), default=None)
    return Precheck(facts=facts, checked_at=checked, other_phones=other_phones(session, request))


def other_phones(session: Session, request: EnrolmentRequest) -> list[Device]:
    """Phones the request's holder already holds (the paper: a work phone each), or the service's Broadcast phone."""
    if request.role == DeviceRole.BROADCAST.value:
        query = (select(Device).join(BroadcastDesignation, BroadcastDesignation.device_id == Device.id)
                 .where(BroadcastDesignation.service_id == request.service_id, BroadcastDesignation.ended_at.is_(None)))
    else:
        query = select(Device).where(Device.staff_member_id == request.staff_member_id,
                                     Device.state.in_(sorted(ENROLLED)))
    return [device for device in session.scalars(query.order_by(Device.serial)) if device.id != request.device_id]


@dataclass(frozen=True)
class ProvisionCheck:
    """The rules as `provision` last checked them on the phone, for the phone's page (before any sweep)."""

    checked_at: datetime
    device_state: str
    failing: list[str]  # rule titles
    passed: int


def provision_check(session: Session, device: Device) -> ProvisionCheck | None:
    rows = list(session.scalars(select(DevicePrecheck).where(DevicePrecheck.device_id == device.id)))
    if not rows:
        return None
    return ProvisionCheck(
        checked_at=max(row.checked_at for row in rows), device_state=rows[0].device_state,
        failing=[KNOWN_RULES[row.rule].title for row in rows if row.outcome in ("fail", "error") and row.rule in KNOWN_RULES],
        passed=sum(row.outcome == "pass" for row in rows))


def refuse_if_blocked(session: Session, request: EnrolmentRequest, actor: Actor, action: str) -> None:
    """Approval is impossible while a blocking rule fails, whatever the form said (a forged POST included)."""
    blocking = blocking_failures(session, request.device)
    if blocking:
        titles = "; ".join(fact.title for fact in blocking)
        raise refuse(session, actor, action, PolicyRefused(
            f"This phone cannot be approved until IT fixes it: {titles}. IT runs provision again after the fix."),
            target=request, details={"blocking_rules": [fact.rule for fact in blocking]})


__all__ = ["Precheck", "ProvisionCheck", "provision_check", "RuleFact", "blocking_failures", "for_request", "latest_outcomes",
           "record_precheck", "refuse_if_blocked"]
