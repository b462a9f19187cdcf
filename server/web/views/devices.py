"""Phones: a filtered, paginated list and one phone's page (facts, state, holder, and its audit timeline)."""

from __future__ import annotations

import json

from flask import abort, current_app, render_template, request, url_for
from sqlalchemy import and_, or_, select

from server.extensions import db
from server.models import (
    AuditEntry,
    BroadcastDesignation,
    Device,
    DeviceRole,
    DeviceState,
    EnrolmentRequest,
    Installation,
    InstallGrant,
    User,
)
from server.services import access, reacknowledgement
from server.web import audit_details
from server.web.auth import current_user, login_required
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
    return render_template("devices/detail.html", device=device, requests=requests, designations=designations,
                           timeline=device_timeline(device), reacknowledgement=due,
                           compliance_history=_compliance_history_url(device))


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
