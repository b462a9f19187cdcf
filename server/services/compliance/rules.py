"""Compliance rules versions: publish (admins), find the current one, and read each rule's consequences.

A document is validated by the shared core's parser (phonegate.core.rules) against every rule there is: the
device rules' specs (phonegate.core.device_rules) and the server's own (server_rules.py). The server reads what
happens when a rule fails (severity, grace, actions, escalation) and the parameters of its own rules.
Every version is kept, so a result can always be read against the rules it was checked under.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from phonegate.core.rules import RulesDocument, RulesInvalid, default_rules_text, parse_rules
from server.models import ComplianceRulesVersion, Role
from server.services import audit
from server.services.actor import Actor
from server.services.compliance.server_rules import KNOWN_RULES
from server.services.errors import Forbidden, InvalidInput

ACTIONS = ("mark", "email_manager", "escalate", "suspend", "email_holder")
DOCUMENT_MAX_CHARS = 200_000


@dataclass(frozen=True)
class RuleConsequences:
    """What failing one rule means: how serious, how long before it counts, and what is done about it."""

    rule: str
    severity: str = "medium"
    grace_days: int = 0
    actions: frozenset[str] = frozenset({"mark"})
    escalate_after_days: int | None = None  # None: never escalated
    roles: tuple[str, ...] = ("individual", "broadcast")
    params: dict[str, Any] = field(default_factory=dict, compare=False)


def parse_document(document: str) -> RulesDocument:
    """Validate a rules document against every known rule; raise InvalidInput naming every problem."""
    if not isinstance(document, str) or not document.strip():
        raise InvalidInput("The compliance rules document is empty.", errors={"document": ["The document is empty."]})
    if len(document) > DOCUMENT_MAX_CHARS:
        raise InvalidInput("The compliance rules document is too long.",
                           errors={"document": [f"Longer than {DOCUMENT_MAX_CHARS} characters."]})
    try:
        return parse_rules(document, KNOWN_RULES)
    except RulesInvalid as exc:
        problems = [f"{where}: {message}" for where, messages in exc.errors.items() for message in messages]
        raise InvalidInput(str(exc), errors={"document": problems}) from exc


def consequences(document: str) -> dict[str, RuleConsequences]:
    """Per enabled rule id, what failing it means. A rule left out of the document (or disabled) is off."""
    rules = parse_document(document)
    found: dict[str, RuleConsequences] = {}
    for config in rules.rules.values():
        if not config.enabled:
            continue
        on_failure = config.on_failure
        actions = {"mark"} if on_failure.mark else set()
        if on_failure.email_manager:
            actions.add("email_manager")
        if on_failure.escalate_after_days is not None:
            actions.add("escalate")
        if on_failure.suspend:
            actions.add("suspend")
        if on_failure.email_holder:
            actions.add("email_holder")
        found[config.rule] = RuleConsequences(
            rule=config.rule, severity=config.severity, grace_days=config.grace_days, actions=frozenset(actions),
            escalate_after_days=on_failure.escalate_after_days, roles=tuple(config.roles), params=dict(config.params))
    return found


def current_version(session: Session) -> ComplianceRulesVersion | None:
    return session.scalar(select(ComplianceRulesVersion).order_by(ComplianceRulesVersion.version.desc()).limit(1))


def get_version(session: Session, version: int) -> ComplianceRulesVersion | None:
    return session.scalar(select(ComplianceRulesVersion).where(ComplianceRulesVersion.version == version))


def list_versions(session: Session):
    return select(ComplianceRulesVersion).order_by(ComplianceRulesVersion.version.desc())


def publish_version(session: Session, document: str, actor: Actor, comment: str | None = None) -> ComplianceRulesVersion:
    """Store `document` as the next version. Admins (or the operator's CLI / the system) only."""
    if actor.user is not None and actor.user.role != Role.ADMIN.value:
        raise Forbidden("Only an administrator can publish compliance rules.")
    parse_document(document)
    comment = (comment or "").strip()[:500] or None
    for _ in range(3):  # two admins publishing at once: the unique version number decides, the loser takes the next
        number = (session.scalar(select(func.max(ComplianceRulesVersion.version))) or 0) + 1
        row = ComplianceRulesVersion(version=number, document=document, comment=comment,
                                      created_by_id=actor.user.id if actor.user else None)
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:
            continue
        audit.record(session, actor, "compliance_rules.published", target=row, details={"version": number})
        return row
    raise InvalidInput("Another version was being published at the same time; try again.", errors={})


def ensure_current_version(session: Session) -> ComplianceRulesVersion:
    """The current version; on a fresh install, the agent's packaged default becomes version 1 (audited)."""
    row = current_version(session)
    if row is not None:
        return row
    # The server publishes its own default (as "system"): whoever started the first sweep need not be an admin.
    return publish_version(session, default_document(), Actor.system(), comment="Packaged default rules")


def default_document() -> str:
    return default_rules_text()
