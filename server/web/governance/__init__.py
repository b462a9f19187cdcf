"""Information-governance pages: spot checks and their follow-ups, information incidents, and the conversation
review aid (a chat export scanned in memory; only the review record is kept).

Managers see and act for their own team (and their service's Broadcast phone); information governance (auditors)
and administrators see everything, and move incidents along. Who may do what is server.services.access; the
services refuse (and audit) whatever a forged form tries, so the views only choose what to show.
"""

from __future__ import annotations

from flask import Blueprint

governance_bp = Blueprint("governance", __name__, template_folder="templates")

from server.web.governance import follow_ups, incidents, reviews, spot_checks  # noqa: E402,F401  (add the routes)
