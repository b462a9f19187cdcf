"""`phonegate user add ...` (people who log in) and `phonegate staff add ...` (people who hold phones)."""

from __future__ import annotations

import sys
from datetime import date

import click

from phonegate.core.errors import BadInput
from server.commands import command_app
from server.commands.actor import acting_user_option, command_actor

ROLES = ("admin", "manager", "it", "auditor")


@click.group()
def user() -> None:
    """People who log in: admins, managers, IT staff and auditors."""


@user.command("add")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(ROLES), help="What the user may do.")
@click.option("--team", "team_name", help="Team name (required for managers).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (one line).")
@acting_user_option
def add_user(email: str, role: str, team_name: str | None, password_stdin: bool, acting_as: str | None) -> None:
    """Add a user who logs in with EMAIL.

    Without --password-stdin the user gets a one-time password, printed once, to change at first login.
    """
    from server.extensions import db
    from server.services import org, passwords, people, unit_of_work

    password = _read_password() if password_stdin else None
    if password is not None:
        passwords.check_new_password(password)  # refuse before touching the database
    with command_app():
        with unit_of_work(db.session) as session:
            actor = command_actor(session, acting_as)
            team_obj = org.team_by_name(session, team_name) if team_name else None
            one_time = None if password is not None else passwords.generate_password()
            created = people.add_user(
                session, email, role, actor, team=team_obj, password=password or one_time,
                must_change_password=password is None,
            )
        click.echo(f"Added user {created.id} ({role}).")
        if one_time is not None:
            click.echo(f"One-time password: {one_time} (they must change it after logging in)")


def _read_password() -> str:
    if sys.stdin is None:
        raise BadInput("--password-stdin was given but there is no standard input.")
    line = sys.stdin.readline()
    password = line.rstrip("\r\n")
    if not password.strip():
        raise BadInput("The password read from standard input is empty.")
    return password


@click.group()
def staff() -> None:
    """Staff members who hold phones (they need no login)."""


@staff.command("add")
@click.argument("email")
@click.option("--name", required=True, help="Full name, as the manager knows them.")
@click.option("--team", "team_name", required=True, help="Team name.")
@click.option("--training-completed", "training", metavar="YYYY-MM-DD",
              help="Date the data-protection training was completed.")
@acting_user_option
def add_staff(email: str, name: str, team_name: str, training: str | None, acting_as: str | None) -> None:
    """Add a staff member who may hold a work phone."""
    from server.extensions import db
    from server.services import org, people, unit_of_work

    completed = _parse_date(training) if training else None
    with command_app():
        with unit_of_work(db.session) as session:
            actor = command_actor(session, acting_as)
            team_obj = org.team_by_name(session, team_name)
            created = people.add_staff(session, email, name, team_obj, actor, training_completed_on=completed)
        click.echo(f"Added staff member {created.id}.")


def _parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise BadInput(f"--training-completed must be a date as YYYY-MM-DD, not {value!r}.") from None
