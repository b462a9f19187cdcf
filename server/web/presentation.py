"""What every template can use: the signed-in user, the menu for their role, and display filters."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from flask import Flask, current_app, request, url_for

from server.models import DeviceState, Role

ROLE_NAMES = {
    Role.ADMIN.value: "administrator",
    Role.MANAGER.value: "team manager",
    Role.IT.value: "IT",
    Role.AUDITOR.value: "auditor",
}

# GOV.UK tag colours: grey = not started, blue = waiting, green = good, red = stopped, and so on.
STATE_TAGS = {
    DeviceState.REGISTERED.value: ("Registered", "govuk-tag--grey"),
    DeviceState.PENDING_APPROVAL.value: ("Waiting for approval", "govuk-tag--blue"),
    DeviceState.APPROVED.value: ("Approved", "govuk-tag--turquoise"),
    DeviceState.PROVISIONED.value: ("Provisioned", "govuk-tag--green"),
    DeviceState.REJECTED.value: ("Rejected", "govuk-tag--red"),
    DeviceState.SUSPENDED.value: ("Suspended", "govuk-tag--orange"),
    DeviceState.RETIRED.value: ("Retired", "govuk-tag--grey"),
    "pending": ("Pending", "govuk-tag--blue"),
    "approved": ("Approved", "govuk-tag--green"),
    "rejected": ("Rejected", "govuk-tag--red"),
    "cancelled": ("Cancelled", "govuk-tag--grey"),
    "compliant": ("Compliant", "govuk-tag--green"),
    "in_grace": ("In grace period", "govuk-tag--yellow"),
    "non_compliant": ("Non-compliant", "govuk-tag--red"),
    "unknown": ("Not checked yet", "govuk-tag--grey"),
}

# (endpoint, label, endpoint prefixes that mark it active). Who sees a link is not decided here: a link shows only
# when the role may open its page, read from the page's own login_required (whose roles come from services/access).
MENU = (
    ("pages.dashboard", "Dashboard", ("pages.dashboard",)),
    ("pages.requests", "Requests", ("pages.request",)),
    ("pages.devices", "Phones", ("pages.device",)),
    ("compliance_web.index", "Compliance", ("compliance",)),
    ("pages.broadcast", "Broadcast", ("pages.broadcast",)),
    ("pages.staff", "Staff", ("pages.staff", "pages.reconfirm")),
    ("governance.spot_checks", "Spot checks",
     ("governance.spot_check", "governance.new_spot_check", "governance.start_spot_check", "governance.draw_sample")),
    ("governance.reviews", "Chat reviews", ("governance.review", "governance.new_review", "governance.upload_review")),
    ("governance.incidents_list", "Incidents", ("governance.incident", "governance.new_incident",
                                                "governance.report_incident")),
    ("pages.policies", "Policy", ("pages.polic",)),
    ("pages.catalogue", "App catalogue", ("pages.catalogue",)),
    ("pages.users", "Users", ("pages.user",)),
    ("pages.audit_log", "Audit log", ("pages.audit",)),
)


def compliance_url() -> str | None:
    """The compliance pages (another part's blueprint), if they are installed in this app."""
    if "compliance_web" in current_app.blueprints or "compliance" in current_app.blueprints:
        for endpoint in ("compliance_web.index", "compliance_web.team", "compliance.index", "compliance.team"):
            if endpoint in current_app.view_functions:
                return url_for(endpoint)
    return None


def may_open(user, endpoint: str) -> bool:
    """Whether `user`'s role passes the page's login_required: the server's own check, so links and refusals agree."""
    view = current_app.view_functions.get(endpoint)
    if view is None or user is None:
        return False
    roles = getattr(view, "required_roles", ())
    return not roles or user.role in roles


def _menu(user) -> list[dict[str, Any]]:
    if user is None:
        return []
    current = request.endpoint or ""
    return [{"href": url_for(endpoint), "text": label, "active": current.startswith(prefixes)}
            for endpoint, label, prefixes in MENU if may_open(user, endpoint)]


def _context() -> dict[str, Any]:
    from server.http_security import csp_nonce
    from server.web.auth import current_user

    user = current_user()
    return {
        "signed_in_user": user,
        "nav_items": _menu(user),
        "council_name": current_app.config["PHONEGATE"].council_name,
        "role_names": ROLE_NAMES,
        "cspNonce": csp_nonce(),
    }


def when(value: datetime | None) -> str:
    if value is None:
        return "–"
    value = value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return f"{value.day} {value:%b %Y %H:%M} UTC"


def day(value: date | None) -> str:
    if value is None:
        return "–"
    return f"{value.day} {value:%B %Y}"


def state_tag(value: str | None) -> dict[str, str]:
    text, classes = STATE_TAGS.get(value or "", ((value or "unknown").replace("_", " ").capitalize(), "govuk-tag--grey"))
    return {"text": text, "classes": classes}


def init_app(app: Flask) -> None:
    app.context_processor(_context)
    app.add_template_filter(when, "when")
    app.add_template_filter(day, "day")
    app.add_template_global(state_tag, "state_tag")
    app.add_template_global(compliance_url, "compliance_url")
    app.add_template_global(may_open, "may_open")
