"""/api/v1/enrolments: IT asks for a phone to be enrolled (for a staff member or as a Broadcast phone),
then polls the request until a manager has decided."""

from __future__ import annotations

import marshmallow as ma
from flask import g
from flask.views import MethodView
from sqlalchemy import select

from server.api.auth import token_required
from server.api.common import MAX_PAGE_SIZE, Blueprint, ResponseSchema, SelectPage, StrictSchema
from server.api.fields import Identifier, Text
from server.extensions import db
from server.models import Device, EnrolmentRequest, EnrolmentStatus
from server.services import devices, enrolment, org, people
from server.services.errors import InvalidInput, NotFound

blp = Blueprint(
    "enrolments", __name__, url_prefix="/api/v1/enrolments", description="Requests to enrol a phone, and decisions."
)

_FIELD_OF = {"staff": "staff_email", "service": "broadcast_service"}
STATUSES = [status.value for status in EnrolmentStatus]


class EnrolmentCreateSchema(StrictSchema):
    serial = Identifier(required=True, validate=ma.validate.Length(max=128))
    staff_email = Identifier(validate=ma.validate.Length(max=254), metadata={"description": "For an individual phone."})
    broadcast_service = Identifier(
        validate=ma.validate.Length(max=120), metadata={"description": "Service name, for its Broadcast phone."}
    )
    reassign = ma.fields.Boolean(load_default=False, metadata={
        "description": "The phone belongs to someone else and is to move: the manager approves a reassignment."})
    reason = Text(validate=ma.validate.Length(max=enrolment.REASON_MAX), metadata={
        "description": "Why the phone moves (required with reassign)."})

    @ma.validates_schema
    def one_purpose(self, data, **kwargs):
        if ("staff_email" in data) == ("broadcast_service" in data):
            raise ma.ValidationError("Give exactly one of staff_email or broadcast_service.", "staff_email")
        if "reason" in data and not data.get("reassign"):
            raise ma.ValidationError("A reason is given only with reassign.", "reason")


class EnrolmentSchema(ResponseSchema):
    id = ma.fields.Integer()
    device_id = ma.fields.Integer()
    serial = ma.fields.String(attribute="device.serial")
    role = ma.fields.String()
    status = ma.fields.String()
    staff_member_id = ma.fields.Integer(allow_none=True)
    team_id = ma.fields.Integer(allow_none=True)
    service_id = ma.fields.Integer()
    requested_by_id = ma.fields.Integer()
    requested_at = ma.fields.AwareDateTime()
    decided_at = ma.fields.AwareDateTime(allow_none=True)
    decision_reason = ma.fields.String(allow_none=True)
    device_state = ma.fields.String(attribute="device.state")
    reassignment = ma.fields.Boolean(attribute="is_reassignment")
    previous_role = ma.fields.String(allow_none=True)
    previous_staff_member_id = ma.fields.Integer(allow_none=True)
    previous_service_id = ma.fields.Integer(allow_none=True)


class EnrolmentFilterSchema(StrictSchema):
    status = ma.fields.String(validate=ma.validate.OneOf(STATUSES))
    serial = Identifier(validate=ma.validate.Length(max=128))


@blp.route("")
class EnrolmentCollection(MethodView):
    @token_required("provision")
    @blp.arguments(EnrolmentCreateSchema)
    @blp.response(201, EnrolmentSchema, description="Request opened.")
    @blp.alt_response(200, schema=EnrolmentSchema, description="The same request was already open.")
    def post(self, data):
        """Ask for a registered phone to be enrolled; asking again returns the open request."""
        device = devices.get_by_serial(db.session, data["serial"])
        moving = {"reassign": data["reassign"], "reason": data.get("reason")}
        try:
            if "staff_email" in data:
                staff = people.staff_by_email(db.session, data["staff_email"])
                request, created = enrolment.request_enrolment(db.session, device, g.actor, staff_member=staff, **moving)
            else:
                service = org.service_by_name(db.session, data["broadcast_service"])
                request, created = enrolment.request_enrolment(db.session, device, g.actor, broadcast_service=service,
                                                               **moving)
        except NotFound as exc:  # a name in the body that matches nothing is bad input, not a missing URL
            raise InvalidInput(exc.message, errors={_FIELD_OF.get(k, k): v for k, v in exc.errors.items()}) from None
        db.session.commit()
        return request, (201 if created else 200)

    @token_required("provision")
    @blp.arguments(EnrolmentFilterSchema, location="query")
    @blp.response(200, EnrolmentSchema(many=True))
    @blp.paginate(SelectPage, max_page_size=MAX_PAGE_SIZE)
    def get(self, filters):
        """List enrolment requests, newest first."""
        query = select(EnrolmentRequest).order_by(EnrolmentRequest.id.desc())
        if "status" in filters:
            query = query.where(EnrolmentRequest.status == filters["status"])
        if "serial" in filters:
            query = query.join(Device, EnrolmentRequest.device_id == Device.id).where(Device.serial == filters["serial"])
        return query


MAX_TARGETS = 500  # provisioning/plan.py's MAX_PLAN_ROWS


class TargetCheckSchema(StrictSchema):
    staff_emails = ma.fields.List(Identifier(validate=ma.validate.Length(max=254)), load_default=list,
                                  validate=ma.validate.Length(max=MAX_TARGETS))
    broadcast_services = ma.fields.List(Identifier(validate=ma.validate.Length(max=120)), load_default=list,
                                        validate=ma.validate.Length(max=MAX_TARGETS))

    @ma.validates_schema
    def no_blank_entries(self, data, **kwargs):
        # A blank string inside a list loads as `missing` (fields.Identifier): refuse it rather than look it up.
        for name in ("staff_emails", "broadcast_services"):
            if any(not isinstance(entry, str) for entry in data.get(name, [])):
                raise ma.ValidationError("Must not hold an empty entry.", field_name=name)


class UnknownTargetsSchema(ResponseSchema):
    unknown_staff_emails = ma.fields.List(ma.fields.String())
    inactive_staff_emails = ma.fields.List(ma.fields.String())
    unknown_broadcast_services = ma.fields.List(ma.fields.String())


@blp.route("/targets/check")
class EnrolmentTargetCheck(MethodView):
    @token_required("provision")
    @blp.arguments(TargetCheckSchema)
    @blp.response(200, UnknownTargetsSchema)
    def post(self, data):
        """Which of these staff e-mails and service names match nobody, and which staff members are no longer
        active (reads only: `provision` checks its phone's holder, and `provision --plan` every row, before it
        touches anything). A POST only so that the addresses stay out of URLs and logs."""
        return {"unknown_staff_emails": people.unknown_staff_emails(db.session, data["staff_emails"]),
                "inactive_staff_emails": people.inactive_staff_emails(db.session, data["staff_emails"]),
                "unknown_broadcast_services": org.unknown_service_names(db.session, data["broadcast_services"])}


@blp.route("/<int:request_id>")
class EnrolmentById(MethodView):
    @token_required("provision")
    @blp.response(200, EnrolmentSchema)
    def get(self, request_id):
        """Read one request (poll this until its status is no longer pending)."""
        return enrolment.get_request(db.session, request_id)
