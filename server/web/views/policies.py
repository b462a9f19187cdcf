"""Acceptable-use policy versions: the list, one version's text, publishing (admins), and who must re-confirm."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select

from server.extensions import db
from server.models import PolicyVersion, Role, User
from server.services import policy, reacknowledgement
from server.services.actor import Actor
from server.services.errors import Conflict, ServiceError
from server.web.auth import current_user, login_required
from server.web.forms import FormErrors
from server.web.policy_text import render_policy
from server.web.views import pages_bp

TEXT_MAX = 200_000


@pages_bp.get("/policies")
@login_required()
def policies():
    user = current_user()
    versions = db.session.execute(
        select(PolicyVersion, User.email).outerjoin(User, User.id == PolicyVersion.published_by_id)
        .order_by(PolicyVersion.published_at.desc(), PolicyVersion.id.desc())
    ).all()
    team = user.team if user.role == Role.MANAGER.value else None
    due = reacknowledgement.needs_reacknowledgement(db.session, team) if user.role != Role.IT.value else []
    return render_template("policies/list.html", versions=versions, current=policy.current_policy(db.session),
                           due=due, team=team)


@pages_bp.get("/policies/<int:version_id>")
@login_required()
def policy_page(version_id: int):
    version = db.get_or_404(PolicyVersion, version_id)
    current = policy.current_policy(db.session)
    return render_template("policies/detail.html", version=version, html=render_policy(version.text),
                           is_current=current is not None and current.id == version.id)


@pages_bp.route("/policies/new", methods=["GET", "POST"])
@login_required(Role.ADMIN.value)
def policy_new():
    errors = FormErrors()
    form = request.form
    status = 200
    if request.method == "POST":
        text = form.get("text", "").replace("\r\n", "\n")
        if len(text) > TEXT_MAX:
            errors.add("text", f"The policy text must be {TEXT_MAX:,} characters or fewer")
        else:
            try:
                version = policy.publish_policy(db.session, text, form.get("label", ""), Actor.for_user(current_user()))
                db.session.commit()
            except ServiceError as exc:
                db.session.rollback()
                status = exc.http_status
                errors.extend_from_service(exc.errors, {"version": "label", "text": "text"})
                if not errors:
                    errors.add("text" if isinstance(exc, Conflict) and "text" in exc.message else "label", exc.message)
            else:
                flash(f"Version {version.label} is published. Earlier acknowledgements are now out of date.")
                return redirect(url_for("pages.policies") + "#reconfirm")
    if errors and status == 200:
        status = 400
    return render_template("policies/new.html", errors=errors, form=form), status


