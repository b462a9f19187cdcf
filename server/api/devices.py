"""/api/v1/devices: register a phone (idempotent by serial), read one by serial, list with filters, and record
the rules as `provision` checked them on the phone (the gate's pre-check)."""

from __future__ import annotations

import marshmallow as ma
from flask import g
from flask.views import MethodView

from phonegate.core.rules import SEVERITIES
from server.api.auth import token_required
from server.api.common import MAX_PAGE_SIZE, Blueprint, ResponseSchema, SelectPage, StrictSchema
from server.api.fields import Id, Identifier, Int64, Text
from server.extensions import db
from server.models import DeviceRole, DeviceState
from server.models.compliance import OUTCOMES
from server.services import devices, precheck

blp = Blueprint("devices", __name__, url_prefix="/api/v1/devices", description="Work phones known to PhoneGate.")

STATES = [state.value for state in DeviceState]
ROLES = [role.value for role in DeviceRole]


class DeviceRegistrationSchema(StrictSchema):
    # Identifiers are refused with a control character in them; facts the phone reports are stored escaped.
    serial = Identifier(required=True, validate=ma.validate.Length(max=128))
    manufacturer = Text(validate=ma.validate.Length(max=128), allow_none=True)
    model = Text(validate=ma.validate.Length(max=128), allow_none=True)
    android_release = Text(validate=ma.validate.Length(max=32), allow_none=True)
    sdk = Int64(minimum=1, maximum=devices.MAX_SDK, allow_none=True)
    security_patch = ma.fields.Date(allow_none=True)
    build_fingerprint = Text(validate=ma.validate.Length(max=512), allow_none=True)
    adb_endpoint = Identifier(validate=ma.validate.Length(max=255), allow_none=True)
    site = Identifier(validate=ma.validate.Length(max=120), allow_none=True)
    asset_tag = Identifier(validate=ma.validate.Length(max=64), allow_none=True)


class DeviceSchema(ResponseSchema):
    id = ma.fields.Integer()
    serial = ma.fields.String()
    manufacturer = ma.fields.String(allow_none=True)
    model = ma.fields.String(allow_none=True)
    android_release = ma.fields.String(allow_none=True)
    sdk = ma.fields.Integer(allow_none=True)
    security_patch = ma.fields.Date(allow_none=True)
    build_fingerprint = ma.fields.String(allow_none=True)
    asset_tag = ma.fields.String(allow_none=True)
    role = ma.fields.String()
    state = ma.fields.String()
    staff_member_id = ma.fields.Integer(allow_none=True)
    team_id = ma.fields.Integer(allow_none=True)
    service_id = ma.fields.Integer(allow_none=True)
    site = ma.fields.String(allow_none=True)
    adb_endpoint = ma.fields.String(allow_none=True)
    compliance_state = ma.fields.String()
    last_seen_at = ma.fields.AwareDateTime(allow_none=True)
    created_at = ma.fields.AwareDateTime()
    updated_at = ma.fields.AwareDateTime()


class DeviceFilterSchema(StrictSchema):
    state = ma.fields.String(validate=ma.validate.OneOf(STATES))
    role = ma.fields.String(validate=ma.validate.OneOf(ROLES))
    team = Id(strict=False, metadata={"description": "Team id."})
    service = Id(strict=False, metadata={"description": "Service id."})
    site = Identifier(validate=ma.validate.Length(max=120))
    q = Identifier(validate=ma.validate.Length(max=128), metadata={"description": "Part of a serial, model or asset tag."})


@blp.route("")
class DeviceCollection(MethodView):
    @token_required("provision", "station")
    @blp.arguments(DeviceRegistrationSchema)
    @blp.response(201, DeviceSchema, description="Registered now.")
    @blp.alt_response(200, schema=DeviceSchema, description="Already registered; facts refreshed.")
    def post(self, data):
        """Register a phone; registering the same serial again returns the same device."""
        device, created = devices.register_device(db.session, data, g.actor)
        db.session.commit()
        return device, (201 if created else 200)

    @token_required("provision", "agent")
    @blp.arguments(DeviceFilterSchema, location="query")
    @blp.response(200, DeviceSchema(many=True))
    @blp.paginate(SelectPage, max_page_size=MAX_PAGE_SIZE)
    def get(self, filters):
        """List devices, filtered by state, role, team, service, site or a search text."""
        return devices.device_query(
            state=filters.get("state"),
            role=filters.get("role"),
            team_id=filters.get("team"),
            service_id=filters.get("service"),
            site=filters.get("site"),
            q=filters.get("q"),
        )


@blp.route("/<string:serial>")
class DeviceBySerial(MethodView):
    @token_required("provision", "agent")
    @blp.response(200, DeviceSchema)
    def get(self, serial):
        """Read one device by its serial number."""
        return devices.get_by_serial(db.session, serial)


class PrecheckResultSchema(StrictSchema):
    rule = Identifier(required=True, validate=ma.validate.Length(max=64))
    outcome = ma.fields.String(required=True, validate=ma.validate.OneOf(OUTCOMES))
    severity = ma.fields.String(validate=ma.validate.OneOf(SEVERITIES))
    observed = Text(validate=ma.validate.Length(max=2000), allow_none=True)


class PrecheckSchema(StrictSchema):
    rules_version = Int64(minimum=1, allow_none=True, metadata={"description": "The rules version checked against."})
    results = ma.fields.List(ma.fields.Nested(PrecheckResultSchema), required=True,
                             validate=ma.validate.Length(max=precheck.MAX_RESULTS))


class PrecheckSummarySchema(ResponseSchema):
    checked = ma.fields.Integer()
    failing = ma.fields.List(ma.fields.String())
    blocking = ma.fields.List(ma.fields.String(), metadata={"description": "Failing rules that stop approval."})


@blp.route("/<string:serial>/precheck")
class DevicePrecheck(MethodView):
    @token_required("provision", "station")
    @blp.arguments(PrecheckSchema)
    @blp.response(200, PrecheckSummarySchema)
    def put(self, data, serial):
        """Replace the phone's pre-check: the device rules as just checked on the phone (every provision run)."""
        device = devices.get_by_serial(db.session, serial)
        rows = precheck.record_precheck(db.session, device, g.actor, data["results"], rules_version=data.get("rules_version"))
        summary = {"checked": len(rows), "failing": sorted(row.rule for row in rows if row.outcome == "fail"),
                   "blocking": [fact.rule for fact in precheck.blocking_failures(db.session, device)]}
        db.session.commit()
        return summary
