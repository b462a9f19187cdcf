"""Enrolment requests: the list, one request with the current policy, and the manager's decision.

Approving takes deliberate answers on the request page (the "approve" choice, the first-person acknowledgement,
the training date, pre-filled from the record, and the statement that it is right) and then a second page that
repeats them with one "Approve" button; the radios reveal only the chosen branch, and the server checks every answer
(a forged form without the statements is refused). After a decision the manager sees a confirmation panel that
says what happens next and links to the next request waiting for them. The policy's SHA-256
travels in a hidden field: if a new version was published meanwhile, the decisions service refuses and the
manager is shown the new text. Every refusal is audited by the service; the page only explains it.
"""

from __future__ import annotations

from datetime import date

from flask import abort, redirect, render_template, request, url_for
from sqlalchemy import func

from server.extensions import db
from server.models import BroadcastDesignation, DeviceRole, EnrolmentRequest, EnrolmentStatus, utcnow
from server.services import access, broadcast, decisions, precheck, training
from server.services.actor import Actor
from server.services.enrolment import holder_in_words
from server.services.errors import Forbidden, InvalidInput, PolicyRefused, ServiceError
from server.services.policy import current_policy
from server.web import statements
from server.web.auth import current_user, login_required
from server.web.forms import FormErrors
from server.web.policy_text import render_policy
from server.web.views import pages_bp

STATUSES = tuple(status.value for status in EnrolmentStatus)
PAGE_SIZE = 50
FIELD_IDS = {"acknowledged": "acknowledged", "training_completed_on": "training", "reason": "reason", "decision": "decision",
             "handover_reason": "handover_reason"}


@pages_bp.get("/requests")
@login_required()
def requests():
    user = current_user()
    status = request.args.get("status", EnrolmentStatus.PENDING.value)
    if status not in (*STATUSES, "all"):
        status = EnrolmentStatus.PENDING.value
    query = access.requests_query(user)
    if status != "all":
        query = query.where(EnrolmentRequest.status == status)
    page = db.paginate(query.order_by(EnrolmentRequest.requested_at.desc(), EnrolmentRequest.id.desc()),
                       per_page=PAGE_SIZE, max_per_page=PAGE_SIZE, error_out=False)
    counts = dict(db.session.execute(
        access.requests_query(user).with_only_columns(EnrolmentRequest.status, func.count())
        .group_by(EnrolmentRequest.status)
    ).all())
    return render_template("requests/list.html", page=page, status=status, statuses=STATUSES, counts=counts)


def _load(request_id: int) -> EnrolmentRequest:
    enrolment = db.get_or_404(EnrolmentRequest, request_id)
    return enrolment


@pages_bp.get("/requests/<int:request_id>")
@login_required()
def request_page(request_id: int):
    user = current_user()
    enrolment = _load(request_id)
    if not access.can_see_request(user, enrolment):
        abort(403)
    return _render_request(enrolment, FormErrors(), form={})


def next_waiting_request(user, after: EnrolmentRequest) -> EnrolmentRequest | None:
    """The oldest other pending request this user may decide: the panel's "next" link."""
    waiting = db.session.scalars(
        access.requests_query(user)
        .where(EnrolmentRequest.status == EnrolmentStatus.PENDING.value, EnrolmentRequest.id != after.id)
        .order_by(EnrolmentRequest.requested_at, EnrolmentRequest.id).limit(50))
    return next((candidate for candidate in waiting if access.may_decide_enrolment(user, candidate)), None)


@pages_bp.get("/requests/<int:request_id>/decided")
@login_required()
def request_decided(request_id: int):
    """The confirmation panel after a decision: what was decided, what happens next, the next waiting request."""
    user = current_user()
    enrolment = _load(request_id)
    if not access.can_see_request(user, enrolment):
        abort(403)
    if enrolment.status == EnrolmentStatus.PENDING.value:
        return redirect(url_for("pages.request_page", request_id=enrolment.id))
    return render_template("requests/decided.html", enrolment=enrolment, next_request=next_waiting_request(user, enrolment),
                           handed_over=request.args.get("handover") == "yes",
                           waiting_count=_decidable_count(user))


def _decidable_count(user) -> int:
    pending = db.session.scalars(access.requests_query(user).where(
        EnrolmentRequest.status == EnrolmentStatus.PENDING.value).limit(500))
    return sum(1 for candidate in pending if access.may_decide_enrolment(user, candidate))


def _handover_from(enrolment: EnrolmentRequest) -> BroadcastDesignation | None:
    """The service's active Broadcast designation that approving this Broadcast request would end, if any."""
    if enrolment.role != DeviceRole.BROADCAST.value or enrolment.status != EnrolmentStatus.PENDING.value:
        return None
    current = broadcast.active_designation(db.session, enrolment.service_id)
    return current if current is not None and current.device_id != enrolment.device_id else None


def _previous_holder(enrolment: EnrolmentRequest) -> str | None:
    """Who a reassigned phone is moving from, in words."""
    if not enrolment.is_reassignment:
        return None
    return holder_in_words(enrolment.previous_role, enrolment.previous_staff_member,
                           enrolment.previous_service) or "its previous holder"


def _render_request(enrolment: EnrolmentRequest, errors: FormErrors, form, status: int = 200):
    user = current_user()
    checked = precheck.for_request(db.session, enrolment)
    policy = current_policy(db.session)
    context = {
        "enrolment": enrolment,
        "device": enrolment.device,
        "staff": enrolment.staff_member,
        "policy": policy,
        "policy_html": render_policy(policy.text) if policy else None,
        "can_decide": enrolment.status == EnrolmentStatus.PENDING.value and access.may_decide_enrolment(user, enrolment),
        "is_requester": user.id == enrolment.requested_by_id,
        "errors": errors,
        "form": form,
        "training": statements.training_on_record(enrolment.staff_member, form),
        "training_valid_days": training.valid_days(),
        "is_broadcast": enrolment.role == DeviceRole.BROADCAST.value,
        "handover_from": _handover_from(enrolment),
        "today": utcnow().date(),
        "precheck": checked,
        "blocked": bool(checked.blocking),
        "previous_holder": _previous_holder(enrolment),
    }
    return render_template("requests/detail.html", **context), status


@pages_bp.post("/requests/<int:request_id>/decision")
@login_required()
def request_decision(request_id: int):
    """Step 1 checks the answers (and shows the confirmation page); step 2 (confirm=yes) records the decision."""
    user = current_user()
    enrolment = _load(request_id)
    form = request.form
    decision = form.get("decision", "")
    actor = Actor.for_user(user)

    if not access.may_decide_enrolment(user, enrolment) or enrolment.status != EnrolmentStatus.PENDING.value:
        # Let the service refuse it: it knows the precise reason and audits the attempt.
        return _call_service(enrolment, actor, decision, form, training_on=None)

    errors = FormErrors()
    training_on: date | None = None
    if decision not in ("approve", "reject"):
        errors.add("decision", "Select whether to approve or reject this request")
    if decision == "approve" and precheck.blocking_failures(db.session, enrolment.device):
        # The page offers no approval then; a forged form (or one opened before the last check) is the service's
        # to refuse and audit.
        return _call_service(enrolment, actor, decision, form, training_on=None)
    if decision == "approve":
        training_on = statements.check_statements(form, errors, enrolment.staff_member)
        if _handover_from(enrolment) is not None:
            # Approving ends the other phone's designation and suspends it: only as an explicit, reasoned choice.
            if form.get("handover") != "yes":
                errors.add("handover", "Confirm that the Broadcast role is handed over from the current phone")
            if not form.get("handover_reason", "").strip():
                errors.add("handover_reason", "Enter the reason for the handover")
        policy = current_policy(db.session)
        if not errors and (policy is None or form.get("policy_sha256", "") != policy.sha256):
            # The page was opened before a new version was published: the service refuses and audits it.
            return _call_service(enrolment, actor, decision, form, training_on)
    if decision == "reject" and not form.get("reason", "").strip():
        errors.add("reason", "Enter the reason for rejecting this request")
    if errors:
        return _render_request(enrolment, errors, form, status=400)

    if decision == "approve" and form.get("confirm") != "yes":
        return render_template("requests/confirm.html", enrolment=enrolment, form=form, training_on=training_on,
                               policy=current_policy(db.session), handover_from=_handover_from(enrolment),
                               precheck=precheck.for_request(db.session, enrolment))
    return _call_service(enrolment, actor, decision, form, training_on)


def _call_service(enrolment: EnrolmentRequest, actor: Actor, decision: str, form, training_on: date | None):
    try:
        if decision == "reject":
            decisions.reject_enrolment(db.session, enrolment, actor, reason=form.get("reason", ""))
        else:
            decisions.approve_enrolment(
                db.session, enrolment, actor,
                policy_sha256=form.get("policy_sha256", ""),
                acknowledged=form.get("acknowledged") == "yes",
                training_completed_on=training_on,
                handover=form.get("handover") == "yes",
                handover_reason=form.get("handover_reason", ""),
            )
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        return _refused(enrolment, exc, form)
    handed = "yes" if decision != "reject" and form.get("handover") == "yes" else None
    return redirect(url_for("pages.request_decided", request_id=enrolment.id, handover=handed))


def _refused(enrolment: EnrolmentRequest, exc: ServiceError, form):
    db.session.expire_all()  # reload what the refused attempt may have touched
    user = current_user()
    if isinstance(exc, Forbidden) and not isinstance(exc, PolicyRefused) and not access.can_see_request(user, enrolment):
        return render_template("error.html", status=403, phrase="Forbidden", message=exc.message, errors={}), 403
    errors = FormErrors()
    if isinstance(exc, InvalidInput) and exc.errors:
        errors.extend_from_service(exc.errors, FIELD_IDS)
    else:
        errors.add("decision", exc.message)
    # A stale policy: show the new text with the boxes cleared, so nothing carries over from the old version.
    keep = {} if isinstance(exc, PolicyRefused) else form
    return _render_request(enrolment, errors, keep, status=exc.http_status)
