"""Spot-check pages: the list (with the team's random sample), starting one, one spot check with its evidence and
checklist, and the per-team quarterly report."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from server.extensions import db
from server.models import HOLDS_APPROVAL, OPEN_SPOT_CHECK, Device, FollowUp, Role, SpotCheck, SpotCheckSample, utcnow
from server.services import access
from server.services.actor import Actor
from server.services.errors import Forbidden, InvalidInput, PolicyRefused, ServiceError
from server.services.spot_checks import completion, evidence, reports, starting
from server.services.spot_checks.checklist import ANSWER_LABELS, ITEMS, OUTCOME_LABELS, items_for
from server.settings import current_settings
from server.web.auth import current_user, login_required
from server.web.forms import DateParts, FormErrors, parse_date
from server.web.governance import governance_bp
from server.web.governance.forms import FOLLOW_UP_ROWS, add_service_errors, follow_up_drafts, follow_up_items

READERS = (Role.MANAGER.value, Role.ADMIN.value, Role.AUDITOR.value)
STATUS_FILTERS = {"open": OPEN_SPOT_CHECK, "completed": ("completed",), "all": None}
STATUS_LABELS = {"requested": "Waiting for the phone", "evidence_recorded": "Evidence recorded", "completed": "Completed"}
PAGE_SIZE = 50


def _spot_check_or_404(spot_check_id: int) -> SpotCheck:
    spot_check = db.session.get(SpotCheck, spot_check_id)
    if spot_check is None or not access.can_see_spot_check(current_user(), spot_check):
        abort(404)  # not "forbidden": a manager need not learn which spot checks exist elsewhere
    return spot_check


@governance_bp.get("/spot-checks")
@login_required(*READERS)
def spot_checks():
    user = current_user()
    status = request.args.get("status", "open")
    status = status if status in STATUS_FILTERS else "open"
    query = access.spot_checks_query(user)
    if STATUS_FILTERS[status] is not None:
        query = query.where(SpotCheck.status.in_(STATUS_FILTERS[status]))
    page = db.paginate(query.order_by(SpotCheck.started_at.desc(), SpotCheck.id.desc()), per_page=PAGE_SIZE,
                       max_per_page=PAGE_SIZE, error_out=False)
    rules = starting.spot_check_rules(db.session)
    today = utcnow().date()
    sample = None
    if user.role == Role.MANAGER.value:
        sample = db.session.scalar(select(SpotCheckSample).where(
            SpotCheckSample.team_id == user.team_id, SpotCheckSample.period == rules.period_of(today)))
    return render_template("governance/spot_checks.html", page=page, status=status, statuses=STATUS_FILTERS,
                           status_labels=STATUS_LABELS, outcome_labels=OUTCOME_LABELS, rules=rules,
                           period=rules.period_of(today), sample=sample, today=today)


@governance_bp.post("/spot-checks/sample")
@login_required()
def draw_sample():
    user = current_user()
    try:
        sample, checks = starting.draw_sample(db.session, user.team, Actor.for_user(user), current_settings())
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        return render_template("error.html", status=exc.http_status, phrase="Not done", message=exc.message,
                               errors={}), exc.http_status
    mailed = sum(1 for check in checks if check.holder_notified_at is not None)
    flash(f"{len(checks)} phone(s) drawn for {sample.period} out of {sample.population}; {mailed} holder(s) e-mailed.")
    return redirect(url_for("governance.spot_checks"))


def _startable_phones(user) -> list[Device]:  # type: ignore[no-untyped-def]
    busy = select(SpotCheck.device_id).where(SpotCheck.status.in_(OPEN_SPOT_CHECK))
    return [device for device in db.session.scalars(access.devices_query(user).where(
        Device.state.in_(HOLDS_APPROVAL), Device.id.not_in(busy)).order_by(Device.serial).limit(500))
        if access.spot_check_start_problem(user, device) is None]


@governance_bp.get("/spot-checks/new")
@login_required(Role.MANAGER.value)
def new_spot_check():
    user = current_user()
    today = utcnow().date()
    bring_by = starting.default_bring_by(db.session, today)
    form = {"device_id": request.args.get("device_id", ""), "bring_by-day": str(bring_by.day),
            "bring_by-month": str(bring_by.month), "bring_by-year": str(bring_by.year)}
    return _render_new(user, form, FormErrors())


def _render_new(user, form, errors: FormErrors, status: int = 200):  # type: ignore[no-untyped-def]
    return render_template("governance/spot_check_new.html", phones=_startable_phones(user), form=form, errors=errors,
                           bring_by=DateParts.from_form(form, "bring_by"), today=utcnow().date()), status


@governance_bp.post("/spot-checks")
@login_required()
def start_spot_check():
    user = current_user()
    form = request.form
    errors = FormErrors()
    device = _device_from(form.get("device_id", ""))
    if device is None:
        errors.add("device-id", "Choose the phone to spot-check")
    bring_by, problem = parse_date(DateParts.from_form(form, "bring_by"), "the date to bring the phone by")
    if problem is not None:
        errors.add("bring-by", problem)
    if errors:
        return _render_new(user, form, errors, 400)
    try:
        spot_check = starting.start_spot_check(db.session, device, Actor.for_user(user), current_settings(), bring_by=bring_by)
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        if isinstance(exc, InvalidInput) and exc.errors:
            add_service_errors(errors, exc.errors)
        else:
            errors.add("device-id", exc.message)
        return _render_new(user, form, errors, exc.http_status)
    holder = spot_check.staff_member
    if holder is None:
        told = " It is a Broadcast phone: fetch it yourself."
    elif spot_check.holder_notified_at is not None:
        told = f" {holder.name} was e-mailed to bring it by {spot_check.bring_by.day} {spot_check.bring_by:%B %Y}."
    else:
        told = f" The e-mail to {holder.name} could not be sent: tell them yourself, or send it again below."
    flash(f"Spot check {spot_check.id} started.{told}")
    return redirect(url_for("governance.spot_check_page", spot_check_id=spot_check.id))


def _device_from(value: str) -> Device | None:
    return db.session.get(Device, int(value)) if value.isdigit() and len(value) < 12 else None


@governance_bp.get("/spot-checks/<int:spot_check_id>")
@login_required(*READERS)
def spot_check_page(spot_check_id: int):
    return _render_detail(_spot_check_or_404(spot_check_id), FormErrors(), {})


def _render_detail(spot_check: SpotCheck, errors: FormErrors, form, status: int = 200):  # type: ignore[no-untyped-def]
    user = current_user()
    follow_up_rows = db.session.scalars(select(FollowUp).where(FollowUp.spot_check_id == spot_check.id)
                                        .order_by(FollowUp.due_on, FollowUp.id)).all()
    answers = {answer.item: answer.answer for answer in spot_check.answers}
    return render_template(
        "governance/spot_check.html", spot_check=spot_check, evidence=evidence.evidence_of(spot_check),
        checklist=items_for(spot_check.role), items=ITEMS, answers=answers, answer_labels=ANSWER_LABELS,
        outcome_labels=OUTCOME_LABELS, status_labels=STATUS_LABELS, follow_up_rows=follow_up_rows,
        can_decide=spot_check.is_open and access.may_decide_spot_check(user, spot_check),
        may_mark_done=access.may_decide_spot_check(user, spot_check), errors=errors, form=form,
        follow_up_count=FOLLOW_UP_ROWS, follow_up_items=follow_up_items, today=utcnow().date()), status


@governance_bp.post("/spot-checks/<int:spot_check_id>/complete")
@login_required()
def complete_spot_check(spot_check_id: int):
    user = current_user()
    spot_check = db.get_or_404(SpotCheck, spot_check_id)
    form = request.form
    errors = FormErrors()
    drafts = follow_up_drafts(form, utcnow().date(), errors)
    if errors and access.may_decide_spot_check(user, spot_check) and spot_check.is_open:
        return _render_detail(spot_check, errors, form, 400)
    answers = {item.key: form.get(f"answer-{item.key}", "") for item in items_for(spot_check.role)}
    try:
        completion.complete_spot_check(db.session, spot_check, Actor.for_user(user), answers=answers,
                                       outcome=form.get("outcome", ""), notes=form.get("notes"), drafts=drafts)
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        return _refused(spot_check, exc, form)
    flash(f"Spot check {spot_check.id} completed: {OUTCOME_LABELS[form.get('outcome', '')].lower()}.")
    return redirect(url_for("governance.spot_check_page", spot_check_id=spot_check.id))


def _refused(spot_check: SpotCheck, exc: ServiceError, form):  # type: ignore[no-untyped-def]
    db.session.expire_all()
    user = current_user()
    if isinstance(exc, Forbidden) and not isinstance(exc, PolicyRefused) and not access.can_see_spot_check(user, spot_check):
        return render_template("error.html", status=403, phrase="Forbidden", message=exc.message, errors={}), 403
    errors = FormErrors()
    if isinstance(exc, InvalidInput) and exc.errors:
        add_service_errors(errors, exc.errors)
    else:
        errors.add("outcome", exc.message)
    return _render_detail(spot_check, errors, form, exc.http_status)


@governance_bp.post("/spot-checks/<int:spot_check_id>/remind")
@login_required()
def remind_holder(spot_check_id: int):
    spot_check = db.get_or_404(SpotCheck, spot_check_id)
    try:
        sent = starting.remind_holder(db.session, spot_check, Actor.for_user(current_user()), current_settings())
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        return _refused(spot_check, exc, {})
    flash("The e-mail was sent to the holder again." if sent else "The e-mail could not be sent: mail is not working "
          "(PHONEGATE_SMTP_HOST). Tell the holder yourself.")
    return redirect(url_for("governance.spot_check_page", spot_check_id=spot_check.id))


@governance_bp.get("/spot-checks/report")
@login_required(*READERS)
def spot_check_report():
    quarters, rows = reports.per_team_per_quarter(db.session, current_user(), utcnow().date())
    return render_template("governance/spot_check_report.html", quarters=quarters, rows=rows)
