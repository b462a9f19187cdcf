"""Re-confirming a staff member's acknowledgement after a new policy version (or when their training expired).

The same deliberate steps as approving a request (the acknowledgement box and the training date against the
current text, then a "check before you confirm" page with one button), but nothing about the phones changes:
the re-confirmation service records the acknowledgement for the current version, and the phones stop being
"re-acknowledgement due". The policy's SHA-256 travels in a hidden field, so a page opened before a newer
publication is refused (and audited by the service) instead of confirming old text.
"""

from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from server.extensions import db
from server.models import HOLDS_APPROVAL, Device, Role, StaffMember, utcnow
from server.services import access, reacknowledgement, reconfirmation, training
from server.services.actor import Actor
from server.services.errors import Forbidden, InvalidInput, PolicyRefused, ServiceError
from server.services.policy import current_policy
from server.web import statements
from server.web.auth import current_user, login_required
from server.web.forms import FormErrors
from server.web.policy_text import render_policy
from server.web.views import pages_bp

FIELD_IDS = {"acknowledged": "acknowledged", "training_completed_on": "training"}
READERS = (Role.MANAGER.value, Role.ADMIN.value, Role.AUDITOR.value)


def _load(staff_id: int) -> StaffMember:
    staff = db.get_or_404(StaffMember, staff_id)
    user = current_user()
    if user.role == Role.MANAGER.value and user.team_id != staff.team_id:
        abort(403)  # managers see their own team's staff only (as on the staff list)
    return staff


@pages_bp.get("/staff/<int:staff_id>/reconfirm")
@login_required(*READERS)
def reconfirm_page(staff_id: int):
    return _render(_load(staff_id), FormErrors(), {})


def _render(staff: StaffMember, errors: FormErrors, form, status: int = 200):
    user = current_user()
    policy = current_policy(db.session)
    phones = db.session.scalars(select(Device).where(
        Device.staff_member_id == staff.id,
        Device.state.in_(HOLDS_APPROVAL),
    ).order_by(Device.serial)).all()
    due = {item.device.id: item for item in reacknowledgement.needs_reacknowledgement(db.session, staff.team)
           if item.device.staff_member_id == staff.id}
    context = {
        "staff": staff,
        "phones": phones,
        "due": due,
        "policy": policy,
        "policy_html": render_policy(policy.text) if policy else None,
        "can_confirm": access.may_reconfirm(user, staff) and staff.active,
        "errors": errors,
        "form": form,
        "training": statements.training_on_record(staff, form),
        "training_valid_days": training.valid_days(),
        "today": utcnow().date(),
    }
    return render_template("reacknowledgements/form.html", **context), status


@pages_bp.post("/staff/<int:staff_id>/reconfirm")
@login_required()
def reconfirm(staff_id: int):
    """Step 1 checks the answers and shows the check page; step 2 (confirm=yes) records the acknowledgement."""
    user = current_user()
    staff = db.get_or_404(StaffMember, staff_id)
    form = request.form
    actor = Actor.for_user(user)
    if not access.may_reconfirm(user, staff):
        # Let the service refuse it: it knows the precise reason and audits the attempt.
        return _call_service(staff, actor, form, training_on=None)

    errors = FormErrors()
    training_on = statements.check_statements(form, errors, staff)
    policy = current_policy(db.session)
    if not errors and (policy is None or form.get("policy_sha256", "") != policy.sha256):
        return _call_service(staff, actor, form, training_on)  # a stale page: refused and audited by the service
    if errors:
        return _render(staff, errors, form, status=400)
    if form.get("confirm") != "yes":
        return render_template("reacknowledgements/confirm.html", staff=staff, form=form, training_on=training_on,
                               policy=policy)
    return _call_service(staff, actor, form, training_on)


def _call_service(staff: StaffMember, actor: Actor, form, training_on: date | None):
    try:
        reconfirmation.reacknowledge(db.session, staff, actor, policy_sha256=form.get("policy_sha256", ""),
                                acknowledged=form.get("acknowledged") == "yes", training_completed_on=training_on)
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        return _refused(staff, exc, form)
    flash(f"Acknowledgement of the current policy re-confirmed for {staff.name}.")
    return redirect(url_for("pages.reconfirm_page", staff_id=staff.id))


def _refused(staff: StaffMember, exc: ServiceError, form):
    db.session.expire_all()
    user = current_user()
    if isinstance(exc, Forbidden) and not isinstance(exc, PolicyRefused):
        if user.role not in READERS or (user.role == Role.MANAGER.value and user.team_id != staff.team_id):
            return render_template("error.html", status=403, phrase="Forbidden", message=exc.message, errors={}), 403
    errors = FormErrors()
    if isinstance(exc, InvalidInput) and exc.errors:
        errors.extend_from_service(exc.errors, FIELD_IDS)
    else:
        errors.add("acknowledged", exc.message)
    keep = {} if isinstance(exc, PolicyRefused) else form  # a stale policy: show the new text, boxes cleared
    return _render(staff, errors, keep, status=exc.http_status)
