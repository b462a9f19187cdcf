"""Compliance API: rules versions, sweep plans, claims, result batches and finishing a sweep.

All endpoints need a bearer token with scope `agent`; publishing a rules version also needs the token's user to
be an admin. (The compliance YAML is the "rules"; `/compliance/policies...` are the old names of the
`/compliance/rules...` endpoints, kept working as aliases.) Bodies are JSON; unknown fields are refused (400). Times are ISO 8601 with a zone.

Contract with the sweep agent (device_agent/sweep.py):

GET  /api/v1/compliance/rules/current
     -> 200 {"version": int, "document": str (YAML), "comment": str|null, "created_at": datetime}
        404 when no version was ever published (the agent then uses its packaged default document).
GET  /api/v1/compliance/rules            -> 200 [{"version", "comment", "created_at"}] newest first (paginated)
GET  /api/v1/compliance/rules/<version>  -> 200 {"version", "document", "comment", "created_at"}
POST /api/v1/compliance/rules {"document": str (YAML), "comment"?: str}
     -> 201 {"version", "document", "comment", "created_at"}; 400 when the document does not parse/validate
        (errors: {"document": [...]}); 403 when the token's user is not an admin.

POST /api/v1/sweeps {"sweep_id": uuid (chosen by the client), "source": "cli"|"scheduler"|"celery", "site"?: str|null}
     -> 201 (created) or 200 (already existed; same plan again, so a retried create is harmless):
        {"sweep_id": str, "created": bool, "started_at": datetime,
         "rules": {"version": int|null, "document": str},
         "devices": [{"serial": str, "endpoint": "host:port", "site": str|null, "role": "individual"|"broadcast",
                      "state": "approved"|"provisioned"|"suspended"|"registered"|"pending_approval",
                      "model": str|null, "build_fingerprint": str|null, "security_patch": "YYYY-MM-DD"|null,
                      "approved_apps": [{"package": str, "signer_sha256": [hex, ...], "min_version_code": int,
                                            "signer_certificates": [base64 DER, ...]}],
                      "lab_phone": bool (a lab or dock phone: no_network_adb does not apply)}]}
        Devices are phones with an ADB endpoint (and at `site` when given). Registered/pending phones are included
        so an install that was never approved is found; their approved_apps list is still what their role would get.

POST /api/v1/sweeps/<sweep_id>/claims {"serials": [str, ...], "worker": str}
     -> 200 {"granted": [serials this worker now owns], "refused": [serials someone else claimed or unknown]}
        A phone is granted to one worker per sweep, ever (primary key on (sweep, device)); asking again for a phone
        you already hold returns it as granted again (so a retried claim is harmless).

POST /api/v1/sweeps/<sweep_id>/results
     {"results": [{"serial": str, "rule": str, "outcome": "pass"|"fail"|"error"|"not_applicable",
                   "severity": "low"|"medium"|"high"|"critical", "observed": str|null, "evidence": {...},
                   "checked_at": datetime}],
      "devices": [{"serial": str, "facts_summary": {"manufacturer", "model", "android_release", "sdk",
                   "security_patch", "build_fingerprint"} (all optional), "seen_at": datetime,
                   "checked_in_site"?: str (a check-in station's site, for a phone plugged into it)}]}
     -> 200 {"stored": int (new rows), "duplicates": int (already stored: re-delivered batch), "unknown_serials": [str]}
        Idempotent per (sweep, device, rule): sending the same batch twice stores it once. 409 if the sweep is finished.
        Up to 20,000 results per batch.

POST /api/v1/sweeps/<sweep_id>/finish {} (or no body)
     -> 200 {"sweep_id", "finished_at", "rules_version", "device_count", "counts": {"compliant", "in_grace",
             "non_compliant", "unknown"}, "non_compliant": [serials], "in_grace": [{"serial", "until"}],
             "actions": {"manager_emails": int, "escalation_emails": int, "suspended": [serials], "holder_emails": int},
             "already_finished": bool}
        Computes each phone's state (including the server-side rules acknowledgement_current, training_current and
        seen_recently), runs the rule actions, and updates the daily summaries. Finishing twice runs actions once.
GET  /api/v1/sweeps/<sweep_id> -> 200 the same summary (counts as of now), or 404.
(<sweep_id> is a UUID in every path; anything else is 404.)
"""

from __future__ import annotations

import json
import uuid

from flask import g
from marshmallow import ValidationError, fields, validate

from server.api.auth import token_required
from server.api.common import Blueprint, ResponseSchema, StrictSchema
from server.api.fields import Document, Facts, Identifier, ReportedTime, Text
from server.extensions import db
from server.models import ComplianceRulesVersion
from server.services.compliance import ingest
from server.services.compliance import rules as rules_versions
from server.services.compliance.sweeps import finish_sweep, sweep_summary
from server.services.errors import NotFound

blp = Blueprint("compliance", __name__, url_prefix="/api/v1", description="Compliance rules, sweeps and results")

SERIAL = validate.Length(min=1, max=128)
MAX_BATCH = 20_000
EVIDENCE_MAX_CHARS = 16_384


# --- rules versions -------------------------------------------------------------------------------------------
class RulesVersionInputSchema(StrictSchema):
    document = Document(required=True, validate=validate.Length(min=1, max=rules_versions.DOCUMENT_MAX_CHARS))
    comment = Text(load_default=None, allow_none=True, validate=validate.Length(max=500))


class RulesVersionSchema(ResponseSchema):
    version = fields.Integer()
    document = fields.String()
    comment = fields.String(allow_none=True)
    created_at = fields.DateTime()


class RulesVersionSummarySchema(ResponseSchema):
    version = fields.Integer()
    comment = fields.String(allow_none=True)
    created_at = fields.DateTime()


@blp.route("/compliance/rules/current")
@blp.route("/compliance/policies/current", endpoint="current_rules_version_alias")
@blp.response(200, RulesVersionSchema)
@token_required("agent", "provision", "station")
def current_rules_version():
    """The compliance rules the next sweep will use (provisioning checks a phone against them before approval)."""
    row = rules_versions.current_version(db.session)
    if row is None:
        raise NotFound("No compliance rules have been published yet; the first sweep publishes the packaged default.")
    return row


@blp.route("/compliance/rules")
@blp.route("/compliance/policies", endpoint="list_rules_versions_alias")
@blp.response(200, RulesVersionSummarySchema(many=True))
@blp.paginate()
@token_required("agent")
def list_rules_versions(pagination_parameters):
    """Every version of the compliance rules, newest first."""
    query = rules_versions.list_versions(db.session)
    pagination_parameters.item_count = db.session.scalar(
        query.with_only_columns(db.func.count()).order_by(None)) or 0
    return db.session.scalars(query.offset(pagination_parameters.first_item).limit(pagination_parameters.page_size)).all()


@blp.route("/compliance/rules/<int:version>")
@blp.route("/compliance/policies/<int:version>", endpoint="get_rules_version_alias")
@blp.response(200, RulesVersionSchema)
@token_required("agent")
def get_rules_version(version: int):
    row = rules_versions.get_version(db.session, version)
    if row is None:
        raise NotFound(f"There is no compliance rules version {version}.")
    return row


@blp.route("/compliance/rules", methods=["POST"])
@blp.route("/compliance/policies", methods=["POST"], endpoint="publish_rules_version_alias")
@blp.arguments(RulesVersionInputSchema)
@blp.response(201, RulesVersionSchema)
@token_required("agent")
def publish_rules_version(data):
    """Publish a new version of the compliance rules (administrators only; validated before it is stored)."""
    row = rules_versions.publish_version(db.session, data["document"], g.actor, comment=data.get("comment"))
    db.session.commit()
    return row


# --- sweeps ---------------------------------------------------------------------------------------------------
class StartSweepSchema(StrictSchema):
    sweep_id = fields.UUID(required=True)
    source = fields.String(required=True, validate=validate.OneOf(ingest.SOURCES))
    site = Identifier(load_default=None, allow_none=True, validate=validate.Length(max=120))


class ApprovedAppSchema(ResponseSchema):
    package = fields.String()
    signer_sha256 = fields.List(fields.String())
    min_version_code = fields.Integer(allow_none=True)
    signer_certificates = fields.List(fields.String())  # base64 DER: dumpsys shows only a hash of each signer


class PlannedDeviceSchema(ResponseSchema):
    device_id = fields.Integer()
    serial = fields.String()
    endpoint = fields.String()
    site = fields.String(allow_none=True)
    role = fields.String()
    state = fields.String()
    model = fields.String(allow_none=True)
    build_fingerprint = fields.String(allow_none=True)
    security_patch = fields.Date(allow_none=True)
    approved_apps = fields.List(fields.Nested(ApprovedAppSchema))
    lab_phone = fields.Boolean()  # registered as a lab or dock phone: the agent skips no_network_adb


class PlanRulesSchema(ResponseSchema):
    version = fields.Integer(allow_none=True)
    document = fields.String()


class SweepPlanSchema(ResponseSchema):
    sweep_id = fields.String()
    created = fields.Boolean()
    started_at = fields.DateTime()
    rules = fields.Nested(PlanRulesSchema)
    devices = fields.List(fields.Nested(PlannedDeviceSchema))


@blp.route("/sweeps", methods=["POST"])
@blp.arguments(StartSweepSchema)
@blp.response(201, SweepPlanSchema, description="Sweep created.")
@blp.alt_response(200, schema=SweepPlanSchema, description="That sweep already existed: the same plan again.")
@token_required("agent", "station")
def start_sweep(data):
    """Create a sweep (idempotent by its client-chosen id) and return what to check, under which rules."""
    sweep, created = ingest.start_sweep(db.session, str(data["sweep_id"]), data["source"], g.actor)
    version = db.session.get(ComplianceRulesVersion, sweep.rules_version_id)
    plan = {
        "sweep_id": sweep.id,
        "created": created,
        "started_at": sweep.started_at,
        "rules": {"version": version.version if version else None,
                  "document": version.document if version else rules_versions.default_document()},
        "devices": ingest.plan_devices(db.session, data.get("site")),
    }
    db.session.commit()
    return plan, (201 if created else 200)


class ClaimSchema(StrictSchema):
    serials = fields.List(Identifier(required=True, validate=SERIAL), required=True,
                          validate=validate.Length(min=1, max=MAX_BATCH))
    worker = Identifier(required=True, validate=validate.Length(max=128))


class ClaimResultSchema(ResponseSchema):
    granted = fields.List(fields.String())
    refused = fields.List(fields.String())


@blp.route("/sweeps/<uuid:sweep_id>/claims", methods=["POST"])
@blp.arguments(ClaimSchema)
@blp.response(200, ClaimResultSchema)
@token_required("agent", "station")
def claim(data, sweep_id: uuid.UUID):
    """Take phones for this worker; a phone is granted to one worker per sweep."""
    sweep = ingest.get_sweep(db.session, str(sweep_id))
    granted, refused = ingest.claim_devices(db.session, sweep, data["serials"], data["worker"])
    db.session.commit()
    return {"granted": granted, "refused": refused}


def _evidence_size(value: dict) -> None:
    # Evidence is kept for the retention period beside every result: a runaway agent must not fill the database.
    if len(json.dumps(value, default=str)) > EVIDENCE_MAX_CHARS:
        raise ValidationError(f"Evidence is larger than {EVIDENCE_MAX_CHARS} characters as JSON.")


class ResultSchema(StrictSchema):
    serial = Identifier(required=True, validate=SERIAL)
    rule = Identifier(required=True, validate=validate.Length(max=64))
    outcome = fields.String(required=True, validate=validate.OneOf(("pass", "fail", "error", "not_applicable")))
    severity = fields.String(load_default="medium", validate=validate.OneOf(("low", "medium", "high", "critical")))
    # What the phone showed: stored with its control characters escaped (server/api/fields.py).
    observed = Text(load_default=None, allow_none=True, validate=validate.Length(max=2000))
    evidence = Facts(load_default=dict, validate=_evidence_size)
    checked_at = ReportedTime(required=True)


class SightingSchema(StrictSchema):
    serial = Identifier(required=True, validate=SERIAL)
    facts_summary = Facts(load_default=dict)
    seen_at = ReportedTime(required=True)
    # Set by a check-in station for a phone plugged into it: the phone checked in at that site.
    checked_in_site = Identifier(load_default=None, allow_none=True, validate=validate.Length(max=120))


class ResultBatchSchema(StrictSchema):
    # Nested(many=True): one schema load for the whole list, several times faster than List(Nested) per item.
    results = fields.Nested(ResultSchema, many=True, load_default=list, validate=validate.Length(max=MAX_BATCH))
    devices = fields.Nested(SightingSchema, many=True, load_default=list, validate=validate.Length(max=MAX_BATCH))


class StoredSchema(ResponseSchema):
    stored = fields.Integer()
    duplicates = fields.Integer()
    unknown_serials = fields.List(fields.String())


@blp.route("/sweeps/<uuid:sweep_id>/results", methods=["POST"])
@blp.arguments(ResultBatchSchema)
@blp.response(200, StoredSchema)
@token_required("agent", "station")
def store_results(data, sweep_id: uuid.UUID):
    """Store a batch of results; a batch delivered twice is stored once."""
    sweep = ingest.get_sweep(db.session, str(sweep_id))
    outcome = ingest.store_results(db.session, sweep, data["results"], data["devices"])
    db.session.commit()
    return outcome


class FinishSchema(StrictSchema):
    pass


class GraceSchema(ResponseSchema):
    serial = fields.String()
    until = fields.DateTime(allow_none=True)


class ActionsSchema(ResponseSchema):
    manager_emails = fields.Integer()
    escalation_emails = fields.Integer()
    suspended = fields.List(fields.String())
    holder_emails = fields.Integer()


class SummarySchema(ResponseSchema):
    sweep_id = fields.String()
    source = fields.String()
    started_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    rules_version = fields.Integer(allow_none=True)
    device_count = fields.Integer()
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    non_compliant = fields.List(fields.String())
    in_grace = fields.List(fields.Nested(GraceSchema))
    actions = fields.Nested(ActionsSchema)
    already_finished = fields.Boolean()


@blp.route("/sweeps/<uuid:sweep_id>/finish", methods=["POST"])
@blp.arguments(FinishSchema, required=False)
@blp.response(200, SummarySchema)
@token_required("agent", "station")
def finish(data, sweep_id: uuid.UUID):
    """Decide every phone's state, run the rules' actions (mail, escalation, suspension), and summarise."""
    summary = finish_sweep(db.session, str(sweep_id), g.actor)
    db.session.commit()
    return summary


@blp.route("/sweeps/<uuid:sweep_id>")
@blp.response(200, SummarySchema)
@token_required("agent")
def get_sweep(sweep_id: uuid.UUID):
    sweep = ingest.get_sweep(db.session, str(sweep_id))
    return sweep_summary(db.session, sweep, already_finished=sweep.finished_at is not None)
