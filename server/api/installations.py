"""Reports from the provisioning command about what is on a phone.

POST /api/v1/installations {"device_serial", "grant_secret", "package", "version_code", "signer_sha256"}
     -> 201 {"installation_id", "device_serial", "device_state", "package", "version_code", "signer_sha256", "installed_at"}
        Consumes the grant: 403 policy_refused if it was already used, expired, replaced, is for another phone than
        `device_serial` (audited), or the phone reports a different package, version or signer than the grant's
        catalogue APK.
POST /api/v1/unauthorised-installs {"device_serial", "package", "version_code"?, "signer_sha256"?}
     -> 201 {"device_id", "audit_entry_id", "device_state"}: a phone carries the app without approval.
"""

from __future__ import annotations

from flask import g
from marshmallow import fields, validate

from server.api.auth import token_required
from server.api.common import Blueprint, ResponseSchema, StrictSchema
from server.api.fields import Identifier, Int64
from server.api.grants import HEX64
from server.extensions import db
from server.services import grants
from server.services.devices import get_by_serial

blp = Blueprint("installations", __name__, url_prefix="/api/v1", description="Installation and unauthorised-install reports")

PACKAGE = validate.Regexp(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)+$", error="Not an Android package name.")


class InstallationReportSchema(StrictSchema):
    device_serial = Identifier(required=True, validate=validate.Length(max=128),
                               metadata={"description": "The phone the app was installed on; must be the grant's."})
    grant_secret = Identifier(required=True, validate=validate.Length(min=16, max=200))
    package = Identifier(required=True, validate=[validate.Length(max=255), PACKAGE])
    version_code = Int64(required=True, minimum=0)
    signer_sha256 = Identifier(required=True, validate=HEX64)


class InstallationSchema(ResponseSchema):
    installation_id = fields.Integer()
    device_serial = fields.String()
    device_state = fields.String()
    package = fields.String()
    version_code = fields.Integer()
    signer_sha256 = fields.String()
    installed_at = fields.DateTime()


class UnauthorisedReportSchema(StrictSchema):
    device_serial = Identifier(required=True, validate=validate.Length(max=128))
    package = Identifier(required=True, validate=[validate.Length(max=255), PACKAGE])
    version_code = Int64(allow_none=True, minimum=0)
    signer_sha256 = Identifier(allow_none=True, validate=HEX64)


class UnauthorisedResultSchema(ResponseSchema):
    device_id = fields.Integer()
    audit_entry_id = fields.Integer()
    device_state = fields.String()


@blp.route("/installations", methods=["POST"])
@token_required("provision", "station")
@blp.arguments(InstallationReportSchema)
@blp.response(201, InstallationSchema)
def report_installation(data):
    """Confirm an installation with what the phone reports; consumes the grant."""
    observed = grants.Observed(data["package"], data["version_code"], data["signer_sha256"].lower())
    installation = grants.report_installation(db.session, data["grant_secret"], observed, g.actor,
                                              reported_serial=data["device_serial"])
    device = installation.grant.device
    db.session.commit()
    return {
        "installation_id": installation.id, "device_serial": device.serial, "device_state": device.state,
        "package": installation.package, "version_code": installation.version_code,
        "signer_sha256": installation.signer_sha256, "installed_at": installation.installed_at,
    }


@blp.route("/unauthorised-installs", methods=["POST"])
@token_required("provision", "agent", "station")
@blp.arguments(UnauthorisedReportSchema)
@blp.response(201, UnauthorisedResultSchema)
def report_unauthorised(data):
    """Report that a phone carries the app without approval."""
    device = get_by_serial(db.session, data["device_serial"])
    signer = data.get("signer_sha256")
    observed = grants.Observed(data["package"], data.get("version_code"), signer.lower() if signer else None)
    result = grants.report_unauthorised_install(db.session, device, observed, g.actor)
    db.session.commit()
    return result
