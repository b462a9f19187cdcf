"""What happens when rules fail: tell managers, tell holders what to do, escalate to administrators, suspend.

E-mail is at least once: a message is sent before the transaction commits, and an item counts as notified
only when the relay accepted a message naming it, so a relay outage means a retry next sweep, never silence.
Each manager gets ONE message per sweep, listing every failing phone and rule of their team, and only when
something new failed since their last message (a phone failing for weeks is not re-sent every four hours).

Messages name phones by serial/asset tag and rules by id, never the holder: e-mail leaves our control, and
the linked compliance page (behind login) shows the manager who holds which phone. A rule with a remedy (what to do
about it, phonegate.core.rules.RuleSpec.remedy, e.g. media retention: "enter it in the case record, then delete")
says so in the manager's message, and, when its on_failure has email_holder, in one message to the holder per
failure (HolderNotice remembers it was sent).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from phonegate.core.rules import RuleSpec
from server.mail import MailMessage, send_messages
from server.models import (
    HOLDS_APPROVAL,
    Device,
    DeviceRole,
    DeviceRuleState,
    DeviceState,
    HolderNotice,
    Role,
    StaffMember,
    Team,
    User,
)
from server.services import audit
from server.services.actor import Actor
from server.services.compliance.rules import RuleConsequences
from server.services.compliance.server_rules import KNOWN_RULES
from server.settings import Settings, public_root


@dataclass
class ActionReport:
    manager_emails: int = 0
    escalation_emails: int = 0
    suspended: list[str] = field(default_factory=list)
    holder_emails: int = 0

    def to_json(self) -> dict:
        return {"manager_emails": self.manager_emails, "escalation_emails": self.escalation_emails,
                "suspended": sorted(self.suspended), "holder_emails": self.holder_emails}


@dataclass(frozen=True)
class FailingItem:
    device_id: int
    serial: str
    asset_tag: str | None
    model: str | None
    team_id: int | None
    service_id: int | None
    rule: str
    observed: str | None
    failing_since: datetime
    grace_until: datetime | None
    notified: bool
    escalated: bool


def run_actions(session: Session, sweep_id: str, device_ids: set[int], rules: dict[str, RuleConsequences],
                now: datetime, settings: Settings, actor: Actor) -> ActionReport:
    report = ActionReport()
    items = _failing_items(session, device_ids)
    _suspend(session, items, rules, now, actor, report)
    _notify_managers(session, sweep_id, items, rules, now, settings, actor, report)
    _notify_holders(session, items, rules, settings, actor, report)
    _escalate(session, sweep_id, items, rules, now, settings, actor, report)
    return report


def remedy(rule: str) -> str | None:
    """What to do about a failing rule, from its spec (None when nobody can do anything but IT)."""
    spec: RuleSpec | None = KNOWN_RULES.get(rule)
    return spec.remedy if spec is not None else None


def _failing_items(session: Session, device_ids: set[int]) -> list[FailingItem]:
    query = (
        select(DeviceRuleState.device_id, DeviceRuleState.rule, DeviceRuleState.observed, DeviceRuleState.failing_since,
               DeviceRuleState.grace_until, DeviceRuleState.notified_at, DeviceRuleState.escalated_at,
               Device.serial, Device.asset_tag, Device.model, Device.team_id, Device.service_id)
        .join(Device, Device.id == DeviceRuleState.device_id)
        .where(DeviceRuleState.failing_since.is_not(None))
        .order_by(Device.serial, DeviceRuleState.rule)
    )
    return [
        FailingItem(row.device_id, row.serial, row.asset_tag, row.model, row.team_id, row.service_id, row.rule,
                    row.observed, row.failing_since, row.grace_until, row.notified_at is not None,
                    row.escalated_at is not None)
        for row in session.execute(query)
        if row.device_id in device_ids
    ]


def _suspend(session: Session, items: list[FailingItem], rules: dict[str, RuleConsequences], now: datetime,
             actor: Actor, report: ActionReport) -> None:
    from server.services.lifecycle import transition

    due: dict[int, list[str]] = defaultdict(list)
    for item in items:
        rule = rules.get(item.rule)
        if rule and "suspend" in rule.actions and item.grace_until is not None and item.grace_until <= now:
            due[item.device_id].append(item.rule)
    for device_id, failing in sorted(due.items()):
        device = session.get(Device, device_id)
        if device is None or device.state not in HOLDS_APPROVAL:
            continue
        transition(session, device, DeviceState.SUSPENDED, actor,
                   reason=f"compliance: {', '.join(sorted(failing))} failing past grace")
        report.suspended.append(device.serial)


def _team_managers(session: Session) -> dict[int, list[User]]:
    managers: dict[int, list[User]] = defaultdict(list)
    for user in session.scalars(select(User).where(User.role == Role.MANAGER.value, User.active.is_(True)).order_by(User.id)):
        if user.team_id is not None:
            managers[user.team_id].append(user)
    return managers


def _teams_of(item: FailingItem, service_teams: dict[int, list[int]]) -> list[int]:
    # A Broadcast phone belongs to a service, not a team: every team manager of that service is told.
    if item.team_id is not None:
        return [item.team_id]
    return service_teams.get(item.service_id, []) if item.service_id is not None else []


def _notify_managers(session: Session, sweep_id: str, items: list[FailingItem], rules: dict[str, RuleConsequences],
                     now: datetime, settings: Settings, actor: Actor, report: ActionReport) -> None:
    mailable = [item for item in items if item.rule in rules and "email_manager" in rules[item.rule].actions]
    if not mailable:
        return
    service_teams: dict[int, list[int]] = defaultdict(list)
    for team_id, service_id in session.execute(select(Team.id, Team.service_id)):
        service_teams[service_id].append(team_id)
    by_team: dict[int, list[FailingItem]] = defaultdict(list)
    for item in mailable:
        for team_id in _teams_of(item, service_teams):
            by_team[team_id].append(item)
    managers = _team_managers(session)
    team_names = dict(session.execute(select(Team.id, Team.name)).all())
    outgoing: list[tuple[int, User, MailMessage]] = []
    for team_id, team_items in sorted(by_team.items()):
        if not any(not item.notified for item in team_items):
            continue  # nothing new for this team since the last message
        link = f"{public_root()}/compliance/teams/{team_id}"
        for manager in managers.get(team_id, []):
            outgoing.append((team_id, manager, MailMessage(
                to=manager.email,
                subject=f"PhoneGate: {len({i.device_id for i in team_items})} phone(s) failing compliance in {team_names.get(team_id, 'your team')}",
                body=_manager_body(team_names.get(team_id, "your team"), team_items, link, sweep_id))))
    accepted = send_messages(settings.smtp, [message for _, _, message in outgoing])
    told_teams: set[int] = set()
    for (team_id, manager, _), ok in zip(outgoing, accepted):
        if not ok:
            continue
        told_teams.add(team_id)
        report.manager_emails += 1
        audit.record(session, actor, "compliance.manager_notified", target_type="user", target_id=manager.id,
                     details={"sweep_id": sweep_id, "team_id": team_id,
                              "device_ids": sorted({i.device_id for i in by_team[team_id]})})
    keys = {(item.device_id, item.rule) for team_id in told_teams for item in by_team[team_id] if not item.notified}
    _stamp(session, keys, "notified_at", now=now)


def _notify_holders(session: Session, items: list[FailingItem], rules: dict[str, RuleConsequences], settings: Settings,
                    actor: Actor, report: ActionReport) -> None:
    """Tell each holder once per failure what to do about rules whose on_failure has email_holder."""
    due = [item for item in items if item.rule in rules and "email_holder" in rules[item.rule].actions
           and remedy(item.rule) is not None]
    if not due:
        return
    sent = {(device_id, rule, since) for device_id, rule, since in session.execute(
        select(HolderNotice.device_id, HolderNotice.rule, HolderNotice.failing_since)
        .where(HolderNotice.device_id.in_(sorted({item.device_id for item in due}))))}
    holders = {device_id: staff for device_id, staff in session.execute(
        select(Device.id, StaffMember).join(StaffMember, StaffMember.id == Device.staff_member_id)
        .where(Device.id.in_(sorted({item.device_id for item in due})), Device.role == DeviceRole.INDIVIDUAL.value,
               StaffMember.active.is_(True)))}
    outgoing = [(item, holders[item.device_id]) for item in due
                if item.device_id in holders and (item.device_id, item.rule, item.failing_since) not in sent]
    accepted = send_messages(settings.smtp, [_holder_message(item, staff) for item, staff in outgoing])
    for (item, staff), ok in zip(outgoing, accepted):
        if not ok:
            continue  # retried next sweep: no notice was recorded
        session.add(HolderNotice(device_id=item.device_id, rule=item.rule, failing_since=item.failing_since,
                                 staff_member_id=staff.id))
        report.holder_emails += 1
        audit.record(session, actor, "compliance.holder_notified", target_type="device", target_id=item.device_id,
                     details={"rule": item.rule, "staff_member_id": staff.id})


def _holder_message(item: FailingItem, staff: StaffMember) -> MailMessage:
    body = "\n".join([
        f"Dear {staff.name},",
        "",
        f"A compliance check of your work phone ({_phone_label(item)}) found: {item.observed or item.rule}.",
        "",
        f"What to do: {remedy(item.rule)}",
        "",
        "The next check of the phone sees when it is done; your manager is told about phones that still fail.",
        "",
        "You receive this because you hold this phone in PhoneGate.",
    ])
    return MailMessage(to=staff.email, subject="PhoneGate: please act on a check of your work phone", body=body)


def _escalate(session: Session, sweep_id: str, items: list[FailingItem], rules: dict[str, RuleConsequences],
              now: datetime, settings: Settings, actor: Actor, report: ActionReport) -> None:
    due = []
    for item in items:
        rule = rules.get(item.rule)
        if item.escalated or rule is None or "escalate" not in rule.actions or rule.escalate_after_days is None:
            continue
        if item.failing_since + timedelta(days=rule.escalate_after_days) <= now:
            due.append(item)
    if not due:
        return
    admins = list(session.scalars(select(User).where(User.role == Role.ADMIN.value, User.active.is_(True)).order_by(User.id)))
    link = f"{public_root()}/compliance/"
    messages = [MailMessage(to=admin.email, subject=f"PhoneGate escalation: {len({i.device_id for i in due})} phone(s) still failing compliance",
                            body=_escalation_body(due, rules, link, sweep_id, now)) for admin in admins]
    accepted = send_messages(settings.smtp, messages)
    for admin, ok in zip(admins, accepted):
        if ok:
            report.escalation_emails += 1
            audit.record(session, actor, "compliance.escalated", target_type="user", target_id=admin.id,
                         details={"sweep_id": sweep_id, "device_ids": sorted({i.device_id for i in due})})
    if any(accepted):
        _stamp(session, {(item.device_id, item.rule) for item in due}, "escalated_at", now=now)


def _stamp(session: Session, keys: set[tuple[int, str]], column: str, now: datetime) -> None:
    if not keys:
        return
    table = DeviceRuleState.__table__
    session.execute(update(table).where(table.c.device_id == bindparam("k_device"), table.c.rule == bindparam("k_rule"))
                    .values({column: bindparam("k_at")}),
                    [{"k_device": device_id, "k_rule": rule, "k_at": now} for device_id, rule in sorted(keys)])


def _phone_label(item: FailingItem) -> str:
    parts = [f"serial {item.serial}"]
    if item.asset_tag:
        parts.append(f"asset tag {item.asset_tag}")
    if item.model:
        parts.append(item.model)
    return ", ".join(parts)


def _manager_body(team_name: str, items: list[FailingItem], link: str, sweep_id: str) -> str:
    lines = [f"Compliance sweep {sweep_id} found phones in {team_name} that do not follow the rules.", ""]
    by_device: dict[int, list[FailingItem]] = defaultdict(list)
    for item in items:
        by_device[item.device_id].append(item)
    for device_items in by_device.values():
        lines.append(f"Phone ({_phone_label(device_items[0])}):")
        for item in device_items:
            grace = f", grace ends {item.grace_until:%d %B %Y}" if item.grace_until else ""
            new = " [new]" if not item.notified else ""
            lines.append(f"  - {item.rule}: failing since {item.failing_since:%d %B %Y}{grace}{new}")
            if (what := remedy(item.rule)) is not None:
                lines.append(f"    What to do: {what}")
        lines.append("")
    lines += [f"See who holds each phone and what to do: {link}", "",
              "You receive this because you manage this team in PhoneGate."]
    return "\n".join(lines)


def _escalation_body(items: list[FailingItem], rules: dict[str, RuleConsequences], link: str, sweep_id: str,
                     now: datetime) -> str:
    lines = [f"These rules have been failing longer than their escalation period (sweep {sweep_id}).", ""]
    for item in items:
        days = (now - item.failing_since).days
        lines.append(f"- {item.rule} ({rules[item.rule].severity}) on phone {_phone_label(item)}, team id "
                     f"{item.team_id if item.team_id is not None else '-'}: failing for {days} day(s) since {item.failing_since:%d %B %Y}")
    lines += ["", f"Compliance overview: {link}"]
    return "\n".join(lines)
