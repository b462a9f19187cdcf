"""Incident pages: the report form (also reached from a phone's "Report lost or stolen" link,
/incidents/new?device_id=N, with the phone and its holder filled in), the list, and one incident with its status."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, or_

from server.extensions import db
from server.models import INCIDENT_TRANSITIONS, Device, Incident, IncidentKind, IncidentStatus, StaffMember, utcnow
from server.services import access, incidents
from server.services.actor import Actor
from server.services.errors import InvalidInput, ServiceError
from server.settings import current_settings
from server.web.auth import current_user, login_required
from server.web.forms import DateParts, FormErrors, parse_date
from server.web.governance import governance_bp
from server.web.governance.forms import add_service_errors

PAGE_SIZE = 50
STAFF_CHOICES = 500
STATUS_FILTERS = ("open", "reported", "acknowledged", "closed", "all")


def _incident_or_404(incident_id: int) -> Incident:
    incident = db.session.get(Incident, incident_id)
    if incident is None or not access.can_see_incident(current_user(), incident):
        abort(404)
    return incident


@governance_bp.get("/incidents")
@login_required()
def incidents_list():
    user = current_user()
    status = request.args.get("status", "open")
    status = status if status in STATUS_FILTERS else "open"
    query = access.incidents_query(user)
    if status == "open":
        query = query.where(Incident.status != IncidentStatus.CLOSED.value)
    elif status != "all":
        query = query.where(Incident.status == status)
    page = db.paginate(query.order_by(Incident.reported_at.desc(), Incident.id.desc()), per_page=PAGE_SIZE,
                       max_per_page=PAGE_SIZE, error_out=False)
    counts = dict(db.session.execute(access.incidents_query(user).with_only_columns(Incident.status, func.count())
                                     .group_by(Incident.status)).all())
    return render_template("governance/incidents.html", page=page, status=status, counts=counts,
                           kind_labels=incidents.KIND_LABELS, status_labels=incidents.STATUS_LABELS)


@governance_bp.get("/incidents/new")
@login_required()
def new_incident():
    user = current_user()
    form: dict[str, str] = {"kind": request.args.get("kind", "")}
    device_id = request.args.get("device_id", "")
    if device_id:
        device = _device_from(device_id)
        if device is None or not access.can_see_device(db.session, user, device):
            abort(404)
        form["device_id"] = str(device.id)
        if device.staff_member_id is not None:
            form["staff_id"] = str(device.staff_member_id)
        if not form["kind"]:
            form["kind"] = IncidentKind.LOST_OR_STOLEN.value  # the phone's page links here to report it missing
    today = utcnow().date()
    form.update({"occurred_on-day": str(today.day), "occurred_on-month": str(today.month), "occurred_on-year": str(today.year)})
    return _render_new(form, FormErrors())


def _render_new(form, errors: FormErrors, status: int = 200):  # type: ignore[no-untyped-def]
    user = current_user()
    device = _device_from(form.get("device_id", ""))
    if device is not None and not access.can_see_device(db.session, user, device):
        device = None
    staff = db.session.scalars(access.staff_query(user).where(StaffMember.active.is_(True))
                               .order_by(StaffMember.name).limit(STAFF_CHOICES)).all()
    return render_template("governance/incident_new.html", form=form, errors=errors, device=device, staff=staff,
                           kind_labels=incidents.KIND_LABELS, occurred_on=DateParts.from_form(form, "occurred_on"),
                           mailbox=current_settings().incident_mailbox, today=utcnow().date()), status


def _device_from(value: str) -> Device | None:
    return db.session.get(Device, int(value)) if value.isdigit() and len(value) < 12 else None


def _phone_named(text: str) -> Device | None:
    """A phone by its serial or asset tag, as typed on the form (among the phones this person can see)."""
    text = text.strip()
    if not text or len(text) > 128:
        return None
    query = access.devices_query(current_user()).where(or_(Device.serial == text, Device.asset_tag == text))
    return db.session.scalar(query.limit(1))


@governance_bp.post("/incidents")
@login_required()
def report_incident():
    user = current_user()
    form = request.form
    errors = FormErrors()
    device = _device_from(form.get("device_id", ""))
    if device is None and form.get("phone", "").strip():
        device = _phone_named(form.get("phone", ""))
        if device is None:
            errors.add("phone", "No phone you can see has that serial number or asset tag")
    staff = None
    if form.get("staff_id", ""):
        staff_id = form.get("staff_id", "")
        staff = db.session.get(StaffMember, int(staff_id)) if staff_id.isdigit() and len(staff_id) < 12 else None
        if staff is None:
            errors.add("staff-id", "Choose a staff member from the list")
    occurred_on, problem = parse_date(DateParts.from_form(form, "occurred_on"), "the date it happened")
    if problem is not None:
        errors.add("occurred-on", problem)
    if errors:
        return _render_new(form, errors, 400)
    report = incidents.IncidentReport(kind=form.get("kind", ""), description=form.get("description", ""),
                                      occurred_on=occurred_on, occurred_time=form.get("occurred_time", ""),
                                      device=device, staff=staff)
    settings = current_settings()
    try:
        incident = incidents.report_incident(db.session, Actor.for_user(user), settings, report)
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        if isinstance(exc, InvalidInput) and exc.errors:
            add_service_errors(errors, exc.errors)
        else:
            errors.add("kind", exc.message)
        return _render_new(form, errors, exc.http_status)
    suspended = " The phone's approval is suspended." if incident.phone_suspended else ""
    mailed = (" The information-security mailbox was e-mailed." if incident.mailbox_notified_at is not None
              else " The information-security mailbox could not be e-mailed: send it again from this page.")
    flash(f"Incident {incident.reference} reported.{suspended}{mailed}")
    return redirect(url_for("governance.incident_page", incident_id=incident.id))


@governance_bp.get("/incidents/<int:incident_id>")
@login_required()
def incident_page(incident_id: int):
    return _render_incident(_incident_or_404(incident_id), FormErrors(), {})


def _render_incident(incident: Incident, errors: FormErrors, form, status: int = 200):  # type: ignore[no-untyped-def]
    user = current_user()
    next_statuses = sorted(INCIDENT_TRANSITIONS[incident.status],
                           key=lambda s: list(incidents.STATUS_LABELS).index(s))
    return render_template("governance/incident.html", incident=incident, errors=errors, form=form,
                           kind_labels=incidents.KIND_LABELS, status_labels=incidents.STATUS_LABELS,
                           can_handle=access.may_handle_incidents(user), next_statuses=next_statuses,
                           mailbox=current_settings().incident_mailbox), status


@governance_bp.post("/incidents/<int:incident_id>/status")
@login_required()
def incident_status(incident_id: int):
    user = current_user()
    incident = db.get_or_404(Incident, incident_id)
    form = request.form
    try:
        incidents.change_status(db.session, incident, Actor.for_user(user), to=form.get("status", ""),
                                seen=form.get("seen", ""), note=form.get("note"))
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        db.session.expire_all()
        if not access.can_see_incident(user, incident):
            abort(404)
        errors = FormErrors()
        if isinstance(exc, InvalidInput) and exc.errors:
            add_service_errors(errors, exc.errors)
        else:
            errors.add("status", exc.message)
        return _render_incident(incident, errors, form, exc.http_status)
    flash(f"Incident {incident.reference} is now {incidents.STATUS_LABELS[incident.status].lower()}.")
    return redirect(url_for("governance.incident_page", incident_id=incident.id))


@governance_bp.post("/incidents/<int:incident_id>/notify")
@login_required()
def incident_notify(incident_id: int):
    incident = _incident_or_404(incident_id)
    if incident.mailbox_notified_at is None:
        sent = incidents.notify_mailbox(db.session, incident, Actor.for_user(current_user()), current_settings())
        db.session.commit()
        flash("The information-security mailbox was e-mailed." if sent else
              "The mailbox could not be e-mailed: PHONEGATE_INCIDENT_MAILBOX or the mail relay is not set up or not "
              "answering. Report it to the mailbox yourself, quoting " + incident.reference + ".")
    return redirect(url_for("governance.incident_page", incident_id=incident.id))
