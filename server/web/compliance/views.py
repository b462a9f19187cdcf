"""Routes of the compliance pages (thin: scoping from services/access.py, figures from services/compliance/reports.py)."""

from __future__ import annotations

from datetime import timedelta

from flask import Response, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import Select, select

from server.extensions import db
from server.models import ComplianceRulesVersion, Device, Role, Team, utcnow
from server.services import access
from server.services.actor import Actor
from server.services.compliance import reports
from server.services.compliance import rules as rules_versions
from server.services.compliance.server_rules import KNOWN_RULES
from server.services.errors import InvalidInput
from server.web.auth import current_user, login_required
from server.web.compliance import compliance_bp
from server.web.compliance.chart import LABELS, render_trend_svg
from server.web.compliance.csv_export import csv_response

READERS = access.COMPLIANCE_READER_ROLES
TREND_DAYS = {"30": 30, "90": 90, "365": 365}


def _team_or_404(team_id: int) -> Team:
    team = db.get_or_404(Team, team_id)
    if not access.can_see_team(current_user(), team):
        abort(403)  # a manager sees their own team only
    return team


def _team_devices(team: Team) -> Select:
    return access.team_devices_query(current_user(), team)


def _trend_days() -> int:
    return TREND_DAYS.get(request.args.get("days", "365"), 365)


@compliance_bp.route("/")
@login_required(*READERS)
def index():
    user = current_user()
    if user.role == Role.MANAGER.value:
        return redirect(url_for("compliance_web.team", team_id=user.team_id))
    devices = access.devices_query(user)
    days = _trend_days()
    points = reports.trend(db.session, days=days, today=utcnow().date())  # admins and auditors see every phone
    return render_template(
        "compliance/index.html",
        counts=reports.state_counts(db.session, devices),
        teams=reports.counts_by_team(db.session, devices),
        chart=render_trend_svg(points, title=f"Compliance of all phones over the last {days} days"),
        points=points, days=days, labels=LABELS,
    )


@compliance_bp.route("/teams/<int:team_id>")
@login_required(*READERS)
def team(team_id: int):
    team = _team_or_404(team_id)
    devices = _team_devices(team)
    days = _trend_days()
    points = reports.trend(db.session, team_id=team.id, days=days, today=utcnow().date())
    return render_template(
        "compliance/team.html",
        team=team,
        counts=reports.state_counts(db.session, devices),
        failing=reports.failing(db.session, devices),
        failing_total=reports.failing_count(db.session, devices),
        check_ins=_check_ins_due(devices),
        limit=reports.FAILING_LIST_LIMIT,
        chart=render_trend_svg(points, title=f"Compliance of {team.name}'s phones over the last {days} days"),
        points=points, days=days, labels=LABELS,
    )


def _check_ins_due(devices: Select) -> list:
    from server.services.compliance.check_in import due_phones

    version = rules_versions.current_version(db.session)
    rules = rules_versions.consequences(version.document if version is not None else rules_versions.default_document())
    return due_phones(db.session, reports.visible_ids(devices), rules, utcnow().date())


@compliance_bp.route("/teams/<int:team_id>/trend.svg")
@login_required(*READERS)
def team_trend_svg(team_id: int):
    team = _team_or_404(team_id)
    days = _trend_days()
    points = reports.trend(db.session, team_id=team.id, days=days, today=utcnow().date())
    svg = render_trend_svg(points, title=f"Compliance of {team.name}'s phones over the last {days} days")
    return Response(str(svg), mimetype="image/svg+xml")


@compliance_bp.route("/teams/<int:team_id>/current.csv")
@login_required(*READERS)
def team_current_csv(team_id: int):
    team = _team_or_404(team_id)
    return csv_response(f"compliance-{team.id}-current.csv", reports.CURRENT_HEADER,
                        reports.current_rows(db.session, _team_devices(team)))


@compliance_bp.route("/teams/<int:team_id>/history.csv")
@login_required(*READERS)
def team_history_csv(team_id: int):
    team = _team_or_404(team_id)
    since = utcnow().date() - timedelta(days=_trend_days())
    return csv_response(f"compliance-{team.id}-history.csv", reports.HISTORY_HEADER,
                        reports.history_rows(db.session, _team_devices(team), since=since))


@compliance_bp.route("/current.csv")
@login_required(Role.ADMIN.value, Role.AUDITOR.value)
def all_current_csv():
    return csv_response("compliance-current.csv", reports.CURRENT_HEADER,
                        reports.current_rows(db.session, access.devices_query(current_user())))


@compliance_bp.route("/history.csv")
@login_required(Role.ADMIN.value, Role.AUDITOR.value)
def all_history_csv():
    since = utcnow().date() - timedelta(days=_trend_days())
    return csv_response("compliance-history.csv", reports.HISTORY_HEADER,
                        reports.history_rows(db.session, access.devices_query(current_user()), since=since))


@compliance_bp.route("/devices/<int:device_id>")
@login_required(*READERS)
def device(device_id: int):
    device = db.session.get(Device, device_id)
    if device is None or not access.can_see_device(db.session, current_user(), device):
        abort(404)  # not "forbidden": a manager need not learn which phone ids exist elsewhere
    today = utcnow().date()
    return render_template(
        "compliance/device.html",
        device=device,
        rule_states=reports.device_rule_states(db.session, device.id),
        latest=reports.latest_results(db.session, device.id),
        history=reports.device_history(db.session, device.id, days=365, today=today),
    )


@compliance_bp.route("/rules", methods=["GET", "POST"])
@login_required(Role.ADMIN.value, Role.AUDITOR.value)
def rules():
    """Compliance rule versions; administrators publish a new version here (auditors read)."""
    user = current_user()
    current = rules_versions.current_version(db.session)
    document = current.document if current else rules_versions.default_document()
    comment = ""
    errors: list[str] = []
    if request.method == "POST":
        if user.role != Role.ADMIN.value:
            abort(403)
        document = request.form.get("document", "")
        comment = request.form.get("comment", "")
        try:
            row = rules_versions.publish_version(db.session, document, Actor.for_user(user), comment=comment)
        except InvalidInput as exc:
            db.session.rollback()
            errors = [message for messages in exc.errors.values() for message in messages] or [exc.message]
        else:
            db.session.commit()
            flash(f"Compliance rules version {row.version} published. The next sweep uses it.")
            return redirect(url_for("compliance_web.rules"))
    versions = db.session.scalars(select(ComplianceRulesVersion).order_by(ComplianceRulesVersion.version.desc()).limit(50)).all()
    in_force = current.document if current else rules_versions.default_document()
    return render_template("compliance/rules.html", versions=versions, document=document, comment=comment,
                           errors=errors, can_publish=user.role == Role.ADMIN.value,
                           table=_rules_table(in_force)), (400 if errors else 200)


def _rules_table(document: str) -> list[dict]:
    """The rules in force, one row each, in words (the YAML stays behind "Edit")."""
    try:
        parsed = rules_versions.parse_document(document)
    except InvalidInput:
        return []  # a stored version that no longer parses: the YAML below still shows it
    rows = []
    for name, rule in parsed.rules.items():
        spec = KNOWN_RULES.get(name)
        on_failure = rule.on_failure
        actions = [text for wanted, text in (
            (on_failure.mark, "marked non-compliant"), (on_failure.email_manager, "manager emailed"),
            (on_failure.email_holder, "holder emailed"), (on_failure.suspend, "approval suspended"),
            (on_failure.escalate_after_days is not None,
             f"information governance told after {on_failure.escalate_after_days} days"
             if on_failure.escalate_after_days else "information governance told at once"),
        ) if wanted]
        rows.append({"rule": name, "title": spec.title if spec else name.replace("_", " ").capitalize(),
                     "description": rule.description, "enabled": rule.enabled, "severity": rule.severity,
                     "roles": ", ".join("staff phones" if role == "individual" else "Broadcast phones" for role in rule.roles),
                     "grace": "none" if rule.grace_days == 0 else f"{rule.grace_days} day{'s' if rule.grace_days != 1 else ''}",
                     "actions": "; ".join(actions) or "recorded only",
                     "params": ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in rule.params.items())})
    return rows


@compliance_bp.route("/rules/<int:version>")
@login_required(Role.ADMIN.value, Role.AUDITOR.value)
def rules_version(version: int):
    row = rules_versions.get_version(db.session, version)
    if row is None:
        abort(404)
    return Response(row.document, mimetype="text/plain")
