"""Information incidents: reported by anyone, mailed to the information-security mailbox at once, moved along by
information governance.

The paper: "Report information incidents linked to WhatsApp in line with LCC policy for reporting Information
Security Incidents, via <the mailbox>". A report names what happened, when, which phone and person, and its kind.
A lost or stolen phone loses its approval in the same transaction as the report (suspended, audited), so no new
install grant is issued for it while it is missing; reinstating it is the phone's own action once it is back.

The mailbox (PHONEGATE_INCIDENT_MAILBOX) is mailed before the report is committed; when the relay does not take
the message the report is still recorded, and its page offers to send it again. The mail carries the reference,
kind, dates, phone serial and team, the reporter's address (the desk needs to reach them) and the description,
but not the holder's name: that is behind the link, for people who may see it.

Status: reported -> acknowledged -> closed (a closed incident can be reopened as acknowledged), by auditors
(information governance) and administrators, each change with an optional note. The form sends the status its
person saw; the row is locked first, so of two changes at once exactly one lands and the other is told.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from server.database import lock_row
from server.mail import MailMessage, send_messages
from server.models import (
    HOLDS_APPROVAL,
    INCIDENT_TRANSITIONS,
    Device,
    DeviceRole,
    DeviceState,
    Incident,
    IncidentKind,
    IncidentNote,
    IncidentStatus,
    Role,
    StaffMember,
    utcnow,
)
from server.services import access, audit, broadcast, lifecycle
from server.services.actor import Actor
from server.services.errors import Forbidden, InvalidInput, InvalidTransition
from server.services.refusals import refuse
from server.settings import Settings, public_root

KIND_LABELS = {
    IncidentKind.LOST_OR_STOLEN.value: "Lost or stolen phone",
    IncidentKind.PERSONAL_DATA_SENT.value: "Personal data sent",
    IncidentKind.WRONG_RECIPIENT.value: "Message sent to the wrong person",
    IncidentKind.UNAPPROVED_APP.value: "Unapproved app on a work phone",
    IncidentKind.OTHER.value: "Something else",
}
STATUS_LABELS = {
    IncidentStatus.REPORTED.value: "Reported",
    IncidentStatus.ACKNOWLEDGED.value: "Acknowledged",
    IncidentStatus.CLOSED.value: "Closed",
}
DESCRIPTION_MAX = 4000
NOTE_MAX = 2000
OLDEST_DAYS = 3 * 366  # an incident found years later is still reported, but not one dated before phones had the app


@dataclass(frozen=True)
class IncidentReport:
    kind: str
    description: str
    occurred_on: date | None
    occurred_time: str | None = None  # "HH:MM", optional
    device: Device | None = None
    staff: StaffMember | None = None


def report_incident(session: Session, actor: Actor, settings: Settings, report: IncidentReport,
                    today: date | None = None) -> Incident:
    """Record the incident (and, for a lost or stolen phone, suspend it), then mail the mailbox."""
    problem = access.incident_report_problem(session, actor.user, report.device, report.staff)
    if problem is not None:
        raise refuse(session, actor, "incident.report_refused", Forbidden(problem),
                     details={"device_id": report.device.id if report.device else None})
    today = today or utcnow().date()
    _check(report, today)
    device, staff = report.device, report.staff
    if staff is None and device is not None and device.role == DeviceRole.INDIVIDUAL.value:
        staff = device.staff_member
    team_id, service_id = _owner(actor, device, staff)
    incident = Incident(kind=report.kind, description=report.description.strip(), occurred_on=report.occurred_on,
                        occurred_time=(report.occurred_time or "").strip() or None,
                        device_id=device.id if device else None, staff_member_id=staff.id if staff else None,
                        team_id=team_id, service_id=service_id, reported_by_id=actor.user_id)
    session.add(incident)
    session.flush()
    audit.record(session, actor, "incident.reported", target=incident, details={
        "kind": incident.kind, "device_id": incident.device_id, "staff_member_id": incident.staff_member_id,
        "team_id": team_id})
    if incident.kind == IncidentKind.LOST_OR_STOLEN.value:
        _suspend_missing_phone(session, incident, actor)
    notify_mailbox(session, incident, actor, settings)
    return incident


def _check(report: IncidentReport, today: date) -> None:
    errors: dict[str, list[str]] = {}
    if report.kind not in KIND_LABELS:
        errors["kind"] = ["Choose what kind of incident it is"]
    description = (report.description or "").strip()
    if not description:
        errors["description"] = ["Describe what happened"]
    elif len(description) > DESCRIPTION_MAX:
        errors["description"] = [f"Keep the description under {DESCRIPTION_MAX} characters"]
    if report.occurred_on is None:
        errors.setdefault("occurred_on", ["Enter the date it happened, or when it was found"])
    elif report.occurred_on > today:
        errors["occurred_on"] = ["The date it happened must be today or in the past"]
    elif (today - report.occurred_on).days > OLDEST_DAYS:
        errors["occurred_on"] = ["The date it happened must be within the last three years"]
    time_text = (report.occurred_time or "").strip()
    if time_text and not _is_clock_time(time_text):
        errors["occurred_time"] = ["Enter the time as hours and minutes, like 14:30, or leave it empty"]
    if report.kind == IncidentKind.LOST_OR_STOLEN.value and report.device is None:
        errors["device"] = ["Choose the phone that is lost or stolen"]
    if errors:
        raise InvalidInput("Check the incident report.", errors=errors)


def _is_clock_time(text: str) -> bool:
    hours, colon, minutes = text.partition(":")
    return (colon == ":" and hours.isdigit() and minutes.isdigit() and len(minutes) == 2 and len(hours) <= 2
            and int(hours) < 24 and int(minutes) < 60)


def _owner(actor: Actor, device: Device | None, staff: StaffMember | None) -> tuple[int | None, int | None]:
    """Whose managers see the incident: the phone's team (a Broadcast phone: its service), else the person's team,
    else the reporting manager's own team."""
    if device is not None and device.role == DeviceRole.BROADCAST.value:
        return None, device.service_id
    if device is not None and device.team_id is not None:
        return device.team_id, device.team.service_id
    if staff is not None:
        return staff.team_id, staff.team.service_id
    user = actor.user
    if user is not None and user.role == Role.MANAGER.value and user.team is not None:
        return user.team_id, user.team.service_id
    return None, None


def _suspend_missing_phone(session: Session, incident: Incident, actor: Actor) -> None:
    device = lock_row(session, incident.device)
    if device.state in HOLDS_APPROVAL:
        lifecycle.transition(session, device, DeviceState.SUSPENDED, actor,
                             reason=f"reported lost or stolen in incident {incident.reference}")
        incident.phone_suspended = True
    broadcast.end_for_missing_phone(session, device, actor, reason=f"Reported lost or stolen in incident {incident.reference}")
    audit.record(session, actor, "incident.phone_suspended" if incident.phone_suspended else "incident.phone_not_suspended",
                 target=incident, details={"device_id": device.id, "state": device.state})


def notify_mailbox(session: Session, incident: Incident, actor: Actor, settings: Settings) -> bool:
    """Mail the information-security mailbox about `incident`; True when the relay accepted it."""
    if not settings.incident_mailbox:
        return False
    accepted = send_messages(settings.smtp, [mailbox_message(incident, settings.incident_mailbox)])
    if not accepted or not accepted[0]:
        return False
    incident.mailbox_notified_at = utcnow()
    audit.record(session, actor, "incident.mailbox_notified", target=incident, details={"kind": incident.kind})
    return True


def mailbox_message(incident: Incident, mailbox: str) -> MailMessage:
    device = incident.device
    when = f"{incident.occurred_on.day} {incident.occurred_on:%B %Y}" + (f" at {incident.occurred_time}" if incident.occurred_time else "")
    phone = "none named"
    if device is not None:
        phone = ", ".join(part for part in (f"serial {device.serial}", f"asset tag {device.asset_tag}" if device.asset_tag else "",
                                            " ".join(filter(None, (device.manufacturer, device.model)))) if part)
    owner = incident.team.name if incident.team else (f"Broadcast phone of {incident.service.name}" if incident.service else "–")
    lines = [
        f"Information incident {incident.reference}: {KIND_LABELS[incident.kind]}",
        "",
        f"Happened or found: {when}",
        f"Reported: {incident.reported_at:%-d %B %Y %H:%M} UTC by {incident.reported_by.email}",
        f"Phone: {phone}",
        f"Team: {owner}",
    ]
    if incident.kind == IncidentKind.LOST_OR_STOLEN.value:
        lines.append("The phone's approval was suspended when this was reported." if incident.phone_suspended
                     else f"The phone was {device.state.replace('_', ' ')} already; its state was not changed.")
    lines += ["", "What happened (the reporter's words):", incident.description, "",
              f"The holder, status and notes: {public_root()}/incidents/{incident.id}", "",
              f"Quote {incident.reference} in any reply."]
    return MailMessage(to=mailbox, subject=f"PhoneGate information incident {incident.reference}: {KIND_LABELS[incident.kind]}",
                       body="\n".join(lines))


def change_status(session: Session, incident: Incident, actor: Actor, *, to: str, seen: str,
                  note: str | None = None) -> Incident:
    """Move `incident` from `seen` (the status its person saw) to `to`, with an optional note."""
    action = "incident.status_refused"
    problem = access.incident_status_problem(actor.user)
    if problem is not None:
        raise refuse(session, actor, action, Forbidden(problem), target=incident)
    note = (note or "").strip() or None
    if note is not None and len(note) > NOTE_MAX:
        raise InvalidInput("The note is too long.", errors={"note": [f"Keep the note under {NOTE_MAX} characters"]})
    if to not in STATUS_LABELS:
        raise InvalidInput("Choose the new status.", errors={"status": ["Choose the new status"]})
    incident = lock_row(session, incident)
    if incident.status != seen or to not in INCIDENT_TRANSITIONS[incident.status]:
        raise refuse(session, actor, action, InvalidTransition(_already_moved(incident, seen, to)), target=incident,
                     details={"status": incident.status, "wanted": to})
    entry = IncidentNote(incident_id=incident.id, by_id=actor.user_id, status_from=incident.status, status_to=to, note=note)
    session.add(entry)
    before = incident.status
    incident.status = to
    incident.status_changed_at = utcnow()
    session.flush()
    # The note is free text (it may name people): it stays on its row, the audit entry names it by id.
    audit.record(session, actor, "incident.status_changed", target=incident,
                 details={"from": before, "to": to, "note_id": entry.id})
    return incident


def _already_moved(incident: Incident, seen: str, to: str) -> str:
    if incident.status != seen:
        when = incident.status_changed_at
        at = f" at {when:%H:%M} UTC on {when:%-d %B %Y}" if when else ""
        return (f"This incident was changed to {STATUS_LABELS[incident.status].lower()}{at} while you were looking at it; "
                "nothing was changed.")
    return f"A {STATUS_LABELS[incident.status].lower()} incident cannot become {STATUS_LABELS[to].lower()}."
