"""Spot checks over the API: what `phonegate spot-check` reads from a plugged-in phone, and where it sends it.

Both endpoints need a bearer token with scope `agent`: a snapshot is an observation of a phone, as a sweep's
results are (a `provision` token could also register phones and take install grants: more than this needs).

GET  /api/v1/spot-checks/open?serial=S
     -> 200 {"spot_check_id": int, "serial": str, "bring_by": date, "status": "requested"|"evidence_recorded",
             "rules": {"version": int|null, "document": str}, "device": <a sweep plan's device>}
        404 when the phone is unknown or has no open spot check (the message says what to do).
POST /api/v1/spot-checks/<id>/evidence  <SnapshotSchema>
     -> 201 {"spot_check_id", "status", "evidence_recorded_at", "url"}
        400 bad snapshot (every field and list is bounded), 403 the phone read is not this spot check's phone,
        404 no such spot check, 409 already completed. Sending it again before completion replaces it.
Text in a snapshot is what a phone said (untrusted): it is stored as JSON and shown escaped, never run.
"""

from __future__ import annotations

from flask import g
from marshmallow import fields, post_load, validate

from phonegate.core.chat.export_names import withheld_name
from server.api import fields as checked
from server.api.auth import token_required
from server.api.common import Blueprint, ResponseSchema, StrictSchema
from server.api.compliance import PlannedDeviceSchema, PlanRulesSchema
from server.extensions import db
from server.services.spot_checks import evidence
from server.settings import public_root

blp = Blueprint("spot_checks", __name__, url_prefix="/api/v1", description="Spot checks: evidence from a plugged-in phone")

OUTCOMES = ("pass", "fail", "error", "not_applicable")
SEVERITIES = ("low", "medium", "high", "critical")
SHORT = validate.Length(max=128)
MAX_FILES = 200


def _text(limit: int, **kwargs) -> checked.Text:  # type: ignore[no-untyped-def]
    """What the phone said (untrusted): stored with control and escape characters escaped."""
    return checked.Text(allow_none=True, load_default=None, validate=validate.Length(max=limit), **kwargs)


def _count(**kwargs) -> checked.Int64:  # type: ignore[no-untyped-def]
    return checked.Int64(minimum=0, maximum=10**12, allow_none=True, load_default=None, **kwargs)


def _texts(limit: int, most: int, **kwargs) -> fields.List:  # type: ignore[no-untyped-def]
    return fields.List(checked.Text(validate=validate.Length(max=limit)), validate=validate.Length(max=most), **kwargs)


class OpenQuerySchema(StrictSchema):
    serial = checked.Identifier(required=True, validate=validate.Length(min=1, max=128))


class OpenSpotCheckSchema(ResponseSchema):
    spot_check_id = fields.Integer()
    serial = fields.String()
    bring_by = fields.Date()
    status = fields.String()
    rules = fields.Nested(PlanRulesSchema)
    device = fields.Nested(PlannedDeviceSchema)


class RootSchema(StrictSchema):
    su_paths = _texts(255, 20, allow_none=True, load_default=None)
    test_keys = fields.Boolean(allow_none=True, load_default=None)
    debuggable = fields.Boolean(allow_none=True, load_default=None)
    verified_boot_state = _text(16)
    bootloader_locked = fields.Boolean(allow_none=True, load_default=None)


class MessagingAppSchema(StrictSchema):
    package = checked.Identifier(required=True, validate=validate.Length(min=1, max=255))
    version_name = _text(64)
    version_code = _count()


class FactsSummarySchema(StrictSchema):
    collected_at = checked.ReportedTime(required=True)
    manufacturer = _text(128)
    model = _text(128)
    android_release = _text(32)
    sdk = checked.Int64(minimum=0, maximum=1000, allow_none=True, load_default=None)
    security_patch = fields.Date(allow_none=True, load_default=None)
    build_fingerprint = _text(512)
    encrypted = fields.Boolean(allow_none=True, load_default=None)
    secure_lock = fields.Boolean(allow_none=True, load_default=None)
    root = fields.Nested(RootSchema, required=True)
    account_types = _texts(255, 50, allow_none=True, load_default=None)
    packages = _count()
    messaging_apps = fields.List(fields.Nested(MessagingAppSchema), load_default=list, validate=validate.Length(max=20))


class ComplianceRunSchema(StrictSchema):
    rule = checked.Identifier(required=True, validate=validate.Length(min=1, max=64))
    outcome = fields.String(required=True, validate=validate.OneOf(OUTCOMES))
    severity = fields.String(allow_none=True, load_default=None, validate=validate.OneOf(SEVERITIES))
    observed = checked.Text(required=True, validate=validate.Length(max=1000))


class MediaFolderSchema(StrictSchema):
    folder = checked.Text(required=True, validate=validate.Length(min=1, max=200))
    files = checked.Int64(minimum=0, maximum=10**9, required=True)
    oldest_age_days = _count()
    newest_age_days = _count()
    older_than_limit = checked.Int64(minimum=0, maximum=10**9, required=True)


class StoredFileSchema(StrictSchema):
    folder = checked.Text(required=True, validate=validate.Length(min=1, max=300))
    name = checked.Text(required=True, validate=validate.Length(min=1, max=255))
    age_days = _count()
    size_bytes = _count()


class ExportFileSchema(StoredFileSchema):
    @post_load
    def withhold_the_chat_name(self, data, **kwargs):  # type: ignore[no-untyped-def]
        """The agent already withholds it; the server does too, so no client can store a chat's name here."""
        data["name"] = withheld_name(data["name"])
        return data


class WhatsAppStorageSchema(StrictSchema):
    media = fields.List(fields.Nested(MediaFolderSchema), required=True, validate=validate.Length(max=MAX_FILES))
    media_limit_days = _count()
    backups = fields.List(fields.Nested(StoredFileSchema), required=True, validate=validate.Length(max=MAX_FILES))
    exports = fields.List(fields.Nested(ExportFileSchema), required=True, validate=validate.Length(max=MAX_FILES))
    google_account_present = fields.Boolean(allow_none=True, load_default=None)


class SnapshotSchema(StrictSchema):
    serial = checked.Identifier(required=True, validate=validate.Length(min=1, max=128))
    rules_version = checked.Id(allow_none=True, load_default=None)
    facts = fields.Nested(FactsSummarySchema, required=True)
    compliance = fields.List(fields.Nested(ComplianceRunSchema), required=True, validate=validate.Length(max=100))
    whatsapp = fields.Nested(WhatsAppStorageSchema, required=True)
    problems = _texts(300, 50, load_default=list)


class EvidenceRecordedSchema(ResponseSchema):
    spot_check_id = fields.Integer()
    status = fields.String()
    evidence_recorded_at = fields.DateTime()
    url = fields.String()


@blp.route("/spot-checks/open")
@blp.arguments(OpenQuerySchema, location="query")
@blp.response(200, OpenSpotCheckSchema)
@token_required("agent")
def open_spot_check(query):
    """The phone's open spot check, with the rules and expectations to read it against."""
    return evidence.agent_plan(db.session, evidence.open_for_serial(db.session, query["serial"]))


@blp.route("/spot-checks/<int:spot_check_id>/evidence", methods=["POST"])
@blp.arguments(SnapshotSchema)
@blp.response(201, EvidenceRecordedSchema)
@token_required("agent")
def record_evidence(snapshot, spot_check_id: int):
    """Store the evidence snapshot read from the phone on its open spot check."""
    spot_check = evidence.record_evidence(db.session, spot_check_id, SnapshotSchema().dump(snapshot), g.actor)
    db.session.commit()
    return {"spot_check_id": spot_check.id, "status": spot_check.status,
            "evidence_recorded_at": spot_check.evidence_recorded_at, "url": f"{public_root()}/spot-checks/{spot_check.id}"}
