"""Due dates for check-ins: every enrolled phone is due for a check every `every_days` days (rule checked_in).

The dates come from one function, `due_of`, used by the server rule (state.py), the reminder job below and the
team pages. A phone's last check is its last successful sweep reading (`last_seen_at`: a check-in station's or a
TCP sweep's), else the day it was enrolled. Reminders: the holder and the team's managers get one e-mail per due
date, `remind_days_before` days ahead ("bring your phone to a check-in station at <site> by <date>"). Which due
date was reminded is stamped on the phone by a conditional UPDATE, so of two schedulers running at once exactly
one sends it; a reminder the relay refused is un-stamped and tried again at the next run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from phonegate.core.lifecycle import ENROLLED
from server.mail import MailMessage, send_messages
from server.models import Device, StaffMember
from server.services import audit
from server.services.actor import Actor
from server.services.compliance.server_rules import CHECKED_IN
from server.settings import Settings

OK, DUE_SOON, OVERDUE, NOT_CHECKED_IN = "ok", "due_soon", "overdue", "not_checked_in"


@dataclass(frozen=True)
class CheckInDue:
    last_checked: date | None  # None: never checked since it was enrolled
    due: date
    non_compliant_from: date  # the first day the phone fails the rule
    remind_from: date

    def status(self, today: date) -> str:
        if today >= self.non_compliant_from:
            return NOT_CHECKED_IN
        if today > self.due:
            return OVERDUE
        if today >= self.remind_from:
            return DUE_SOON
        return OK

    def observed(self) -> str:
        since = self.last_checked.isoformat() if self.last_checked else "it was enrolled"
        return f"not checked in since {since} (was due by {self.due.isoformat()})"


def params_of(rules: dict[str, Any]) -> dict[str, int]:
    """The rule's parameters from the current document (its consequences map), or the defaults."""
    rule = rules.get(CHECKED_IN.rule)
    return CHECKED_IN.with_defaults(rule.params if rule is not None else None)


def due_of(last_seen: datetime | None, enrolled: datetime, params: dict[str, int]) -> CheckInDue:
    start = (last_seen or enrolled).date()
    due = start + timedelta(days=int(params["every_days"]))
    return CheckInDue(
        last_checked=last_seen.date() if last_seen else None,
        due=due,
        non_compliant_from=due + timedelta(days=int(params["overdue_grace_days"]) + 1),
        remind_from=due - timedelta(days=int(params["remind_days_before"])),
    )


@dataclass(frozen=True)
class DueRow:
    device_id: int
    serial: str
    model: str | None
    holder: str | None
    role: str
    site: str | None  # where it last checked in
    due: CheckInDue
    status: str


def due_phones(session: Session, device_ids: Any, rules: dict[str, Any], today: date) -> list[DueRow]:
    """The enrolled phones among `device_ids` (a select of ids a reader may see) that are due soon or overdue,
    most overdue first: what a team page shows."""
    if CHECKED_IN.rule not in rules:
        return []
    params = params_of(rules)
    query = (select(Device.id, Device.serial, Device.model, StaffMember.name, Device.role, Device.checked_in_site,
                    Device.last_seen_at, Device.created_at)
             .outerjoin(StaffMember, StaffMember.id == Device.staff_member_id)
             .where(Device.id.in_(device_ids), Device.state.in_(ENROLLED)))
    rows = []
    for device_id, serial, model, holder, role, site, last_seen, created in session.execute(query):
        due = due_of(last_seen, created, params)
        status = due.status(today)
        if status != OK:
            rows.append(DueRow(device_id, serial, model, holder, role, site, due, status))
    return sorted(rows, key=lambda row: (row.due.due, row.serial))


def send_reminders(session: Session, now: datetime, settings: Settings, rules: dict[str, Any], actor: Actor) -> int:
    """E-mail holder and managers once per due date for phones due within `remind_days_before`; returns phones reminded.
    Commits: each claim is its own transaction, so a concurrent run sees it at once."""
    from server.services.compliance.actions import _team_managers

    if CHECKED_IN.rule not in rules:
        return 0
    params = params_of(rules)
    today = now.date()
    reminded = 0
    phones = session.execute(select(Device.id, Device.last_seen_at, Device.created_at, Device.check_in_reminded_for)
                             .where(Device.state.in_(ENROLLED))).all()
    managers = _team_managers(session)
    for device_id, last_seen, created, reminded_for in phones:
        due = due_of(last_seen, created, params)
        if due.status(today) != DUE_SOON or reminded_for == due.due:
            continue
        claimed = session.execute(
            update(Device).where(Device.id == device_id, or_(Device.check_in_reminded_for.is_(None),
                                                              Device.check_in_reminded_for != due.due))
            .values(check_in_reminded_for=due.due).execution_options(synchronize_session=False))
        if claimed.rowcount != 1:
            session.rollback()
            continue  # another run took it
        device = session.get(Device, device_id)
        recipients = _recipients(session, device, managers)
        audit.record(session, actor, "check_in.reminded", target=device,
                     details={"due": due.due.isoformat(), "recipients": len(recipients)})
        session.commit()
        messages = [_reminder(device, due, to) for to in recipients]
        if messages and not all(send_messages(settings.smtp, messages)):
            # Not (all) accepted: release the claim so the next run tries again.
            session.execute(update(Device).where(Device.id == device_id).values(check_in_reminded_for=reminded_for)
                            .execution_options(synchronize_session=False))
            session.commit()
            continue
        reminded += 1
    return reminded


def _recipients(session: Session, device: Device, managers: dict[int, list[Any]]) -> list[str]:
    emails = []
    if device.staff_member_id is not None:
        holder = session.get(StaffMember, device.staff_member_id)
        if holder is not None and holder.active:
            emails.append(holder.email)
    for manager in managers.get(device.team_id, []) if device.team_id is not None else []:
        emails.append(manager.email)
    return sorted(set(emails))


def _reminder(device: Device, due: CheckInDue, to: str) -> MailMessage:
    site = device.checked_in_site or "your office"
    what = " ".join(filter(None, [device.manufacturer, device.model])) or "work phone"
    return MailMessage(
        to=to,
        subject=f"PhoneGate: bring the work phone {device.serial} to a check-in station by {due.due.isoformat()}",
        body=(f"Please bring your phone to a check-in station at {site} by {due.due.isoformat()}.\n\n"
              f"The {what} with serial {device.serial} is due for its compliance check. Plug it into the station's USB "
              "hub and unlock it; if it asks \"Allow USB debugging?\", tap Allow. It takes a minute.\n\n"
              f"If it is not checked by {due.non_compliant_from.isoformat()} it counts as non-compliant.\n"),
    )
