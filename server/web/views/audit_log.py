"""The audit log for information governance (auditors and administrators): entries, filtered, and a chain check.

Checking the chain reads every entry, so it runs only when asked (a button), not on every page view.
"""

from __future__ import annotations

from flask import render_template, request
from sqlalchemy import select

from server.extensions import db
from server.models import AuditEntry, User
from server.services import access, audit
from server.web import audit_details
from server.web.auth import login_required
from server.web.views import pages_bp
from server.web.views.devices import details_of

PAGE_SIZE = 50
TARGET_TYPES = ("device", "enrolment_request", "acknowledgement", "policy_version", "broadcast_designation",
                "catalogue_app", "install_grant", "installation", "user", "staff_member", "api_token", "service", "team")


@pages_bp.route("/audit", methods=["GET", "POST"])
@login_required(*access.AUDIT_READER_ROLES)
def audit_log():
    action = request.args.get("action", "").strip()[:64]
    target_type = request.args.get("target_type", "")
    target_type = target_type if target_type in TARGET_TYPES else ""
    query = select(AuditEntry)
    if action:
        query = query.where(AuditEntry.action.startswith(action, autoescape=True))
    if target_type:
        query = query.where(AuditEntry.target_type == target_type)
    page = db.paginate(query.order_by(AuditEntry.id.desc()), per_page=PAGE_SIZE, max_per_page=PAGE_SIZE, error_out=False)
    actor_ids = {entry.actor_user_id for entry in page.items if entry.actor_user_id}
    emails = dict(db.session.execute(select(User.id, User.email).where(User.id.in_(actor_ids))).all()) if actor_ids else {}
    # POST only runs the (read-only) chain check; CSRF still applies, so a link elsewhere cannot start the scan.
    verification = audit.verify_chain(db.session) if request.method == "POST" else None
    target_items = [{"value": "", "text": "Any", "selected": not target_type}] + [
        {"value": t, "text": t.replace("_", " ").capitalize(), "selected": t == target_type} for t in TARGET_TYPES
    ]
    filters = {key: value for key, value in (("action", action), ("target_type", target_type)) if value}
    rows = audit_details.present([
        {"entry": entry, "who": audit_details.who(entry, emails.get(entry.actor_user_id)), "details": details_of(entry.details)}
        for entry in page.items])
    return render_template("audit.html", page=page, rows=rows, action=action, target_items=target_items,
                           filters=filters, verification=verification)
