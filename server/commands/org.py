"""`phonegate service add NAME` and `phonegate team add NAME --service NAME`."""

from __future__ import annotations

import click

from server.commands import command_app


@click.group()
def service() -> None:
    """Services (e.g. Rights and Participation): each has teams and at most one Broadcast phone."""


@service.command("add")
@click.argument("name")
def add_service(name: str) -> None:
    """Add a service called NAME."""
    from server.extensions import db
    from server.services import org, unit_of_work
    from server.services.actor import Actor

    with command_app():
        with unit_of_work(db.session) as session:
            created = org.add_service(session, name, Actor.cli())
        click.echo(f"Added service {created.id}: {created.name}")


@click.group()
def team() -> None:
    """Teams: each belongs to one service and has managers who confirm enrolments."""


@team.command("add")
@click.argument("name")
@click.option("--service", "service_name", required=True, help="Name of the service the team belongs to.")
def add_team(name: str, service_name: str) -> None:
    """Add a team called NAME to a service."""
    from server.extensions import db
    from server.services import org, unit_of_work
    from server.services.actor import Actor

    with command_app():
        with unit_of_work(db.session) as session:
            parent = org.service_by_name(session, service_name)
            created = org.add_team(session, name, parent, Actor.cli())
        click.echo(f"Added team {created.id}: {created.name}")
