"""The dashboard: what needs the signed-in person's attention, for their own team (or everyone, by role)."""

from __future__ import annotations

from flask import render_template
from sqlalchemy import func

from server.extensions import db
from server.models import Device, DeviceState, EnrolmentRequest, Role
from server.services import access, counts, first_run, reacknowledgement
from server.services.policy import current_policy
from server.web.auth import current_user, login_required
from server.web.views import pages_bp

LATEST = 5


@pages_bp.get("/")
@login_required()
def dashboard():
    user = current_user()
    pending_query = counts.waiting_requests(access.requests_query(user))
    pending_count = counts.waiting_count(db.session, access.requests_query(user))
    pending = db.session.scalars(pending_query.order_by(EnrolmentRequest.requested_at).limit(LATEST)).all()

    team = user.team if user.role == Role.MANAGER.value else None
    reacknowledgements = reacknowledgement.needs_reacknowledgement(db.session, team)

    devices = access.devices_query(user)
    compliance = counts.compliance_counts(db.session, devices)
    awaiting_install = db.session.scalar(
        devices.where(Device.state == DeviceState.APPROVED.value).with_only_columns(func.count())
    ) or 0
    return render_template(
        "dashboard.html",
        pending=pending,
        pending_count=pending_count,
        reacknowledgements=reacknowledgements,
        non_compliant=compliance["non_compliant"],
        in_grace=compliance["in_grace"],
        not_checked=compliance["unknown"],
        awaiting_install=awaiting_install,
        policy=current_policy(db.session),
        team=team,
        setup_tasks=first_run.tasks(db.session) if user.role == Role.ADMIN.value else [],
    )
