"""The conversation review aid on the web: upload a WhatsApp export, see its findings once, record the review.

The upload is read into memory only (server/web/uploads.py) and scanned there (phonegate.core.chat); the
findings are shown on the result page, redacted, and then gone: only the review record is kept (counts by kind,
who, whose conversation, outcome, follow-ups). The same upload form makes the case-record transcript (text or
PDF) instead, sent straight back as a download and not kept either.
"""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Response, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from phonegate.core.chat.detectors import KINDS
from phonegate.core.chat.export_file import read_export_stream
from phonegate.core.chat.messages import parse_chat
from phonegate.core.chat.scan import scan_chat
from phonegate.core.errors import BadInput, PhoneGateError
from phonegate.core.text import printable
from server.extensions import db
from server.models import ConversationReview, FollowUp, Role, StaffMember, utcnow
from server.services import access, conversation_reviews
from server.services.actor import Actor
from server.services.errors import InvalidInput, ServiceError
from server.web.auth import current_user, login_required
from server.web.forms import FormErrors
from server.web.governance import governance_bp
from server.web.governance.forms import FOLLOW_UP_ROWS, add_service_errors, follow_up_drafts, follow_up_items
from server.web.uploads import UPLOAD_MAX_BYTES

READERS = (Role.MANAGER.value, Role.ADMIN.value, Role.AUDITOR.value)
ACTIONS = ("scan", "text", "pdf")
KIND_LABELS = {
    "nhs_number": "NHS number", "national_insurance_number": "National Insurance number", "postcode": "Postcode",
    "phone_number": "Phone number", "email": "E-mail address", "date_of_birth": "Date of birth",
    "bank_account": "Bank details",
}
PAGE_SIZE = 50


def _review_or_404(review_id: int) -> ConversationReview:
    review = db.session.get(ConversationReview, review_id)
    if review is None or not access.can_see_review(current_user(), review):
        abort(404)
    return review


@governance_bp.get("/reviews")
@login_required(*READERS)
def reviews():
    page = db.paginate(access.reviews_query(current_user()).order_by(ConversationReview.reviewed_at.desc(),
                                                                     ConversationReview.id.desc()),
                       per_page=PAGE_SIZE, max_per_page=PAGE_SIZE, error_out=False)
    return render_template("governance/reviews.html", page=page, outcome_labels=conversation_reviews.OUTCOME_LABELS)


@governance_bp.get("/reviews/new")
@login_required(Role.MANAGER.value)
def new_review():
    return _render_upload({}, FormErrors())


def _team_staff() -> list[StaffMember]:
    return db.session.scalars(access.staff_query(current_user()).where(StaffMember.active.is_(True))
                              .order_by(StaffMember.name)).all()


def _render_upload(form, errors: FormErrors, status: int = 200):  # type: ignore[no-untyped-def]
    return render_template("governance/review_new.html", form=form, errors=errors, staff=_team_staff(),
                           max_mb=UPLOAD_MAX_BYTES // (1024 * 1024)), status


@governance_bp.post("/reviews/new")
@login_required()
def upload_review():
    user = current_user()
    form = request.form
    errors = FormErrors()
    action = form.get("action", "scan")
    if action not in ACTIONS:
        action = "scan"
    problem = access.review_problem(user)
    if problem is not None:  # the service refuses and audits it; nothing of the file is read
        return _record(user, None, None, action)
    staff = None
    staff_id = form.get("staff_id", "")
    if staff_id:
        staff = db.session.get(StaffMember, int(staff_id)) if staff_id.isdigit() and len(staff_id) < 12 else None
        if staff is None or staff.team_id != user.team_id:
            errors.add("staff-id", "Choose a member of your team, or nobody")
    upload = request.files.get("export")
    if upload is None or not upload.filename:
        errors.add("export", "Choose the chat export file (.txt or .zip) to check")
    if errors:
        return _render_upload(form, errors, 400)
    name = printable(upload.filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1])[:200]
    try:
        chat = parse_chat(read_export_stream(upload.stream, name), name=name)
    except BadInput as exc:
        errors.add("export", str(exc))
        return _render_upload(form, errors, 400)
    finally:
        upload.close()
    return _record(user, staff, chat, action, name)


def _record(user, staff, chat, action: str, name: str = ""):  # type: ignore[no-untyped-def]
    actor = Actor.for_user(user)
    try:
        if action == "scan":
            report = scan_chat(chat) if chat is not None else None
            review = conversation_reviews.record_review(
                db.session, actor, messages=report.messages if report else 0,
                counts=report.counts if report else {}, staff=staff)
            db.session.commit()
        else:
            conversation_reviews.record_transcript(db.session, actor, messages=len(chat.messages) if chat else 0,
                                                   output_format=action)
            body, mimetype, suffix = _transcript(chat, name, action)
            db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        return render_template("error.html", status=exc.http_status, phrase="Forbidden", message=exc.message,
                               errors={}), exc.http_status
    except PhoneGateError as exc:  # no PDF font: say so, the text transcript still works
        db.session.rollback()
        errors = FormErrors()
        errors.add("action", str(exc))
        return _render_upload({}, errors, 503)  # the server lacks the PDF font: not the person's doing
    if action != "scan":
        made = f"transcript-{datetime.now(timezone.utc):%Y-%m-%d-%H%M}.{suffix}"
        return Response(body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{made}"',
                                                          "Cache-Control": "no-store"})
    return render_template("governance/review_result.html", review=review, report=report, kinds=KINDS,
                           kind_labels=KIND_LABELS, outcome_labels=conversation_reviews.OUTCOME_LABELS, form={},
                           errors=FormErrors(), follow_up_count=FOLLOW_UP_ROWS, follow_up_items=follow_up_items,
                           today=utcnow().date())


def _transcript(chat, name: str, action: str) -> tuple[bytes, str, str]:  # type: ignore[no-untyped-def]
    made_at = datetime.now(timezone.utc)
    if action == "pdf":
        from phonegate.core.chat.transcript_pdf import render_pdf

        return render_pdf(chat, name, made_at), "application/pdf", "pdf"
    from phonegate.core.chat.transcript import render_text

    return render_text(chat, name, made_at).encode("utf-8"), "text/plain", "txt"


@governance_bp.get("/reviews/<int:review_id>")
@login_required(*READERS)
def review_page(review_id: int):
    return _render_review(_review_or_404(review_id), FormErrors(), {})


def _render_review(review: ConversationReview, errors: FormErrors, form, status: int = 200):  # type: ignore[no-untyped-def]
    user = current_user()
    rows = db.session.scalars(select(FollowUp).where(FollowUp.review_id == review.id).order_by(FollowUp.due_on)).all()
    return render_template("governance/review.html", review=review, counts=conversation_reviews.counts_of(review),
                           kinds=KINDS, kind_labels=KIND_LABELS, outcome_labels=conversation_reviews.OUTCOME_LABELS,
                           follow_up_rows=rows, errors=errors, form=form, follow_up_count=FOLLOW_UP_ROWS,
                           follow_up_items=follow_up_items, today=utcnow().date(),
                           can_record=review.outcome is None and access.review_outcome_problem(user, review) is None,
                           may_mark_done=access.review_outcome_problem(user, review) is None), status


@governance_bp.post("/reviews/<int:review_id>/outcome")
@login_required()
def review_outcome(review_id: int):
    user = current_user()
    review = db.get_or_404(ConversationReview, review_id)
    form = request.form
    errors = FormErrors()
    drafts = follow_up_drafts(form, utcnow().date(), errors)
    if errors and review.outcome is None and access.review_outcome_problem(user, review) is None:
        return _render_review(review, errors, form, 400)
    try:
        conversation_reviews.record_outcome(db.session, review, Actor.for_user(user), outcome=form.get("outcome", ""),
                                            notes=form.get("notes"), drafts=drafts)
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        db.session.expire_all()
        if not access.can_see_review(user, review):
            abort(404)
        errors = FormErrors()
        if isinstance(exc, InvalidInput) and exc.errors:
            add_service_errors(errors, exc.errors)
        else:
            errors.add("outcome", exc.message)
        return _render_review(review, errors, form, exc.http_status)
    flash("The review's outcome is recorded.")
    return redirect(url_for("governance.review_page", review_id=review.id))
