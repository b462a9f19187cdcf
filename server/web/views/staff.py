"""Staff (phone holders) with their training and acknowledgement status; administrators add staff and users.

A new user gets a one-time password shown once on the page and must change it at first login.
"""

from __future__ import annotations

from flask import render_template, request
from sqlalchemy import select

from server.extensions import db
from server.models import Acknowledgement, Role, StaffMember, Team, User, utcnow
from server.services import access, passwords, people, training
from server.services.actor import Actor
from server.services.errors import ServiceError
from server.services.policy import current_policy
from server.web.auth import current_user, login_required
from server.web.forms import DateParts, FormErrors, parse_date
from server.web.presentation import ROLE_NAMES
from server.url_converters import parse_id
from server.web.views import pages_bp

PAGE_SIZE = 50
STAFF_FIELDS = {"email": "email", "name": "name", "team": "team", "training_completed_on": "training"}
USER_FIELDS = {"email": "email", "role": "role", "team": "team"}


@pages_bp.get("/staff")
@login_required(Role.ADMIN.value, Role.MANAGER.value, Role.AUDITOR.value)
def staff():
    user = current_user()
    page = db.paginate(access.staff_query(user).order_by(StaffMember.name, StaffMember.id),
                       per_page=PAGE_SIZE, max_per_page=PAGE_SIZE, error_out=False)
    policy = current_policy(db.session)
    acknowledged: set[int] = set()
    ids = [member.id for member in page.items]
    if policy is not None and ids:
        acknowledged = set(db.session.scalars(select(Acknowledgement.staff_member_id).where(
            Acknowledgement.policy_version_id == policy.id, Acknowledgement.staff_member_id.in_(ids))))
    today, valid_days = utcnow().date(), training.valid_days()
    trained = {member.id for member in page.items if training.is_current(member.training_completed_on, today, valid_days)}
    return render_template("staff/list.html", page=page, policy=policy, acknowledged=acknowledged, trained=trained)


def _team_items(selected: str) -> list[dict]:
    teams = db.session.scalars(select(Team).order_by(Team.name)).all()
    return [{"value": "", "text": "Choose a team"}] + [
        {"value": str(team.id), "text": f"{team.name} ({team.service.name})", "selected": selected == str(team.id)}
        for team in teams
    ]


def _team_from(form, errors: FormErrors, required: bool) -> Team | None:
    value = form.get("team", "")
    team_id = parse_id(value)
    team = db.session.get(Team, team_id) if team_id is not None else None
    if team is None and (required or value):
        errors.add("team", "Select a team")
    return team


@pages_bp.route("/staff/new", methods=["GET", "POST"])
@login_required(Role.ADMIN.value)
def staff_new():
    errors = FormErrors()
    form = request.form
    training = DateParts.from_form(form, "training")
    added = None
    if request.method == "POST":
        team = _team_from(form, errors, required=True)
        training_on = None
        if training.day or training.month or training.year:
            training_on, problem = parse_date(training, "the training completion date")
            if problem:
                errors.add("training", problem)
        if not errors:
            try:
                added = people.add_staff(db.session, form.get("email", ""), form.get("name", ""), team,
                                         Actor.for_user(current_user()), training_completed_on=training_on)
                db.session.commit()
            except ServiceError as exc:
                db.session.rollback()
                errors.extend_from_service(exc.errors, STAFF_FIELDS)
                if not errors:
                    errors.add("email", exc.message)
    status = 400 if errors else 200
    return render_template("staff/new.html", errors=errors, form={} if added else form,
                           training=DateParts("", "", "") if added else training,
                           team_items=_team_items("" if added else form.get("team", "")), added=added), status


@pages_bp.get("/users")
@login_required(Role.ADMIN.value, Role.AUDITOR.value)
def users():
    rows = db.session.scalars(select(User).order_by(User.email)).all()
    return render_template("staff/users.html", users=rows, role_names=ROLE_NAMES, now=utcnow())


@pages_bp.route("/users/new", methods=["GET", "POST"])
@login_required(Role.ADMIN.value)
def user_new():
    errors = FormErrors()
    form = request.form
    created = None
    one_time_password = None
    if request.method == "POST":
        role = form.get("role", "")
        if role not in ROLE_NAMES:
            errors.add("role", "Select the user's role")
        team = _team_from(form, errors, required=role == Role.MANAGER.value)
        if not errors:
            one_time_password = passwords.generate_password()
            try:
                created = people.add_user(db.session, form.get("email", ""), role, Actor.for_user(current_user()),
                                          team=team, password=one_time_password, must_change_password=True)
                db.session.commit()
            except ServiceError as exc:
                db.session.rollback()
                one_time_password = None
                errors.extend_from_service(exc.errors, USER_FIELDS)
                if not errors:
                    errors.add("email", exc.message)
    status = 400 if errors else 200
    response = render_template("staff/user_new.html", errors=errors, form={} if created else form,
                               team_items=_team_items("" if created else form.get("team", "")),
                               role_names=ROLE_NAMES, created=created, one_time_password=one_time_password)
    return response, status


