"""Acceptable-use policy versions, read-only over the API (publishing is `phonegate policy publish`).

GET /api/v1/policies/current -> 200 {"label", "sha256", "published_at", "text"}; 404 when none was published.
"""

from __future__ import annotations

from marshmallow import fields

from server.api.auth import token_required
from server.api.common import Blueprint, ResponseSchema
from server.extensions import db
from server.services.errors import NotFound
from server.services.policy import current_policy

blp = Blueprint("policies", __name__, url_prefix="/api/v1/policies", description="Acceptable-use policy versions")


class PolicySchema(ResponseSchema):
    label = fields.String(required=True)
    sha256 = fields.String(required=True)
    published_at = fields.DateTime(required=True)
    text = fields.String(required=True)


@blp.route("/current")
@token_required("provision", "agent")
@blp.response(200, PolicySchema)
def get_current():
    """The current acceptable-use policy version (the one managers confirm against)."""
    policy = current_policy(db.session)
    if policy is None:
        raise NotFound("No acceptable-use policy has been published yet.")
    return policy
