"""What the provisioning command asks before it installs anything, and the single-use grants it gets.

GET  /api/v1/devices/<serial>/install-status
     -> 200 {"serial", "device_state", "role", "approved": bool, "can_install": bool, "reason": str|null,
             "reacknowledgement_due": bool,
             "request": {"id", "status", "url", "requested_at", "decided_at", "decision_reason", "role", "staff_email", "service_name"} | null,
             "app": {catalogue app for the phone's role, as in /catalogue} | null}
     The request also carries "role", "staff_email" (individual) and "service_name" (who it is for).
     "url" is the page where the manager decides: {PHONEGATE_PUBLIC_URL or this server's address}requests/<id>.
POST /api/v1/grants {"device_serial": str, "apk_sha256"?: hex}
     -> 201 {"grant_id", "secret" (shown once), "apk_sha256", "package", "version_code", "signer_sha256",
             "download_url", "expires_at"}
        403 policy_refused when the phone is not approved (or re-acknowledgement is due), or the APK is not the
        catalogue's for its role. Without apk_sha256 the newest catalogue app for the phone's role is used.
"""

from __future__ import annotations

from flask import g
from marshmallow import fields, validate
from sqlalchemy import select

from server.api.auth import token_required
from server.api.catalogue import CatalogueAppSchema, apk_url
from server.api.common import Blueprint, ResponseSchema, StrictSchema
from server.api.fields import Identifier
from server.extensions import db
from server.models import HOLDS_APPROVAL, EnrolmentRequest
from server.services import catalogue, grants
from server.services.devices import get_by_serial
from server.services.reacknowledgement import reacknowledgement_due
from server.settings import public_root

blp = Blueprint("grants", __name__, url_prefix="/api/v1", description="Install status and single-use install grants")

HEX64 = validate.Regexp(r"^[0-9a-fA-F]{64}$", error="Expected 64 hexadecimal digits.")


def request_page_url(request_id: int) -> str:
    """The manager's page for a request; PHONEGATE_PUBLIC_URL wins (the server may sit behind a proxy)."""
    return f"{public_root()}/requests/{request_id}"


class RequestSummarySchema(ResponseSchema):
    id = fields.Integer()
    status = fields.String()
    url = fields.Function(lambda r: request_page_url(r.id), metadata={"type": "string"})
    requested_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)
    decision_reason = fields.String(allow_none=True)  # a rejection's reason, written by the manager for IT
    role = fields.String()
    # Who the request is for, so `provision --staff X` can tell a phone approved for someone else. The token's
    # user (IT) typed this address; it is not new information to them.
    staff_email = fields.String(attribute="staff_member.email", allow_none=True)
    service_name = fields.String(attribute="service.name")


class InstallStatusSchema(ResponseSchema):
    serial = fields.String()
    device_state = fields.String()
    role = fields.String()
    approved = fields.Boolean()
    can_install = fields.Boolean()
    reason = fields.String(allow_none=True)
    reacknowledgement_due = fields.Boolean()
    request = fields.Nested(RequestSummarySchema, allow_none=True)
    app = fields.Nested(CatalogueAppSchema, allow_none=True)


class GrantRequestSchema(StrictSchema):
    device_serial = Identifier(required=True, validate=validate.Length(max=128))
    apk_sha256 = Identifier(validate=HEX64)


class GrantSchema(ResponseSchema):
    grant_id = fields.Integer()
    secret = fields.String()
    apk_sha256 = fields.String()
    package = fields.String()
    version_code = fields.Integer()
    signer_sha256 = fields.String()
    download_url = fields.String()
    expires_at = fields.DateTime()


@blp.route("/devices/<string:serial>/install-status")
@token_required("provision", "station")
@blp.response(200, InstallStatusSchema)
def install_status(serial: str):
    """Whether this phone may have the app now, and where its manager decides if not."""
    session = db.session
    device = get_by_serial(session, serial)
    latest = session.scalar(
        select(EnrolmentRequest).where(EnrolmentRequest.device_id == device.id)
        .order_by(EnrolmentRequest.requested_at.desc(), EnrolmentRequest.id.desc()).limit(1)
    )
    role = latest.role if latest is not None else device.role  # the device's role is bound only on approval
    app = catalogue.current_app_for_role(session, role)
    reason = grants.installability_problem(session, device, app)
    due = reacknowledgement_due(session, device) is not None
    return {
        "serial": device.serial,
        "device_state": device.state,
        "role": role,
        "approved": device.state in HOLDS_APPROVAL,
        "can_install": reason is None,
        "reason": reason,
        "reacknowledgement_due": due,
        "request": latest,
        "app": app,
    }


@blp.route("/grants", methods=["POST"])
@token_required("provision", "station")
@blp.arguments(GrantRequestSchema)
@blp.response(201, GrantSchema)
def create_grant(data):
    """Issue a single-use grant to install one catalogue APK on one approved phone."""
    session = db.session
    device = get_by_serial(session, data["device_serial"])
    if data.get("apk_sha256"):
        app = catalogue.get_by_sha256(session, data["apk_sha256"])  # issue_grant refuses one for another role
    else:
        app = catalogue.current_app_for_role(session, device.role)
    grant, secret = grants.issue_grant(session, device, app, g.actor)
    session.commit()
    return {
        "grant_id": grant.id, "secret": secret, "apk_sha256": grant.apk_sha256, "package": app.package,
        "version_code": app.version_code, "signer_sha256": app.signer_sha256, "download_url": apk_url(app.sha256),
        "expires_at": grant.expires_at,
    }
