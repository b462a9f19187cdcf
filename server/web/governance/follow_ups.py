"""Marking a follow-up done, and the dashboard's block of overdue follow-ups (a template global, so the dashboard
view itself stays as it is: dashboard.html includes governance/_overdue_follow_ups.html)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from server.extensions import db
from server.models import FollowUp, utcnow
from server.services import follow_ups
from server.services.actor import Actor
from server.services.errors import ServiceError
from server.web.auth import current_user, login_required
from server.web.governance import governance_bp
from server.web.redirects import local_path

DASHBOARD_LIMIT = 10


@governance_bp.post("/follow-ups/<int:follow_up_id>/done")
@login_required()
def follow_up_done(follow_up_id: int):
    follow_up = db.get_or_404(FollowUp, follow_up_id)
    back = local_path(request.form.get("next")) or _origin(follow_up)
    try:
        follow_ups.mark_done(db.session, follow_up, Actor.for_user(current_user()))
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        return render_template("error.html", status=exc.http_status, phrase="Not done", message=exc.message,
                               errors={}), exc.http_status
    flash("Follow-up marked done.")
    return redirect(back)


def _origin(follow_up: FollowUp) -> str:
    if follow_up.spot_check_id is not None:
        return url_for("governance.spot_check_page", spot_check_id=follow_up.spot_check_id)
    return url_for("governance.review_page", review_id=follow_up.review_id)


@governance_bp.app_template_global("overdue_follow_ups")
def overdue_follow_ups() -> dict:
    """For the dashboard: the signed-in person's overdue follow-ups (their team's; all for information governance)."""
    user = current_user()
    if user is None:
        return {"count": 0, "items": []}
    query = follow_ups.overdue_query(user, utcnow().date())
    count = db.session.scalar(query.with_only_columns(db.func.count()).order_by(None)) or 0
    return {"count": count, "items": db.session.scalars(query.limit(DASHBOARD_LIMIT)).all(),
            "origin": _origin, "today": utcnow().date()}
