"""Compliance pages for people: per-team state, who is failing what, a phone's history, the trend, CSV exports,
and (administrators) the compliance rules' versions.

Managers see their own team (and their service's Broadcast phones); administrators and auditors see all.
The reading rules come from server.services.access, so these pages and the rest of the site agree on who sees what.
"""

from __future__ import annotations

from flask import Blueprint

compliance_bp = Blueprint("compliance_web", __name__, url_prefix="/compliance", template_folder="templates")

from server.web.compliance import views  # noqa: E402,F401  (adds the routes)
