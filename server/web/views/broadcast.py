"""Each service's one Broadcast phone: who it is, designating one, handing the role over, and the history.

The broadcast service enforces the rules (managers of the service only; never two at once; a handover has a
reason and suspends the old phone) and audits refusals; these views show the forms and explain refusals.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import or_, select

from server.extensions import db
from server.models import BroadcastDesignation, Device, DeviceRole, DeviceState, EnrolmentRequest, EnrolmentStatus, Service
from server.services import access, broadcast
from server.services.actor import Actor
from server.services.errors import Forbidden, ServiceError
from server.services.refusals import refuse
from server.web.auth import current_user, login_required
from server.web.forms import FormErrors
from server.web.presentation import state_tag
from server.url_converters import parse_id
from server.web.views import pages_bp

REFUSALS = {"designate": "broadcast.designation_refused", "handover": "broadcast.handover_refused"}
UNUSABLE = (DeviceState.RETIRED.value, DeviceState.SUSPENDED.value, DeviceState.REJECTED.value)


@pages_bp.get("/broadcast", endpoint="broadcast")
@login_required()
def broadcast_list():
    user = current_user()
    services = db.session.scalars(access.services_query(user)).all()
    rows = [(service, broadcast.active_designation(db.session, service)) for service in services]
    return render_template("broadcast/list.html", rows=rows)


def _service_for(user, service_id: int) -> Service:
    service = db.get_or_404(Service, service_id)
    if not access.can_see_service(user, service):
        abort(403)
    return service


def _candidates(service: Service) -> list[Device]:
    return list(db.session.scalars(
        select(Device).where(
            Device.role == DeviceRole.BROADCAST.value,
            Device.staff_member_id.is_(None),
            or_(Device.service_id == service.id, Device.service_id.is_(None)),
            Device.state.not_in(UNUSABLE),
        ).order_by(Device.serial)
    ))


@pages_bp.get("/broadcast/<int:service_id>")
@login_required()
def broadcast_service(service_id: int):
    user = current_user()
    return _render(_service_for(user, service_id), FormErrors(), {})


def _render(service: Service, errors: FormErrors, form, status: int = 200):
    user = current_user()
    current = broadcast.active_designation(db.session, service)
    history = db.session.scalars(
        select(BroadcastDesignation).where(BroadcastDesignation.service_id == service.id)
        .order_by(BroadcastDesignation.designated_at.desc(), BroadcastDesignation.id.desc())
    ).all()
    candidates = [d for d in _candidates(service) if current is None or d.id != current.device_id]
    # A new phone takes the role over through its own Broadcast enrolment request (approval with handover).
    waiting = db.session.scalars(select(EnrolmentRequest).where(
        EnrolmentRequest.service_id == service.id, EnrolmentRequest.role == DeviceRole.BROADCAST.value,
        EnrolmentRequest.status == EnrolmentStatus.PENDING.value,
    ).order_by(EnrolmentRequest.requested_at, EnrolmentRequest.id)).all()
    device_items = [{"value": "", "text": "Choose a phone"}] + [
        {"value": str(d.id), "selected": form.get("device") == str(d.id),
         "text": f"{d.serial} – {d.manufacturer or ''} {d.model or 'unknown model'} ({state_tag(d.state)['text']})"}
        for d in candidates
    ]
    return render_template("broadcast/service.html", service=service, current=current, history=history,
                           candidates=candidates, device_items=device_items, waiting=waiting, can_change=access.may_change_broadcast(user, service), errors=errors,
                           form=form), status


@pages_bp.post("/broadcast/<int:service_id>")
@login_required()
def broadcast_change(service_id: int):
    """One form post: `action` is "designate" or "handover"; the service decides whether it is allowed."""
    user = current_user()
    service = db.get_or_404(Service, service_id)
    form = request.form
    action = form.get("action", "")
    if action not in ("designate", "handover"):
        abort(400)
    actor = Actor.for_user(user)
    if not access.may_change_broadcast(user, service):
        # Refused before looking at the form; audited like the service's own refusals.
        refusal = Forbidden("Only a manager of a team in this service can change its Broadcast phone.")
        refuse(db.session, actor, REFUSALS[action], refusal, target=service)
        return render_template("error.html", status=403, phrase="Forbidden", message=refusal.message, errors={}), 403

    errors = FormErrors()
    device_id = parse_id(form.get("device"))
    device = db.session.get(Device, device_id) if device_id is not None else None
    if device is None:
        errors.add("device", "Select the phone that will be the Broadcast phone")
    if action == "handover" and not form.get("reason", "").strip():
        errors.add("reason", "Enter the reason for the handover")
    if errors:
        return _render(service, errors, form, status=400)
    try:
        if action == "designate":
            broadcast.designate(db.session, service, device, actor)
        else:
            broadcast.handover(db.session, service, device, actor, reason=form.get("reason", ""),
                               expected_designation_id=parse_id(form.get("current_designation")))
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        errors.extend_from_service(exc.errors, {"device": "device", "reason": "reason"})
        if not errors:
            errors.add("device", exc.message)
        return _render(service, errors, form, status=exc.http_status)
    flash(f"{device.serial} is now the Broadcast phone for {service.name}.")
    return redirect(url_for("pages.broadcast_service", service_id=service.id))
