"""The pages blueprint: one module per area (dashboard, requests, phones, broadcast, policy, catalogue, staff)."""

from __future__ import annotations

from flask import Blueprint

pages_bp = Blueprint("pages", __name__)

# Imported for their routes, which they add to pages_bp.
from server.web.views import (  # noqa: E402,F401
    audit_log,
    broadcast,
    catalogue,
    dashboard,
    devices,
    policies,
    reacknowledgements,
    requests,
    staff,
    user_admin,
)
