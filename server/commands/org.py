"""`phonegate service add NAME` and `phonegate team add NAME --service NAME`."""

from __future__ import annotations

import click

from server.commands import command_app
from server.commands.actor import acting_user_option, command_actor


@click.group()
def service() -> None:
    """Services (e.g. Rights and Participation): each has teams and at most one Broadcast phone."""


@service.command("add")
@click.argument("name")
@acting_user_option
def add_service(name: str, acting_as: str | None) -> None:
    """Add a service called NAME."""
    from server.extensions import db
    from server.services import org, unit_of_work

    with command_app():
        with unit_of_work(db.session) as session:
            created = org.add_service(session, name, command_actor(session, acting_as))
        click.echo(f"Added service {created.id}: {created.name}")


@click.group()
def team() -> None:
    """Teams: each belongs to one service and has managers who confirm enrolments."""


@team.command("add")
@click.argument("name")
@click.option("--service", "service_name", required=True, help="Name of the service the team belongs to.")
@acting_user_option
def add_team(name: str, service_name: str, acting_as: str | None) -> None:
    """Add a team called NAME to a service."""
    from server.extensions import db
    from server.services import org, unit_of_work

    with command_app():
        with unit_of_work(db.session) as session:
            actor = command_actor(session, acting_as)
            parent = org.service_by_name(session, service_name)
            created = org.add_team(session, name, parent, actor)
        click.echo(f"Added team {created.id}: {created.name}")
