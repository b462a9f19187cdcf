"""The dashboard: what needs the signed-in person's attention, for their own team (or everyone, by role)."""

from __future__ import annotations

from flask import render_template
from sqlalchemy import func

from server.extensions import db
from server.models import HOLDS_APPROVAL, Device, DeviceState, EnrolmentRequest, EnrolmentStatus, Role
from server.services import access, reacknowledgement
from server.services.policy import current_policy
from server.web.auth import current_user, login_required
from server.web.views import pages_bp

LATEST = 5


@pages_bp.get("/")
@login_required()
def dashboard():
    user = current_user()
    pending_query = access.requests_query(user).where(EnrolmentRequest.status == EnrolmentStatus.PENDING.value)
    pending_count = db.session.scalar(pending_query.with_only_columns(func.count())) or 0
    pending = db.session.scalars(pending_query.order_by(EnrolmentRequest.requested_at).limit(LATEST)).all()

    team = user.team if user.role == Role.MANAGER.value else None
    reacknowledgements = reacknowledgement.needs_reacknowledgement(db.session, team)

    devices = access.devices_query(user)
    compliance = dict(db.session.execute(
        devices.where(Device.state.in_(HOLDS_APPROVAL))
        .with_only_columns(Device.compliance_state, func.count()).group_by(Device.compliance_state)
    ).all())
    awaiting_install = db.session.scalar(
        devices.where(Device.state == DeviceState.APPROVED.value).with_only_columns(func.count())
    ) or 0
    return render_template(
        "dashboard.html",
        pending=pending,
        pending_count=pending_count,
        reacknowledgements=reacknowledgements,
        non_compliant=compliance.get("non_compliant", 0),
        in_grace=compliance.get("in_grace", 0),
        awaiting_install=awaiting_install,
        policy=current_policy(db.session),
        team=team,
    )
