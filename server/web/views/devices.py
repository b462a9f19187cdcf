"""Phones: a filtered, paginated list and one phone's page (facts, state, holder, and its audit timeline)."""

from __future__ import annotations

import json

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import and_, or_, select

from server.extensions import db
from server.models import (
    AuditEntry,
    BroadcastDesignation,
    Device,
    DeviceRole,
    DeviceState,
    EnrolmentRequest,
    Incident,
    IncidentKind,
    Installation,
    InstallGrant,
    User,
)
from server.services import access, phone_actions, precheck, reacknowledgement
from server.services.actor import Actor
from server.services.errors import Forbidden, ServiceError
from server.web import audit_details
from server.web.auth import current_user, login_required
from server.web.forms import FormErrors
from server.web.presentation import state_tag
from server.web.views import pages_bp

PAGE_SIZE = 25
STATES = tuple(state.value for state in DeviceState)
ROLES = tuple(role.value for role in DeviceRole)
COMPLIANCE_STATES = ("compliant", "in_grace", "non_compliant", "unknown")
TIMELINE_LIMIT = 200


def _choice(name: str, allowed: tuple[str, ...]) -> str:
    value = request.args.get(name, "")
    return value if value in allowed else ""


@pages_bp.get("/devices")
@login_required()
def devices():
    user = current_user()
    filters = {"state": _choice("state", STATES), "role": _choice("role", ROLES),
               "compliance": _choice("compliance", COMPLIANCE_STATES), "team": ""}
    teams = db.session.scalars(access.teams_query(user)).all()
    team_ids = {str(team.id) for team in teams}
    if request.args.get("team", "") in team_ids:
        filters["team"] = request.args["team"]

    query = access.devices_query(user)
    if filters["state"]:
        query = query.where(Device.state == filters["state"])
    if filters["role"]:
        query = query.where(Device.role == filters["role"])
    if filters["compliance"]:
        query = query.where(Device.compliance_state == filters["compliance"])
    if filters["team"]:
        query = query.where(Device.team_id == int(filters["team"]))
    page = db.paginate(query.order_by(Device.id), per_page=PAGE_SIZE, max_per_page=PAGE_SIZE, error_out=False)
    active = {key: value for key, value in filters.items() if value}
    selects = {
        "state": _items(filters["state"], [(s, state_tag(s)["text"]) for s in STATES]),
        "role": _items(filters["role"], [(r, r.capitalize()) for r in ROLES]),
        "compliance": _items(filters["compliance"], [(c, state_tag(c)["text"]) for c in COMPLIANCE_STATES]),
        "team": _items(filters["team"], [(str(t.id), t.name) for t in teams]),
    }
    return render_template("devices/list.html", page=page, active=active, selects=selects)


def _items(selected: str, choices: list[tuple[str, str]]) -> list[dict]:
    return [{"value": "", "text": "Any", "selected": not selected}] + [
        {"value": value, "text": text, "selected": value == selected} for value, text in choices
    ]


@pages_bp.get("/devices/<int:device_id>")
@login_required()
def device_page(device_id: int):
    user = current_user()
    device = db.get_or_404(Device, device_id)
    if not access.can_see_device(db.session, user, device):
        abort(403)
    return _render_device(device)


def _render_device(device: Device, action: str | None = None, errors: FormErrors | None = None, form=None,
                   status: int = 200):
    user = current_user()
    requests = db.session.scalars(
        select(EnrolmentRequest).where(EnrolmentRequest.device_id == device.id).order_by(EnrolmentRequest.id.desc())
    ).all()
    designations = db.session.scalars(
        select(BroadcastDesignation).where(BroadcastDesignation.device_id == device.id)
        .order_by(BroadcastDesignation.id.desc())
    ).all()
    # Only this phone's team is checked: the rule lives in reacknowledgement.needs_reacknowledgement.
    due = next((item for item in reacknowledgement.needs_reacknowledgement(db.session, device.team) if item.device.id == device.id),
               None)
    suspended = device.state == DeviceState.SUSPENDED.value
    suspension = phone_actions.why_suspended(db.session, device)
    provision_check = precheck.provision_check(db.session, device)
    actions = {
        "retire": device.state != DeviceState.RETIRED.value and access.may_act_on_phone(user, device, "retire"),
        "reinstate": suspended and access.may_act_on_phone(user, device, "reinstate"),
        "report_lost": device.state != DeviceState.RETIRED.value
        and access.incident_report_problem(db.session, user, device, None) is None,
    }
    return render_template("devices/detail.html", device=device, requests=requests, designations=designations,
                           timeline=device_timeline(device), reacknowledgement=due,
                           compliance_history=_compliance_history_url(device),
                           suspension=suspension, provision_check=provision_check, blocking=phone_actions.blocking_titles(db.session, device) if suspended else [],
                           incident_visible=suspension is not None and suspension.incident is not None
                           and access.can_see_incident(user, suspension.incident),
                           actions=actions, action=action, errors=errors or FormErrors(), form=form or {},
                           reason_max=phone_actions.REASON_MAX), status


ACTIONS = {"retire": phone_actions.retire, "reinstate": phone_actions.reinstate}
DONE = {"retire": "{serial} is retired. It cannot be provisioned again.",
        "reinstate": "{serial} is reinstated: it is approved again. IT's next provision run installs the app."}


@pages_bp.post("/devices/<int:device_id>/<string:action>")
@login_required()
def device_action(device_id: int, action: str):
    """Retire or reinstate (a form each on the phone's page); the service decides whether it is allowed."""
    if action not in ACTIONS:
        abort(404)
    user = current_user()
    device = db.get_or_404(Device, device_id)
    actor = Actor.for_user(user)
    try:
        phone_actions.check_allowed(db.session, actor, device, action)  # refused (and audited) before the form
    except Forbidden as exc:
        db.session.rollback()
        return render_template("error.html", status=403, phrase="Forbidden", message=exc.message, errors={}), 403
    form = request.form
    errors = FormErrors()
    if not form.get("reason", "").strip():
        errors.add(f"{action}-reason", "Enter the reason")
    if form.get("confirm") != "yes":
        errors.add(f"{action}-confirm", f"Confirm that you want to {action} this phone")
    if errors:
        return _render_device(device, action, errors, form, status=400)
    serial = device.serial
    try:
        ACTIONS[action](db.session, device, actor, reason=form.get("reason", ""),
                        expected_state=form.get("seen_state") or None)
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        errors.extend_from_service(exc.errors, {"reason": f"{action}-reason"})
        if not errors:
            errors.add(f"{action}-reason", exc.message)
        device = db.session.get(Device, device_id)
        return _render_device(device, action, errors, form, status=exc.http_status)
    flash(DONE[action].format(serial=serial))
    return redirect(url_for("pages.device_page", device_id=device_id))


def _compliance_history_url(device: Device) -> str | None:
    endpoint = "compliance_web.device"
    if endpoint in current_app.view_functions:
        return url_for(endpoint, device_id=device.id)
    return None


def device_timeline(device: Device) -> list[dict]:
    """The audit entries about this phone and the records that hang off it, newest first."""
    related = {
        "device": [device.id],
        "enrolment_request": select(EnrolmentRequest.id).where(EnrolmentRequest.device_id == device.id),
        "broadcast_designation": select(BroadcastDesignation.id).where(BroadcastDesignation.device_id == device.id),
        "install_grant": select(InstallGrant.id).where(InstallGrant.device_id == device.id),
        "installation": select(Installation.id).where(Installation.device_id == device.id),
        # Its lost-or-stolen reports (what suspended it); other incidents stay on the incident pages, for the
        # people who may see them.
        "incident": select(Incident.id).where(Incident.device_id == device.id,
                                              Incident.kind == IncidentKind.LOST_OR_STOLEN.value),
    }
    conditions = []
    for target_type, ids in related.items():
        id_values = [str(i) for i in (ids if isinstance(ids, list) else db.session.scalars(ids))]
        if id_values:
            conditions.append(and_(AuditEntry.target_type == target_type, AuditEntry.target_id.in_(id_values)))
    rows = db.session.execute(
        select(AuditEntry, User.email).outerjoin(User, User.id == AuditEntry.actor_user_id)
        .where(or_(*conditions)).order_by(AuditEntry.id.desc()).limit(TIMELINE_LIMIT)
    ).all()
    return audit_details.present(
        [{"entry": entry, "who": audit_details.who(entry, email), "details": details_of(entry.details)}
         for entry, email in rows])


def details_of(text: str) -> dict:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
